import Foundation
import HardenArchive
import HardenImage
import HardenTestSupport
import Testing

/// Gzip layers are the plain tar compressed whole by libdeflate: a standard stream, the same bytes every time.
@Suite struct GzipLayerTests {
    /// Enough for several deflate blocks: text that compresses well and bytes that hardly compress.
    let entries: [(ArchiveEntry, Data)] =
        base + [
            file("usr/share/doc/words", String(repeating: "harden rewrites every layer the same way\n", count: 20_000)),
            file("opt/noise", Data((0..<300_000).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 13) })),
        ]

    /// The stream decompressed by libarchive (gzip through zlib, which checks the trailer's CRC and length).
    func decompress(_ data: Data) throws -> Data {
        let reader = try ArchiveReader(source: MemorySource(data), name: "blob", mode: .decompressOnly)
        _ = try reader.next()
        return try reader.readData(limit: 1 << 30)
    }

    @Test(arguments: [0, 1, ImageWriter.gzipLevel, 6, 12])
    func decompressesToThePlainTar(level: Int) throws {
        let gzip = try ImageWriter.layer(entries, compression: .gzip, level: level)
        let plain = try ImageWriter.layer(entries, compression: .none)
        #expect(gzip.mediaType == "application/vnd.oci.image.layer.v1.tar+gzip")
        #expect(gzip.tar == plain.data)
        #expect(try decompress(gzip.data) == plain.data)
        #expect(gzip.diffID == plain.diffID)
        #expect(gzip.diffID.description == (try sha256Digest(plain.data)))
        #expect(gzip.digest.description == (try sha256Digest(gzip.data)))
    }

    @Test func gnuGzipReadsIt() throws {
        let layer = try ImageWriter.layer(base, compression: .gzip)
        let tar = try #require(layer.tar)
        #expect(try runToolWaiting("/bin/gzip", ["-dc"], input: layer.data) == tar)
    }

    @Test func sameEntriesGiveTheSameBytes() throws {
        let first = try ImageWriter.layer(entries, compression: .gzip)
        let second = try ImageWriter.layer(entries, compression: .gzip)
        #expect(first.data == second.data)
        #expect(first.digest == second.digest)
    }

    /// RFC 1952: no flags (so no name, comment or extra field), mtime 0, OS 255 ("unknown");
    /// the trailer's length is the tar's.
    @Test func headerHasNoNameAndNoTime() throws {
        let layer = try ImageWriter.layer(entries, compression: .gzip)
        let bytes = [UInt8](layer.data)
        #expect(bytes[0..<4] == [0x1f, 0x8b, 8, 0])
        #expect(bytes[4..<8] == [0, 0, 0, 0])
        #expect(bytes[9] == 255)
        let length = bytes.suffix(4).reversed().reduce(0) { $0 << 8 | Int($1) }
        #expect(length == layer.tar?.count)
    }

    @Test func emptyLayer() throws {
        let layer = try ImageWriter.layer([], compression: .gzip)
        let tar = try #require(layer.tar)
        #expect(tar == Data(count: 1024))
        #expect(try decompress(layer.data) == tar)
        #expect(layer.diffID.description == (try sha256Digest(tar)))
    }

    @Test func emptyInputIsAnEmptyStream() throws {
        let stream = try GzipCompressor(level: ImageWriter.gzipLevel).compress(Data())
        #expect(try runToolWaiting("/bin/gzip", ["-dc"], input: stream).isEmpty)
    }

    @Test func levelOutsideTheRangeIsRefused() {
        #expect(throws: ArchiveError.self) { _ = try GzipCompressor(level: 13) }
        #expect(throws: ImageError.self) { try ImageWriter.layer(base, compression: .gzip, level: -1) }
    }

    @Test func otherCompressionsKeepTheirTar() throws {
        let plain = try ImageWriter.layer(entries, compression: .none)
        let zstd = try ImageWriter.layer(entries, compression: .zstd)
        #expect(plain.tar == plain.data)
        #expect(zstd.tar == plain.data)
        #expect(zstd.diffID == plain.diffID)
        #expect(try decompress(zstd.data) == plain.data)
    }
}
