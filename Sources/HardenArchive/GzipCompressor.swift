import CDeflate
import Foundation

/// Compresses a whole buffer into one gzip member (RFC 1952) with libdeflate.
///
/// The same input, level and libdeflate version give the same bytes (another version may
/// compress differently): the header has no file name, modification time 0 and OS byte 255
/// ("unknown"). A compressor serves one thread at a time.
public struct GzipCompressor: ~Copyable {
    private let handle: OpaquePointer

    /// `level`: 0 (stored, no compression) to 12 (smallest, slowest); zlib's scale up to 9.
    public init(level: Int) throws(ArchiveError) {
        guard (0...12).contains(level) else {
            throw ArchiveError(source: "gzip compressor", message: "level \(level) is outside 0...12", code: .limit)
        }
        guard let handle = libdeflate_alloc_compressor(Int32(level)) else {
            throw ArchiveError(source: "gzip compressor", message: "libdeflate could not allocate a compressor", code: .io)
        }
        self.handle = handle
    }

    deinit {
        libdeflate_free_compressor(handle)
    }

    /// The gzip stream of `input`, made in one call.
    public func compress(_ input: Data) throws(ArchiveError) -> Data {
        var output = Data(count: libdeflate_gzip_compress_bound(handle, input.count))
        let written = input.withUnsafeBytes { source in
            output.withUnsafeMutableBytes { target in
                libdeflate_gzip_compress(handle, source.baseAddress, source.count, target.baseAddress, target.count)
            }
        }
        // The buffer is the worst case for this input, so 0 (did not fit) cannot happen.
        guard written > 0 else {
            throw ArchiveError(
                source: "gzip compressor", message: "libdeflate produced no output for \(input.count) bytes", code: .io)
        }
        output.count = written
        return output
    }
}
