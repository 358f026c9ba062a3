import HardenRegistry
import Testing

struct ImageReferenceTests {
    static let digest = "sha256:" + String(repeating: "ab", count: 32)

    struct Case: Sendable, CustomTestStringConvertible {
        let text: String
        let registry: String
        let apiHost: String
        let repository: String
        let tag: String?
        var digest: String? = nil
        var testDescription: String { text }
    }

    @Test(arguments: [
        Case(text: "alpine", registry: "docker.io", apiHost: "registry-1.docker.io", repository: "library/alpine", tag: "latest"),
        Case(
            text: "alpine:3.20", registry: "docker.io", apiHost: "registry-1.docker.io", repository: "library/alpine", tag: "3.20"
        ),
        Case(
            text: "bitnami/redis:7", registry: "docker.io", apiHost: "registry-1.docker.io", repository: "bitnami/redis", tag: "7"
        ),
        Case(
            text: "docker.io/alpine", registry: "docker.io", apiHost: "registry-1.docker.io", repository: "library/alpine",
            tag: "latest"),
        Case(
            text: "index.docker.io/library/debian:bookworm-slim", registry: "index.docker.io", apiHost: "registry-1.docker.io",
            repository: "library/debian", tag: "bookworm-slim"),
        Case(text: "ghcr.io/owner/tool:v1.2.3", registry: "ghcr.io", apiHost: "ghcr.io", repository: "owner/tool", tag: "v1.2.3"),
        Case(text: "ghcr.io/tool", registry: "ghcr.io", apiHost: "ghcr.io", repository: "tool", tag: "latest"),
        Case(text: "localhost/app", registry: "localhost", apiHost: "localhost", repository: "app", tag: "latest"),
        Case(
            text: "localhost:5000/a/b/c:dev", registry: "localhost:5000", apiHost: "localhost:5000", repository: "a/b/c",
            tag: "dev"),
        Case(text: "127.0.0.1:5000/app:1", registry: "127.0.0.1:5000", apiHost: "127.0.0.1:5000", repository: "app", tag: "1"),
        Case(text: "[::1]:5000/app", registry: "[::1]:5000", apiHost: "[::1]:5000", repository: "app", tag: "latest"),
        Case(
            text: "my-registry:5000/app", registry: "my-registry:5000", apiHost: "my-registry:5000", repository: "app",
            tag: "latest"),
        Case(
            text: "user/my__app.x-y--z", registry: "docker.io", apiHost: "registry-1.docker.io",
            repository: "user/my__app.x-y--z", tag: "latest"),
        Case(
            text: "alpine@\(digest)", registry: "docker.io", apiHost: "registry-1.docker.io", repository: "library/alpine",
            tag: nil,
            digest: digest),
        Case(
            text: "quay.io/a/b:1@\(digest)", registry: "quay.io", apiHost: "quay.io", repository: "a/b", tag: "1", digest: digest),
    ])
    func parses(_ expected: Case) throws {
        let reference = try ImageReference(parsing: expected.text)
        #expect(reference.registry == expected.registry)
        #expect(reference.apiHost == expected.apiHost)
        #expect(reference.repository == expected.repository)
        #expect(reference.tag == expected.tag)
        #expect(reference.digest == expected.digest)
    }

    @Test func descriptionIsTheFullForm() throws {
        #expect(try ImageReference(parsing: "alpine").description == "docker.io/library/alpine:latest")
        #expect(try ImageReference(parsing: "ghcr.io/a/b@\(Self.digest)").description == "ghcr.io/a/b@\(Self.digest)")
    }

    @Test func spellingsOfOneImageAreEqual() throws {
        #expect(try ImageReference(parsing: "alpine") == ImageReference(parsing: "docker.io/library/alpine:latest"))
    }

    @Test(arguments: [
        ("", "empty"),
        ("Alpine", "uppercase"),
        ("ghcr.io/Owner/tool", "uppercase"),
        ("alpine:", "not a tag"),
        ("alpine:-x", "not a tag"),
        ("alpine:a b", "not a tag"),
        (":tag", "empty path component"),
        ("a//b", "empty path component"),
        ("ghcr.io/", "empty path component"),
        ("-alpine", "not a repository path component"),
        ("alpine-", "not a repository path component"),
        ("a___b", "not a repository path component"),
        ("alpine@sha256:abc", "not a digest"),
        ("alpine@md5:" + String(repeating: "a", count: 32), "not a digest"),
        ("alpine@sha256:" + String(repeating: "A", count: 64), "not a digest"),
        ("localhost:port/app", "not a registry host"),
        ("bad_host.io/app", "not a registry host"),
    ])
    func rejects(text: String, problem: String) {
        let error = #expect(throws: RegistryError.self) { try ImageReference(parsing: text) }
        #expect(error?.code == .invalidReference)
        #expect(error?.message.contains("'\(text)'") == true)
        #expect(error?.message.contains(problem) == true, "\(error?.message ?? "")")
    }
}
