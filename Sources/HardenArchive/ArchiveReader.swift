import CArchive
import Foundation

/// A libarchive failure: what harden was reading and libarchive's message.
public struct ArchiveError: Error, Sendable, CustomStringConvertible {
    public var source: String
    public var entry: String?
    public var message: String

    public init(source: String, entry: String? = nil, message: String) {
        self.source = source
        self.entry = entry
        self.message = message
    }

    public var description: String {
        "\(source)" + (entry.map { ": entry \($0)" } ?? "") + ": \(message)"
    }
}

/// The kind of a tar entry.
public enum EntryType: Sendable, Equatable {
    case regular, directory, symlink, characterDevice, blockDevice, fifo, socket, other(UInt32)

    init(mode: UInt32) {
        switch mode & HARDEN_AE_IFMT {
        case HARDEN_AE_IFREG: self = .regular
        case HARDEN_AE_IFDIR: self = .directory
        case HARDEN_AE_IFLNK: self = .symlink
        case HARDEN_AE_IFCHR: self = .characterDevice
        case HARDEN_AE_IFBLK: self = .blockDevice
        case HARDEN_AE_IFIFO: self = .fifo
        case HARDEN_AE_IFSOCK: self = .socket
        default: self = .other(mode & HARDEN_AE_IFMT)
        }
    }
}

/// One entry's header, copied out of libarchive at once.
public struct ArchiveEntry: Sendable, Equatable {
    public var path: String
    public var type: EntryType
    public var size: Int64
    public var mode: UInt32
    public var uid: Int64
    public var gid: Int64
    public var symlinkTarget: String?
    public var hardlinkTarget: String?
}

/// Reads a tar stream (plain, gzip or zstd) entry by entry, never touching disk.
///
/// Only the tar format and the gzip, zstd and uncompressed filters are enabled.
/// A warning from libarchive is treated as an error.
public final class ArchiveReader {
    private var handle: OpaquePointer?
    public let source: String
    private var current: String?

    /// Opens the archive at `path`.
    public init(path: String) throws(ArchiveError) {
        source = path
        handle = try Self.makeHandle(source: path)
        try check(archive_read_open_filename(handle, path, 1 << 16))
    }

    deinit {
        archive_read_free(handle)
    }

    private static func makeHandle(source: String) throws(ArchiveError) -> OpaquePointer {
        guard let handle = archive_read_new() else {
            throw ArchiveError(source: source, message: "libarchive could not allocate a reader")
        }
        let setup = [
            archive_read_support_format_tar(handle), archive_read_support_filter_gzip(handle),
            archive_read_support_filter_zstd(handle), archive_read_support_filter_none(handle),
        ]
        if let failed = setup.first(where: { $0 != ARCHIVE_OK }) {
            let message = String(cString: archive_error_string(handle))
            archive_read_free(handle)
            throw ArchiveError(source: source, message: "libarchive setup failed (\(failed)): \(message)")
        }
        return handle
    }

    /// The next entry's header, or nil at the end of the archive.
    public func next() throws(ArchiveError) -> ArchiveEntry? {
        var entry: OpaquePointer?
        let status = archive_read_next_header(handle, &entry)
        if status == ARCHIVE_EOF { return nil }
        try check(status)
        guard let entry, let rawPath = archive_entry_pathname(entry) else {
            throw ArchiveError(source: source, message: "an entry has no name")
        }
        let path = String(cString: rawPath)
        current = path
        return ArchiveEntry(
            path: path,
            type: EntryType(mode: UInt32(archive_entry_filetype(entry))),
            size: archive_entry_size(entry),
            mode: UInt32(archive_entry_perm(entry)),
            uid: archive_entry_uid(entry),
            gid: archive_entry_gid(entry),
            symlinkTarget: archive_entry_symlink(entry).map { String(cString: $0) },
            hardlinkTarget: archive_entry_hardlink(entry).map { String(cString: $0) })
    }

    /// Reads the current entry's data, refusing more than `limit` bytes.
    public func readData(limit: Int) throws(ArchiveError) -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { archive_read_data(handle, $0.baseAddress, $0.count) }
            if count == 0 { return data }
            if count < 0 { try check(Int32(count)) }
            data.append(contentsOf: buffer[0..<count])
            if data.count > limit {
                throw ArchiveError(source: source, entry: current, message: "larger than the \(limit)-byte limit for this entry")
            }
        }
    }

    private func check(_ status: Int32) throws(ArchiveError) {
        guard status != ARCHIVE_OK else { return }
        let message = archive_error_string(handle).map { String(cString: $0) } ?? "status \(status)"
        let kind = status == ARCHIVE_WARN ? "warning treated as an error" : "error"
        throw ArchiveError(source: source, entry: current, message: "libarchive \(kind): \(message)")
    }
}
