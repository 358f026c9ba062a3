import Testing

@testable import HardenRecipe

@Suite struct ValidateTests {
    @Test(arguments: [
        "python:3.11-slim", "gcr.io/distroless/python3-debian12:nonroot", "alpine:3.22.2", "localhost:5000/a/b:c",
        "python@sha256:" + String(repeating: "a", count: 64), "scratch", "harden-local/python:3.11-slim",
        "registry.example.com:5000/team/app:v1.2_3", "a__b/c-d---e.f", "Registry.Example.com/x",
        "a:b@sha256:" + String(repeating: "0", count: 64),
        "localhost/x", "x:" + String(repeating: "t", count: 128),
    ])
    func validImageReferences(reference: String) {
        #expect(Validate.imageReference(reference) == nil)
    }

    @Test(arguments: [
        "Python:3", "python:3 AS x", "python\nRUN id", "$BASE", "python:", "a//b", "-x", "python:3.11\\", "a b",
        "python@sha256:abc", "a___b", "a.-b", "a..b", "a_", ".a", "Host.com", "-host.com/x", "host-.com/x", "h:99999x/y",
        "x:" + String(repeating: "t", count: 129), "x:-t", "", "a/", "/a", "python@sha256:" + String(repeating: "A", count: 64),
        String(repeating: "a", count: 256),
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

    @Test(arguments: [
        ("30s", true), ("1m30s", true), ("500ms", true), ("2h", true), ("", false), ("s", false),
        ("30", false), ("30x", false), ("1m 30s", false), ("-1s", false),
    ])
    func durations(value: String, valid: Bool) {
        #expect((Validate.duration(value) == nil) == valid)
    }

    @Test(arguments: [
        ("nonroot", true), ("65532:65532", true), ("app.user-1", true), ("a:", false), (":a", false),
        ("a b", false), ("a:b:c", false), (String(repeating: "u", count: 33), false),
    ])
    func users(value: String, valid: Bool) {
        #expect((Validate.user(value) == nil) == valid)
    }

    @Test(arguments: [("2026-02-28", true), ("2026-02-30", false), ("2026-2-28", false), ("20260228", false)])
    func dates(value: String, valid: Bool) {
        #expect((Validate.date(value) == nil) == valid)
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
