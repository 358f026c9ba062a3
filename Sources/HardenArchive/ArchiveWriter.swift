import CArchive
import Crypto
import Foundation

/// Writes a pax tar stream, optionally gzip or zstd compressed, into memory or a file.
///
/// Output is deterministic for the same entries: no timestamps or names in the
/// gzip header, fixed compression levels, no owner names, access or change times
/// (only what `ArchiveEntry` carries is written; extended attributes in name order).
public final class ArchiveWriter {
    public enum Compression: String, Sendable, CaseIterable { case none, gzip, zstd }

    private var handle: OpaquePointer?
    private let sink: DataSink
    /// For files added from a descriptor; allocated on first use, never copied (an array in a
    /// lazy property was copied whole on every read).
    private var readBuffer: UnsafeMutableRawBufferPointer?

    /// With `keepsBytes` false the output is only hashed (see `digest()`), not kept; with a
    /// `file` descriptor it is written there as it is made (the caller closes it).
    public init(compression: Compression = .none, keepsBytes: Bool = true, file: Int32? = nil) throws(ArchiveError) {
        sink = DataSink(keepsBytes: keepsBytes && file == nil, file: file)
        guard let handle = archive_write_new() else {
            throw ArchiveError(source: "archive writer", message: "libarchive could not allocate a writer", code: .io)
        }
        self.handle = handle
        var setup = [archive_write_set_format_pax_restricted(handle), archive_write_set_bytes_in_last_block(handle, 1)]
        switch compression {
        case .none: break
        case .gzip:
            setup.append(archive_write_add_filter_gzip(handle))
            setup.append(archive_write_set_filter_option(handle, "gzip", "timestamp", nil))
            setup.append(archive_write_set_filter_option(handle, "gzip", "compression-level", "6"))
        case .zstd:
            setup.append(archive_write_add_filter_zstd(handle))
            setup.append(archive_write_set_filter_option(handle, "zstd", "compression-level", "3"))
        }
        setup.append(
            archive_write_open2(handle, Unmanaged.passUnretained(sink).toOpaque(), nil, writeToSink, nil, nil))
        if setup.contains(where: { $0 != ARCHIVE_OK }) { try fail("setup") }
    }

    deinit {
        archive_write_free(handle)
        readBuffer?.deallocate()
    }

    /// Adds one entry; `data` is written for regular files (and for hardlinks, when given).
    public func add(_ entry: ArchiveEntry, data: Data = Data()) throws(ArchiveError) {
        let carriesData = entry.type == .regular || (entry.type == .hardlink && !data.isEmpty)
        try writeHeader(entry, size: carriesData ? Int64(data.count) : 0)
        if carriesData, !data.isEmpty {
            let written = data.withUnsafeBytes { archive_write_data(handle, $0.baseAddress, $0.count) }
            guard written == data.count else { try fail(entry.path) }
        }
    }

    /// Adds a regular file of `entry.size` bytes read from `file`, a piece at a time. A file that
    /// is shorter or longer than that (it changed meanwhile) is an error, not a padded or cut entry.
    public func add(_ entry: ArchiveEntry, contentsOf file: Int32) throws(ArchiveError) {
        func failure(_ message: String) -> ArchiveError {
            ArchiveError(source: "archive writer", entry: entry.path, message: message, code: .io)
        }
        try writeHeader(entry, size: entry.size)
        let buffer = readBuffer ?? UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        readBuffer = buffer
        var left = entry.size
        while true {
            // One byte past the size, to see a file that grew.
            let want = left > 0 ? min(buffer.count, Int(left)) : 1
            let count = read(file, buffer.baseAddress, want)
            let code = errno
            if count < 0 && code == EINTR { continue }
            if count < 0 { throw failure(String(cString: strerror(code))) }
            if left == 0 {
                guard count == 0 else { throw failure("the file grew while it was read") }
                return
            }
            guard count > 0 else { throw failure("the file shrank by \(left) bytes while it was read") }
            guard archive_write_data(handle, buffer.baseAddress, count) == count else { try fail(entry.path) }
            left -= Int64(count)
        }
    }

