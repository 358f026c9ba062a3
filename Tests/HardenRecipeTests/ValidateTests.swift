import Testing

@testable import HardenRecipe

@Suite struct ValidateTests {
    @Test(arguments: [
        "python:3.11-slim", "gcr.io/distroless/python3-debian12:nonroot", "alpine:3.22.2", "localhost:5000/a/b:c",
        "python@sha256:" + String(repeating: "a", count: 64), "scratch", "harden-local/python:3.11-slim",
    ])
    func validImageReferences(reference: String) {
        #expect(Validate.imageReference(reference) == nil)
    }

    @Test(arguments: [
        "Python:3", "python:3 AS x", "python\nRUN id", "$BASE", "python:", "a//b", "-x", "python:3.11\\", "a b",
        "python@sha256:abc",
    ])
    func invalidImageReferences(reference: String) {
        #expect(Validate.imageReference(reference) != nil)
    }

    @Test(arguments: ["/app", "/app dir/x", "app.py", "src/*.py"])
    func validPaths(path: String) {
        #expect(Validate.path(path) == nil)
    }

    @Test(arguments: ["$HOME/x", "a\\b", "a\"b", "it's", "a\nb", "", "a\u{0}b", "a\rb"])
    func invalidPaths(path: String) {
        #expect(Validate.path(path) != nil)
    }

    @Test func commandsMaySpanLinesButNotCarryOtherControls() {
        #expect(Validate.command("set -e\necho hi") == nil)
        #expect(Validate.command("echo \u{1B}[31m") != nil)
        #expect(Validate.command("   ") != nil)
    }

    @Test func rootUsers() {
        #expect(Validate.isRoot("root"))
        #expect(Validate.isRoot("0:1000"))
        #expect(Validate.isRoot("00"))
        #expect(!Validate.isRoot("65532"))
        #expect(!Validate.isRoot("nonroot:nonroot"))
    }

    @Test func suggestions() {
        #expect(Suggest.closest(to: "entrypont", among: ["entrypoint", "cmd"]) == "entrypoint")
        #expect(Suggest.closest(to: "zzzzzz", among: ["entrypoint", "cmd"]) == nil)
    }
}
