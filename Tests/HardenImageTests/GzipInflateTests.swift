import Foundation
import HardenArchive
import HardenTestSupport
import Testing

/// gzip layers are inflated by ISA-L as they stream: the same bytes zlib gives, whatever the
/// chunking, every member of the stream, and a clear error for anything else.
@Suite struct GzipInflateTests {
    /// Text that compresses well, then bytes that hardly compress: several deflate blocks.
    let plain: Data = {
        var data = Data(String(repeating: "a layer is a tar, compressed or not\n", count: 30_000).utf8)
        data.append(contentsOf: (0..<400_000).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 13) })
        return data
    }()

    func inflate(_ data: Data, chunk: Int = 1 << 20) throws(ArchiveError) -> Data {
        let source = GzipInflateSource(MemorySource(data, chunkSize: chunk), name: "blob")
        var output = Data()
        while true {
            let bytes = try source.nextChunk()
            if bytes.isEmpty { return output }
            output.append(contentsOf: bytes)
        }
    }

    func error(_ data: Data) -> String? {
        do {
            _ = try inflate(data)
            return nil
        } catch {
            return error.description
        }
    }

    @Test(arguments: [1, 7, 4096, 1 << 20])
    func inflatesGnuGzipAndLibdeflateAlike(chunk: Int) throws {
        let gnu = try runToolWaiting("/bin/gzip", ["-c", "-6"], input: plain)
        let libdeflate = try GzipCompressor(level: 3).compress(plain)
        #expect(try inflate(gnu, chunk: chunk) == plain)
        #expect(try inflate(libdeflate, chunk: chunk) == plain)
    }

    @Test func readsEveryMember() throws {
        let first = try GzipCompressor(level: 1).compress(plain)
        let second = try GzipCompressor(level: 9).compress(Data("tail\n".utf8))
        let empty = try GzipCompressor(level: 6).compress(Data())
        #expect(try inflate(first + empty + second, chunk: 1000) == plain + Data("tail\n".utf8))
    }

    /// A member's header that starts in the last bytes of a 1 MiB-sized read is gathered with
    /// the whole next read, which is more than a header may be: that is no error.
    @Test func aHeaderSplitAcrossLargeReadsIsNoError() throws {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let noise = Data(
            (0..<1_200_000).map { _ in
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                return UInt8(truncatingIfNeeded: state)
            })
        let first = try GzipCompressor(level: 1).compress(noise)
        let second = try GzipCompressor(level: 1).compress(plain)
        #expect(first.count > GzipInflateSource.headerLimit)
        #expect(try inflate(first + second + first, chunk: first.count + 3) == noise + plain + noise)
    }

    /// FEXTRA, FNAME, FCOMMENT and FHCRC fields are skipped, also when a header arrives in
    /// pieces (ISA-L alone loses the flags then) and in a later member.
    @Test(arguments: [1, 5, 13, 4096, 1 << 20])
    func headerFieldsAreSkipped(chunk: Int) throws {
        let stream = try GzipCompressor(level: 3).compress(plain)
        var header = Data(stream.prefix(10))
        header[3] = 0x02 | 0x04 | 0x08 | 0x10
        header += Data([4, 0, 0xAA, 0xBB, 0xCC, 0xDD])
        header += Data("layer.tar\u{0}built by a test\u{0}".utf8)
        let crc = Self.crc32(header)
        header += Data([UInt8(crc & 0xFF), UInt8(crc >> 8 & 0xFF)])  // FHCRC: the CRC-32's low 16 bits
        let member = header + stream.dropFirst(10)
        #expect(try runToolWaiting("/bin/gzip", ["-dc"], input: member) == plain)
        #expect(try inflate(member + member, chunk: chunk) == plain + plain)
    }

    static func crc32(_ data: Data) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in data {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    @Test func emptyInputIsTruncated() throws {
        let message = try #require(error(Data()))
        #expect(message.contains("blob") && message.contains("truncated"), "\(message)")
    }

    @Test func truncatedStreamIsAnError() throws {
        let stream = try GzipCompressor(level: 3).compress(plain)
        for length in [5, 10, stream.count / 2, stream.count - 4] {
            let message = try #require(error(stream.prefix(length)), "\(length) bytes")
            #expect(message.contains("truncated"), "\(length): \(message)")
        }
    }

    @Test func wrongChecksumIsAnError() throws {
        var stream = try GzipCompressor(level: 3).compress(plain)
        stream[stream.count - 8] ^= 0xFF
        let message = try #require(error(stream))
        #expect(message.contains("CRC-32"), "\(message)")
    }

    @Test func damagedDeflateDataIsAnError() throws {
        var stream = try GzipCompressor(level: 3).compress(plain)
        for offset in stride(from: 20, to: 400, by: 37) { stream[offset] ^= 0x5A }
        #expect(error(stream) != nil)
    }

    @Test func bytesAfterTheLastMemberAreAnError() throws {
        let stream = try GzipCompressor(level: 3).compress(plain)
        let message = try #require(error(stream + Data("garbage".utf8)))
        #expect(message.contains("after the end of its gzip stream"), "\(message)")
    }

    @Test func notGzipIsAnError() throws {
        let message = try #require(error(Data(count: 4096)))
        #expect(message.contains("not a valid gzip stream"), "\(message)")
    }
}
