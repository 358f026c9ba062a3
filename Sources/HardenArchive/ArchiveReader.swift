import CArchive
import Foundation

/// A failure while reading an archive: what was read, which entry, and why.
public struct ArchiveError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        case format, io, limit
    }
    public var source: String
    public var entry: String?
    public var message: String
    public var code: Code

    public init(source: String, entry: String? = nil, message: String, code: Code = .format) {
        self.source = source
        self.entry = entry
        self.message = message
        self.code = code
    }

    public var description: String {
        "\(source)" + (entry.map { ": entry \($0)" } ?? "") + ": \(message)"
    }
}

/// The kind of a tar entry.
public enum EntryType: Sendable, Equatable {
    case regular, directory, symlink, hardlink, characterDevice, blockDevice, fifo, socket, other(UInt32)

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
    /// Permission bits including setuid, setgid and sticky (`0o7777`).
    public var mode: UInt32
    public var uid: Int64
    public var gid: Int64
    public var mtime: Int64
    public var symlinkTarget: String?
    public var hardlinkTarget: String?
    public var deviceMajor: UInt32
    public var deviceMinor: UInt32
    /// Extended attributes (`security.capability`…), name → value.
    public var xattrs: [String: Data]

    public init(
        path: String, type: EntryType, size: Int64 = 0, mode: UInt32 = 0o644, uid: Int64 = 0, gid: Int64 = 0,
        mtime: Int64 = 0, symlinkTarget: String? = nil, hardlinkTarget: String? = nil, deviceMajor: UInt32 = 0,
        deviceMinor: UInt32 = 0, xattrs: [String: Data] = [:]
    ) {
        self.path = path
        self.type = type
        self.size = size
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.mtime = mtime
        self.symlinkTarget = symlinkTarget
        self.hardlinkTarget = hardlinkTarget
        self.deviceMajor = deviceMajor
        self.deviceMinor = deviceMinor
        self.xattrs = xattrs
    }
}

/// Reads a tar stream entry by entry, in memory, never touching disk.
///
/// Only the tar format and the gzip, zstd and uncompressed filters are enabled (and, for
/// Debian's indexes and packages alone, xz and the ar container).
/// `decompressOnly` uses libarchive's pass-through "raw" reader instead of tar:
/// it parses no structure and yields the filter's output as one stream, which
/// is how harden hashes a layer's uncompressed bytes (its diff_id) while a second
/// reader parses them as tar. A warning from libarchive is an error.
public final class ArchiveReader {
    public enum Mode: Sendable {
        /// Tar, plain or compressed.
        case tar
        /// Tar with no decompression (the output of `decompressOnly`).
        case plainTar
        /// No format: the decompressed stream as one entry.
        case decompressOnly
        /// Zip, read through its central directory (needs a file: a cut-off zip has none).
        case zip
        /// No format, like `decompressOnly`, for a Debian archive index (`Packages.xz`,
        /// `.gz`, `.zst` or plain): the only mode with the xz filter, which image layers never use.
        case debianIndex
        /// A `.deb`: the ar container, uncompressed, whose members are read as they come.
        case debianPackage
        /// A `.deb`'s `data.tar` or `control.tar`: tar, plain or compressed with xz, zstd or gzip.
        case debianTar
    }

    private var handle: OpaquePointer?
    public let name: String
    private var current: String?
    private let source: SourceBox?
    /// Data position within the current entry, and a hole still to be returned as zeros.
    private var position: Int64 = 0
    private var pendingGap: Int64 = 0
    private var pendingBlock: UnsafeRawBufferPointer?
    /// Where the current entry's bytes start in the file, when they lie there as they are
    /// (an uncompressed archive, not sparse): a reader can then `pread` them directly.
    public private(set) var dataOffset: Int64?

    /// Opens the archive file at `path` (seekable: skipping entries costs nothing).
    public init(path: String, mode: Mode = .tar) throws(ArchiveError) {
        name = path
        source = nil
        handle = try Self.makeHandle(name: path, mode: mode)
        try check(archive_read_open_filename(handle, path, 1 << 16))
    }

    /// Reads from `source`; `name` is used in errors (a layer digest, a file path).
    public init(source: ByteSource, name: String, mode: Mode = .tar) throws(ArchiveError) {
        self.name = name
        let box = SourceBox(source)
        self.source = box
        handle = try Self.makeHandle(name: name, mode: mode)
        let status = archive_read_open2(
            handle, Unmanaged.passUnretained(box).toOpaque(), nil, readFromSource, nil, nil)
        if status != ARCHIVE_OK, let failure = box.failure { throw failure }
        try check(status)
    }

