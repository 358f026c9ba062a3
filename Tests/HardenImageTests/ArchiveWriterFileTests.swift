import Foundation
import HardenArchive
import Testing

/// Regular files added from a descriptor: streamed whole, and refused when they changed size.
@Suite struct ArchiveWriterFileTests {
    func withFile(_ bytes: Data, _ body: (Int32) throws -> Void) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("harden-writer-\(UUID().uuidString)").path
        try bytes.write(to: URL(fileURLWithPath: path))
        defer { unlink(path) }
        let descriptor = open(path, O_RDONLY)
        defer { close(descriptor) }
        try body(descriptor)
    }

    @Test func aFileLargerThanTheBufferIsStreamedWhole() throws {
        let bytes = Data((0..<(3 << 20) + 17).map { UInt8(truncatingIfNeeded: $0 &* 31 >> 3) })
        var tar = Data()
        try withFile(bytes) { descriptor in
            let writer = try ArchiveWriter()
            try writer.add(ArchiveEntry(path: "big", type: .regular, size: Int64(bytes.count)), contentsOf: descriptor)
            try writer.add(ArchiveEntry(path: "after", type: .regular, size: 2), data: Data("ok".utf8))
            tar = try writer.finish()
        }
        let tarPath = FileManager.default.temporaryDirectory.appendingPathComponent("harden-writer-\(UUID().uuidString).tar")
        try tar.write(to: tarPath)
        defer { try? FileManager.default.removeItem(at: tarPath) }
        let reader = try ArchiveReader(path: tarPath.path)
        #expect(try reader.next()?.path == "big")
        #expect(try reader.readData(limit: 8 << 20) == bytes)
        #expect(try reader.next()?.path == "after")
    }

    @Test(arguments: [(10, "grew"), (1000, "shrank by 900 bytes")])
    func aFileOfAnotherSizeThanListedIsAnError(listed: Int, expected: String) throws {
        try withFile(Data(repeating: 7, count: 100)) { descriptor in
            let writer = try ArchiveWriter()
            #expect {
                try writer.add(ArchiveEntry(path: "changed", type: .regular, size: Int64(listed)), contentsOf: descriptor)
            } throws: { error in
                "\(error)".contains(expected) && "\(error)".contains("changed")
            }
        }
    }
}
