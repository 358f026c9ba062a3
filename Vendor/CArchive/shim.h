#pragma once
#include <archive.h>
#include <archive_entry.h>

// File-type macros Swift cannot import, re-exported as constants.
static const unsigned int HARDEN_AE_IFMT = AE_IFMT;
static const unsigned int HARDEN_AE_IFREG = AE_IFREG;
static const unsigned int HARDEN_AE_IFLNK = AE_IFLNK;
static const unsigned int HARDEN_AE_IFDIR = AE_IFDIR;
static const unsigned int HARDEN_AE_IFCHR = AE_IFCHR;
static const unsigned int HARDEN_AE_IFBLK = AE_IFBLK;
static const unsigned int HARDEN_AE_IFIFO = AE_IFIFO;
static const unsigned int HARDEN_AE_IFSOCK = AE_IFSOCK;

// archive_set_error is variadic, which Swift cannot call.
static inline void harden_archive_set_error(struct archive *a, int code, const char *message) {
    archive_set_error(a, code, "%s", message);
}

// Extended attributes of files on disk, for entries made from them (sys/xattr.h is not in Glibc's module).
#include <sys/xattr.h>