    deinit {
        archive_read_free(handle)
    }

    /// libarchive converts names through the C locale; under plain "C" every non-ASCII
    /// name (a CA certificate, a translated file) would raise a warning. UTF-8 is exact.
    private static let utf8Locale: Bool = setlocale(LC_CTYPE, "C.UTF-8") != nil

    private static func makeHandle(name: String, mode: Mode) throws(ArchiveError) -> OpaquePointer {
        _ = utf8Locale
        guard let handle = archive_read_new() else {
            throw ArchiveError(source: name, message: "libarchive could not allocate a reader", code: .io)
        }
        var setup: [Int32]
        switch mode {
        case .decompressOnly, .debianIndex: setup = [archive_read_support_format_raw(handle)]
        case .zip: setup = [archive_read_support_format_zip_seekable(handle)]
        case .tar, .plainTar, .debianTar: setup = [archive_read_support_format_tar(handle)]
        case .debianPackage: setup = [archive_read_support_format_ar(handle)]
        }
        setup.append(archive_read_support_filter_none(handle))
        if mode == .tar || mode == .decompressOnly || mode == .debianIndex || mode == .debianTar {
            setup += [archive_read_support_filter_gzip(handle), archive_read_support_filter_zstd(handle)]
        }
        // In process (liblzma): an external xz program would make this ARCHIVE_WARN, refused below.
        if mode == .debianIndex || mode == .debianTar { setup.append(archive_read_support_filter_xz(handle)) }
        if let failed = setup.first(where: { $0 != ARCHIVE_OK }) {
            let message = archive_error_string(handle).map { String(cString: $0) } ?? "status \(failed)"
            archive_read_free(handle)
            throw ArchiveError(source: name, message: "libarchive setup failed: \(message)", code: .io)
        }
        return handle
    }

    /// The next entry's header, or nil at the end of the archive.
    public func next() throws(ArchiveError) -> ArchiveEntry? {
        var entry: OpaquePointer?
        let status = archive_read_next_header(handle, &entry)
        if status == ARCHIVE_EOF { return nil }
        if status == ARCHIVE_WARN, let entry, Self.harmlessWarning(handle, entry) {
            // A name libarchive could not convert to the C locale: the UTF-8 form below is exact.
        } else {
            try check(status)
        }
        guard let entry else { throw ArchiveError(source: name, message: "libarchive returned no entry") }
        guard let rawPath = archive_entry_pathname_utf8(entry) ?? archive_entry_pathname(entry) else {
            throw ArchiveError(source: name, message: "an entry has no name")
        }
        let path = String(cString: rawPath)
        current = path
        pendingGap = 0
        position = 0
        dataOffset =
            archive_filter_count(handle) == 1 && archive_filter_code(handle, 0) == ARCHIVE_FILTER_NONE
                && archive_entry_sparse_count(entry) == 0 && archive_entry_size_is_set(entry) != 0
            ? archive_filter_bytes(handle, 0) : nil
        let hardlink = (archive_entry_hardlink_utf8(entry) ?? archive_entry_hardlink(entry)).map { String(cString: $0) }
        let fileType = UInt32(archive_entry_filetype(entry))
        return ArchiveEntry(
            path: path,
            type: hardlink != nil ? .hardlink : EntryType(mode: fileType),
            size: archive_entry_size(entry),
            mode: UInt32(archive_entry_perm(entry)) & 0o7777,
            uid: archive_entry_uid(entry),
            gid: archive_entry_gid(entry),
            mtime: Int64(archive_entry_mtime(entry)),
            symlinkTarget: (archive_entry_symlink_utf8(entry) ?? archive_entry_symlink(entry)).map { String(cString: $0) },
            hardlinkTarget: hardlink,
            deviceMajor: UInt32(archive_entry_rdevmajor(entry)),
            deviceMinor: UInt32(archive_entry_rdevminor(entry)),
            xattrs: Self.xattrs(of: entry))
    }

    private static func xattrs(of entry: OpaquePointer) -> [String: Data] {
        guard archive_entry_xattr_reset(entry) > 0 else { return [:] }
        var xattrs: [String: Data] = [:]
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while archive_entry_xattr_next(entry, &name, &value, &size) == ARCHIVE_OK {
            guard let name else { continue }
            xattrs[String(cString: name)] = value.map { Data(bytes: $0, count: size) } ?? Data()
        }
        return xattrs
    }

