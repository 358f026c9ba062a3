import Foundation
import Testing

@testable import HardenEngine

@Suite struct DockerIgnoreTests {
    @Test(arguments: [
        ("*.pyc", "a.pyc", true), ("*.pyc", "dir/a.pyc", false), ("**/*.pyc", "dir/sub/a.pyc", true),
        ("**/*.pyc", "a.pyc", true), ("/build", "build/out.o", true), ("./docs", "docs/a.md", true),
        ("docs/../secret", "secret", true), ("te?t", "test", true), ("te?t", "tet", false), ("[a-c].txt", "b.txt", true),
        ("[!a-c].txt", "b.txt", false), ("node_modules", "node_modules/x/y.js", true), ("a/**/b", "a/b", true),
        ("a/**/b", "a/x/y/b", true), ("*", "anything", true), ("# comment", "# comment", false),
        ("a\\*b", "a*b", true), ("a\\*b", "axb", false), ("[", "[", true), ("[a-]x", "-x", true), ("[a-]x", "bx", false),
        ("**", "x/y/z", true), ("a/**", "a/b/c", true), ("*/*.go", "cmd/main.go", true), ("*/*.go", "cmd/sub/main.go", false),
        ("**/test/*.py", "src/test/a.py", true), ("**/test/*.py", "src/test/sub/a.py", false), ("é?", "éa", true),
        ("[^a-c]*", "dog", true), ("[^a-c]*", "cat", false), ("*.txt", ".txt", true), ("a*", "a/b", true),
    ])
    func matchesLikeDocker(pattern: String, path: String, excluded: Bool) {
        #expect(DockerIgnore(text: pattern).excludes(path) == excluded)
    }

    @Test func exceptionsAndOrder() {
        let rules = DockerIgnore(text: "*.md\n!README.md\nREADME*.md\n")
        #expect(rules.excludes("NOTES.md"))
        #expect(rules.excludes("README.md"))
        let reincluded = DockerIgnore(text: "docs\n!docs/keep.txt\n")
        #expect(reincluded.excludes("docs/a.txt"))
        #expect(!reincluded.excludes("docs/keep.txt"))
        #expect(reincluded.hasExceptions)
    }

    /// Docker walks into an excluded directory only for a `!` pattern that starts with its path.
    @Test(arguments: [
        ("build\n!**/*.sh\n", ["kept.sh"]),
        ("build\n!build/gen.sh\n", ["build/gen.sh", "kept.sh"]),
        ("build\n!build\n", ["build/", "build/deep/", "build/deep/x.sh", "build/gen.sh", "build/out.o", "kept.sh"]),
        ("build\n!build/deep/x.sh\n", ["build/deep/x.sh", "kept.sh"]),
        ("build\n", ["kept.sh"]),
    ])
    func excludedDirectoriesAreWalkedOnlyForTheirOwnExceptions(rules: String, sent: [String]) throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("harden-ignore-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("build/deep"), withIntermediateDirectories: true)
        for file in ["build/gen.sh", "build/out.o", "build/deep/x.sh", "kept.sh"] {
            try Data().write(to: root.appendingPathComponent(file))
        }
        try rules.write(to: root.appendingPathComponent(".dockerignore"), atomically: true, encoding: .utf8)
        var visited: [String] = []
        try ContextFiles.walk(root) { entry in
            if entry.path != ".dockerignore" { visited.append(entry.path + (entry.kind == .directory ? "/" : "")) }
        }
        #expect(visited == sent)
    }

    @Test func blankLinesCommentsAndCarriageReturns() {
        let rules = DockerIgnore(text: "\r\n# a comment\n  secret.txt  \r\n\n")
        #expect(rules.excludes("secret.txt"))
        #expect(!rules.excludes("# a comment"))
    }
}
