import Crypto
import Foundation

/// A stream of bytes pulled in chunks; an empty chunk means the end.
///
/// The chunk stays valid until the next call. Sources nest: a layer blob is read
/// from an entry of the image tar, through a decompressor, into a tar reader.
public protocol ByteSource: AnyObject {
    func nextChunk() throws(ArchiveError) -> UnsafeRawBufferPointer
}

/// A file, or a range of it, read with `pread` into one reused buffer.
public final class FileSource: ByteSource {
    private let descriptor: Int32
    private var offset: Int64
    private var remaining: Int64?
    private let buffer: UnsafeMutableRawBufferPointer
    private let path: String

    public init(path: String, offset: Int64 = 0, length: Int64? = nil, bufferSize: Int = 1 << 20) throws(ArchiveError) {
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw ArchiveError(source: path, message: "cannot open: \(String(cString: strerror(errno)))")
        }
        self.path = path
        self.offset = offset
        remaining = length
        buffer = .allocate(byteCount: bufferSize, alignment: 16)
    }

    deinit {
        close(descriptor)
        buffer.deallocate()
    }

    public func nextChunk() throws(ArchiveError) -> UnsafeRawBufferPointer {
        var wanted = buffer.count
        if let remaining { wanted = Int(min(Int64(wanted), remaining)) }
        guard wanted > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        let count = pread(descriptor, buffer.baseAddress, wanted, off_t(offset))
        guard count >= 0 else {
            throw ArchiveError(source: path, message: "read failed at offset \(offset): \(String(cString: strerror(errno)))")
        }
        offset += Int64(count)
        if let remaining {
            if count == 0 {
                throw ArchiveError(source: path, message: "ends \(remaining) bytes early (truncated)")
            }
            self.remaining = remaining - Int64(count)
        }
        return UnsafeRawBufferPointer(start: buffer.baseAddress, count: count)
    }
}

/// Bytes held in memory (small documents, test fixtures).
public final class MemorySource: ByteSource {
    private let data: Data
    private var position = 0
    private let chunkSize: Int
    private var copy: UnsafeMutableRawBufferPointer

    public init(_ data: Data, chunkSize: Int = 1 << 20) {
        self.data = data
        self.chunkSize = max(1, chunkSize)
        copy = .allocate(byteCount: self.chunkSize, alignment: 16)
    }

    deinit { copy.deallocate() }

    public func nextChunk() throws(ArchiveError) -> UnsafeRawBufferPointer {
        let count = min(chunkSize, data.count - position)
        guard count > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        data.withUnsafeBytes { bytes in
            copy.baseAddress?.copyMemory(from: bytes.baseAddress! + position, byteCount: count)
        }
        position += count
        return UnsafeRawBufferPointer(start: copy.baseAddress, count: count)
    }
}

/// Reads the first chunk ahead so a caller can look at the stream's first bytes, then replays it.
public final class PeekingSource: ByteSource {
    private let inner: ByteSource
    private var first: UnsafeRawBufferPointer?
    /// The first chunk (valid until the next read).
    public let head: UnsafeRawBufferPointer

    public init(_ inner: ByteSource) throws(ArchiveError) {
        self.inner = inner
        head = try inner.nextChunk()
        first = head
    }

    public func nextChunk() throws(ArchiveError) -> UnsafeRawBufferPointer {
        if let first {
            self.first = nil
            return first
        }
        return try inner.nextChunk()
    }
}

/// Passes another source through, counting and hashing (sha256) every byte.
public final class HashingSource: ByteSource {
    private let inner: ByteSource
    private var hasher = SHA256()
    public private(set) var byteCount: Int64 = 0
    private let limit: Int64
    private let name: String

    /// Reading more than `limit` bytes fails (a blob longer than its descriptor says, a bomb).
    public init(_ inner: ByteSource, name: String, limit: Int64 = .max) {
        self.inner = inner
        self.name = name
        self.limit = limit
    }

    public func nextChunk() throws(ArchiveError) -> UnsafeRawBufferPointer {
        let chunk = try inner.nextChunk()
        byteCount += Int64(chunk.count)
        if byteCount > limit {
            throw ArchiveError(source: name, message: "is larger than \(limit) bytes (limit)", code: .limit)
        }
        hasher.update(bufferPointer: chunk)
        return chunk
    }

    /// Reads whatever the consumer left unread, so the hash covers every byte.
    public func drain() throws(ArchiveError) {
        while try nextChunk().count > 0 {}
    }

    /// `sha256:<hex>` of everything passed through so far.
    public func digest() -> String {
        "sha256:" + hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
