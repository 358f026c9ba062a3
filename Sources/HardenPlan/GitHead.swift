import Foundation

/// The commit HEAD names in the git repository around a directory, read from the repository's
/// own files (`.git/HEAD`, loose refs, `packed-refs`; a worktree's `gitdir:` and `commondir`),
/// so that no git process runs for it.
///
/// Nil wherever git itself might see another history for the same commit or keeps refs in a
/// form not read here: `GIT_DIR`-style variables, a shallow clone, grafts, replace refs, the
/// reftable format, an unborn branch. The caller then asks git.
struct GitHead: Equatable, Sendable {
    /// The repository's git directory (a worktree's own one), as an absolute path.
    var gitDirectory: String
    /// The commit's object name (40 or 64 hex digits).
    var commit: String

    static func find(around directory: URL, environment: [String: String]) -> GitHead? {
        let steering = [
            "GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY", "GIT_CEILING_DIRECTORIES",
            "GIT_DISCOVERY_ACROSS_FILESYSTEM", "GIT_GRAFT_FILE", "GIT_REPLACE_REF_BASE", "GIT_SHALLOW_FILE",
        ]
        guard !steering.contains(where: { environment[$0] != nil }) else { return nil }
        var current = directory.standardizedFileURL
        while true {
            let dotGit = current.appendingPathComponent(".git")
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: dotGit.path, isDirectory: &isDirectory) {
                guard let gitDirectory = isDirectory.boolValue ? dotGit : linkedGitDirectory(dotGit) else { return nil }
                return read(gitDirectory.standardizedFileURL)
            }
            let parent = current.deletingLastPathComponent()
            guard parent.path != current.path else { return nil }
            current = parent
        }
    }

    /// A `.git` file: `gitdir: PATH` (a worktree or submodule), PATH relative to the file's directory.
    private static func linkedGitDirectory(_ file: URL) -> URL? {
        guard let text = contents(file), text.hasPrefix("gitdir: ") else { return nil }
        let path = String(text.dropFirst("gitdir: ".count))
        return path.hasPrefix("/") ? URL(fileURLWithPath: path) : file.deletingLastPathComponent().appendingPathComponent(path)
    }

    private static func read(_ gitDirectory: URL) -> GitHead? {
        var common = gitDirectory
        if let relative = contents(gitDirectory.appendingPathComponent("commondir")) {
            common = relative.hasPrefix("/") ? URL(fileURLWithPath: relative) : gitDirectory.appendingPathComponent(relative)
        }
        let manager = FileManager.default
        for altered in ["shallow", "info/grafts", "reftable"]
        where manager.fileExists(atPath: common.appendingPathComponent(altered).path) {
            return nil
        }
        let replaced = (try? manager.contentsOfDirectory(atPath: common.appendingPathComponent("refs/replace").path)) ?? []
        guard replaced.isEmpty, var value = contents(gitDirectory.appendingPathComponent("HEAD")) else { return nil }
        // A symbolic ref names another ref; a few levels at most.
        for _ in 0..<5 {
            guard value.hasPrefix("ref: ") else {
                return isObjectName(value) ? GitHead(gitDirectory: gitDirectory.path, commit: value) : nil
            }
            let name = String(value.dropFirst("ref: ".count))
            guard name.hasPrefix("refs/"), !name.contains("..") else { return nil }
            if let loose = contents(gitDirectory.appendingPathComponent(name)) ?? contents(common.appendingPathComponent(name)) {
                value = loose
            } else if let packed = packedRef(name, in: common) {
                value = packed
            } else {
                return nil  // an unborn branch
            }
        }
        return nil
    }

    /// `packed-refs`: lines of `NAME-OF-OBJECT REF`, comments (`#`) and peeled tags (`^`) aside.
    private static func packedRef(_ name: String, in common: URL) -> String? {
        guard let text = contents(common.appendingPathComponent("packed-refs")) else { return nil }
        for line in text.split(separator: "\n") where !line.hasPrefix("#") && !line.hasPrefix("^") {
            let fields = line.split(separator: " ", maxSplits: 1)
            if fields.count == 2, fields[1] == name { return String(fields[0]) }
        }
        return nil
    }

    private static func isObjectName(_ text: String) -> Bool {
        (text.utf8.count == 40 || text.utf8.count == 64)
            && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    private static func contents(_ file: URL) -> String? {
        guard let data = FileManager.default.contents(atPath: file.path), let text = String(data: data, encoding: .utf8)
        else { return nil }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
