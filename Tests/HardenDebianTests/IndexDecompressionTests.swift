import Foundation
import HardenArchive
import HardenTestSupport
import Testing

/// xz is read for Debian indexes only: image layers keep gzip, zstd and none.
@Suite struct IndexDecompressionTests {
    static let text = Data("Package: a\nVersion: 1\n\n".utf8)

    @Test(arguments: ["/usr/bin/xz", "/usr/bin/gzip", "/usr/bin/zstd", nil])
    func debianIndexReadsEachCompression(tool: String?) async throws {
        var packed = Self.text
        if let tool { packed = try await runTool(tool, ["-c"], input: Self.text) }
        let reader = try ArchiveReader(source: MemorySource(packed), name: "Packages", mode: .debianIndex)
        #expect(try reader.next() != nil)
        #expect(try reader.readData(limit: 1 << 20) == Self.text)
    }

    @Test func layerReadersDoNotDecodeXz() async throws {
        let packed = try await runTool("/usr/bin/xz", ["-c"], input: Self.text)
        #expect(throws: ArchiveError.self) {
            let reader = try ArchiveReader(source: MemorySource(packed), name: "layer", mode: .tar)
            _ = try reader.next()
        }
        // The raw reader passes what it cannot decode through as it is.
        let raw = try ArchiveReader(source: MemorySource(packed), name: "layer", mode: .decompressOnly)
        #expect(try raw.next() != nil)
        #expect(try raw.readData(limit: 1 << 20) == packed)
    }
}