    private static func harmlessWarning(_ handle: OpaquePointer?, _ entry: OpaquePointer) -> Bool {
        guard let message = archive_error_string(handle).map({ String(cString: $0) }) else { return false }
        return message.contains("can't be converted") && archive_entry_pathname_utf8(entry) != nil
    }

    /// The next block of the current entry's data (for the raw reader: of the whole stream),
    /// straight from libarchive's buffer; an empty buffer at the end. Holes of sparse entries
    /// come back as zeros.
    public func readBlock() throws(ArchiveError) -> UnsafeRawBufferPointer {
        if pendingGap > 0 { return zeros() }
        if let block = pendingBlock {
            pendingBlock = nil
            return block
        }
        var buffer: UnsafeRawPointer?
        var size = 0
        var offset: la_int64_t = 0
        var status = archive_read_data_block(handle, &buffer, &size, &offset)
        // An empty block that is not the end (zip's reader gives one where its read buffer
        // ends exactly at an entry's data): read on, or the entry would look empty.
        while status == ARCHIVE_OK, size == 0, offset <= position {
            status = archive_read_data_block(handle, &buffer, &size, &offset)
        }
        if status == ARCHIVE_EOF {
            if offset > position {  // a hole at the end
                pendingGap = offset - position
                return zeros()
            }
            return UnsafeRawBufferPointer(start: nil, count: 0)
        }
        try check(status)
        let block = UnsafeRawBufferPointer(start: buffer, count: size)
        if offset > position {
            pendingGap = offset - position
            pendingBlock = block
            position = offset + Int64(size)
            return zeros()
        }
        position += Int64(size)
        return block
    }

    private func zeros() -> UnsafeRawBufferPointer {
        let count = Int(min(pendingGap, Int64(Self.zeroBlock.count)))
        pendingGap -= Int64(count)
        return UnsafeRawBufferPointer(rebasing: Self.zeroBlock[..<count])
    }

    nonisolated(unsafe) private static let zeroBlock = UnsafeRawBufferPointer(
        UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16).initializeMemory(as: UInt8.self, repeating: 0))

    /// Reads the current entry's data, refusing more than `limit` bytes.
    public func readData(limit: Int) throws(ArchiveError) -> Data {
        var data = Data()
        while true {
            let block = try readBlock()
            if block.count == 0 { return data }
            if data.count + block.count > limit {
                throw ArchiveError(
                    source: name, entry: current, message: "larger than the \(limit)-byte limit for this entry", code: .limit)
            }
            data.append(contentsOf: block)
        }
    }

    private func check(_ status: Int32) throws(ArchiveError) {
        guard status != ARCHIVE_OK else { return }
        if let failure = source?.failure { throw failure }
        let message = archive_error_string(handle).map { String(cString: $0) } ?? "status \(status)"
        let kind = status == ARCHIVE_WARN ? "warning treated as an error" : "error"
        throw ArchiveError(source: name, entry: current, message: "libarchive \(kind): \(message)")
    }
}

/// Carries a source into libarchive's C read callback, and the source's own error back out.
private final class SourceBox {
    let source: ByteSource
    var failure: ArchiveError?
    init(_ source: ByteSource) { self.source = source }
}

private func readFromSource(
    _ archive: OpaquePointer?, _ context: UnsafeMutableRawPointer?, _ buffer: UnsafeMutablePointer<UnsafeRawPointer?>?
) -> la_ssize_t {
    guard let context, let buffer else { return -1 }
    let box = Unmanaged<SourceBox>.fromOpaque(context).takeUnretainedValue()
    do {
        let chunk = try box.source.nextChunk()
        buffer.pointee = chunk.baseAddress.map { UnsafeRawPointer($0) }
        return la_ssize_t(chunk.count)
    } catch {
        box.failure = error
        harden_archive_set_error(archive, EIO, error.message)
        return -1
    }
}

/// The current entry of an open reader, as a byte source for a nested reader.
public final class EntrySource: ByteSource {
    private let reader: ArchiveReader
    public init(_ reader: ArchiveReader) { self.reader = reader }
    public func nextChunk() throws(ArchiveError) -> UnsafeRawBufferPointer { try reader.readBlock() }
}