    /// The extended attributes of `path` (not followed when a symlink) that container images
    /// carry, as the docker client sends them: `security.capability` only.
    public static func imageXattrs(of path: String) -> [String: Data] {
        var value = [UInt8](repeating: 0, count: 256)
        var count = lgetxattr(path, "security.capability", &value, value.count)
        guard count > 0 else { return [:] }
        // Like the client: a revision 3 value (set in a user namespace, with its root ID) goes as
        // revision 2, whose 20 bytes mean the same outside that namespace.
        if count == 24 && value[3] == 3 {
            value[3] = 2
            count = 20
        }
        return ["security.capability": Data(value[..<count])]
    }

    private func writeHeader(_ entry: ArchiveEntry, size: Int64) throws(ArchiveError) {
        guard let item = archive_entry_new() else { throw ArchiveError(source: "archive writer", message: "out of memory") }
        defer { archive_entry_free(item) }
        archive_entry_set_pathname_utf8(item, entry.path)
        let fileType: UInt32
        switch entry.type {
        case .regular, .hardlink, .other: fileType = HARDEN_AE_IFREG
        case .directory: fileType = HARDEN_AE_IFDIR
        case .symlink: fileType = HARDEN_AE_IFLNK
        case .characterDevice: fileType = HARDEN_AE_IFCHR
        case .blockDevice: fileType = HARDEN_AE_IFBLK
        case .fifo: fileType = HARDEN_AE_IFIFO
        case .socket: fileType = HARDEN_AE_IFSOCK
        }
        archive_entry_set_filetype(item, fileType)
        archive_entry_set_perm(item, mode_t(entry.mode & 0o7777))
        archive_entry_set_uid(item, entry.uid)
        archive_entry_set_gid(item, entry.gid)
        archive_entry_set_mtime(item, time_t(entry.mtime), 0)
        if let target = entry.symlinkTarget { archive_entry_set_symlink_utf8(item, target) }
        if let target = entry.hardlinkTarget { archive_entry_set_hardlink_utf8(item, target) }
        if entry.type == .characterDevice || entry.type == .blockDevice {
            archive_entry_set_rdevmajor(item, dev_t(entry.deviceMajor))
            archive_entry_set_rdevminor(item, dev_t(entry.deviceMinor))
        }
        for (name, value) in entry.xattrs.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
            value.withUnsafeBytes { archive_entry_xattr_add_entry(item, name, $0.baseAddress, $0.count) }
        }
        archive_entry_set_size(item, size)
        guard archive_write_header(handle, item) == ARCHIVE_OK else { try fail(entry.path) }
    }

    /// Closes the stream and returns every byte written (nothing when the bytes were not kept).
    @discardableResult
    public func finish() throws(ArchiveError) -> Data {
        guard archive_write_close(handle) == ARCHIVE_OK else { try fail("closing") }
        return sink.data
    }

    /// `sha256:<hex>` of every byte written so far.
    public func digest() -> String {
        "sha256:" + sink.hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    private func fail(_ what: String) throws(ArchiveError) -> Never {
        let message = archive_error_string(handle).map { String(cString: $0) } ?? "unknown error"
        throw ArchiveError(source: "archive writer", entry: what, message: message, code: .io)
    }
}

private final class DataSink {
    let keepsBytes: Bool
    let file: Int32?
    var data = Data()
    var hasher = SHA256()
    init(keepsBytes: Bool, file: Int32?) {
        self.keepsBytes = keepsBytes
        self.file = file
    }
}

private func writeToSink(
    _ archive: OpaquePointer?, _ context: UnsafeMutableRawPointer?, _ buffer: UnsafeRawPointer?, _ length: Int
) -> la_ssize_t {
    guard let context, let buffer else { return -1 }
    let sink = Unmanaged<DataSink>.fromOpaque(context).takeUnretainedValue()
    let bytes = UnsafeRawBufferPointer(start: buffer, count: length)
    sink.hasher.update(bufferPointer: bytes)
    if sink.keepsBytes { sink.data.append(contentsOf: bytes) }
    if let file = sink.file, !writeAll(file, buffer, length) { return -1 }
    return la_ssize_t(length)
}
