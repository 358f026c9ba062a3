import Foundation
import HardenArchive
import HardenImage
import Testing

/// harden's final filesystem must be what the engine itself gives: `docker export`
/// of a container made from the same image, entry by entry.
@Suite(.serialized) struct ImageFaithfulnessTests {
    /// What the engine adds to every container, and which is not in the image.
    static let engineAdded: Set<String> = [
        "/.dockerenv", "/dev", "/dev/console", "/dev/pts", "/dev/shm", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf",
        "/etc/mtab", "/proc", "/sys",
    ]

    struct Entry: Equatable, CustomStringConvertible {
        var kind: String
        var mode: UInt32
        var size: Int64
        var link: String?
        var description: String { "\(kind) \(String(mode, radix: 8)) \(size)\(link.map { " -> \($0)" } ?? "")" }
    }

    @Test(arguments: [DockerBuildTests.runtimeBase, DockerBuildTests.builderBase])
    func theFinalViewEqualsDockerExport(image: String) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("harden-faithful-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let saved = directory.appendingPathComponent("image.tar").path
        let exported = directory.appendingPathComponent("export.tar").path
        #expect(try await CLI.shell("docker save -o '\(saved)' '\(image)'").status == 0)
        let container = try await CLI.shell("docker create '\(image)' /none").output.trimmingCharacters(in: .whitespacesAndNewlines)
        defer { _ = try? CLI.shellWaiting("docker rm -f \(container)") }
        #expect(try await CLI.shell("docker export -o '\(exported)' \(container)").status == 0)

        let view = try ImageReader().read(saved).filesystem
        var ours: [String: Entry] = [:]
        for (path, node) in view.nodes where path != "/" && !Self.engineAdded.contains(path) {
            ours[path] = Entry(
                kind: node.kind.rawValue, mode: node.mode, size: node.kind == .file ? node.size : 0, link: node.linkTarget)
        }
        let theirs = try Self.exportedEntries(exported)
        let missing = Set(theirs.keys).subtracting(ours.keys).sorted()
        let extra = Set(ours.keys).subtracting(theirs.keys).sorted()
        let different = theirs.keys.filter { ours[$0] != nil && ours[$0] != theirs[$0] }.sorted()
        #expect(missing.isEmpty, "in docker export only: \(missing.prefix(10))")
        #expect(extra.isEmpty, "in harden's view only: \(extra.prefix(10))")
        #expect(different.isEmpty, "\(different.prefix(10).map { "\($0): harden \(ours[$0]!) / docker \(theirs[$0]!)" })")
        #expect(theirs.count > 1000)
    }

    /// The export tar, with hardlinks taking their target's kind and size.
    static func exportedEntries(_ path: String) throws -> [String: Entry] {
        let reader = try ArchiveReader(path: path)
        var entries: [String: Entry] = [:]
        var hardlinks: [(String, String, UInt32)] = []
        while let header = try reader.next() {
            var name = Substring(header.path)
            while name.hasSuffix("/") { name.removeLast() }
            while name.hasPrefix("./") { name = name.dropFirst(2) }
            let path = "/" + name.drop { $0 == "/" }
            if path == "/" || engineAdded.contains(path) || engineAdded.contains(where: { path.hasPrefix($0 + "/") }) { continue }
            let kind: String
            switch header.type {
            case .regular: kind = "file"
            case .directory: kind = "directory"
            case .symlink: kind = "symlink"
            case .characterDevice: kind = "characterDevice"
            case .blockDevice: kind = "blockDevice"
            case .fifo: kind = "fifo"
            case .socket: kind = "socket"
            case .hardlink:
                hardlinks.append((path, "/" + (header.hardlinkTarget ?? ""), header.mode))
                continue
            case .other: kind = "other"
            }
            entries[path] = Entry(
                kind: kind, mode: header.mode, size: kind == "file" ? header.size : 0, link: header.symlinkTarget)
        }
        for (path, target, mode) in hardlinks {
            guard var entry = entries[target] else { continue }
            entry.mode = mode
            entries[path] = entry
        }
        return entries
    }
}
