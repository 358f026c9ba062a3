import Testing

@testable import HardenBuild

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

    @Test func blankLinesCommentsAndCarriageReturns() {
        let rules = DockerIgnore(text: "\r\n# a comment\n  secret.txt  \r\n\n")
        #expect(rules.excludes("secret.txt"))
        #expect(!rules.excludes("# a comment"))
    }
}
