import Foundation
import HardenRegistry
import HardenTestSupport
import Testing

/// `RegistryClient` against a real docker-registry without authentication.
@Suite(.timeLimit(.minutes(2))) struct RegistryClientTests {
    @Test func digestIsTheManifestDigestAndFollowsTheTag() async throws {
        try await LocalRegistry.run { registry in
            let pusher = ImagePusher(registry: registry.baseURL)
            let first = try await pusher.push(repository: "demo/app", tag: "1.0", label: "first")
            let reference = try ImageReference(parsing: "\(registry.host)/demo/app:1.0")
            let client = RegistryClient()
            #expect(try await client.digest(of: reference) == first.digest)
            #expect(try sha256Digest(first.manifest) == first.digest)

            let second = try await pusher.push(repository: "demo/app", tag: "1.0", label: "second")
            #expect(second.digest != first.digest)
            #expect(try await RegistryClient().digest(of: reference) == second.digest)
            // One client is one run: it keeps the answer it was given.
            #expect(try await client.digest(of: reference) == first.digest)
            #expect(try await registry.manifestRequests("HEAD", repository: "demo/app", expected: 2) == 2)

            let pinned = try ImageReference(parsing: "\(registry.host)/demo/app@\(first.digest)")
            #expect(try await RegistryClient().digest(of: pinned) == first.digest)
        }
    }

    @Test func unknownTagIsNotFound() async throws {
        try await LocalRegistry.run { registry in
            _ = try await ImagePusher(registry: registry.baseURL).push(repository: "demo/app", tag: "1.0", label: "only")
            let reference = try ImageReference(parsing: "\(registry.host)/demo/app:missing")
            let error = await #expect(throws: RegistryError.self) { try await RegistryClient().digest(of: reference) }
            #expect(error?.code == .notFound)
            #expect(error?.description.contains("tag missing not found in \(registry.host)/demo/app") == true)
        }
    }

    @Test func nothingListeningIsAConnectionError() async throws {
        let host = "127.0.0.1:\(try freePort())"
        let reference = try ImageReference(parsing: "\(host)/demo/app:1.0")
        let error = await #expect(throws: RegistryError.self) {
            try await RegistryClient(timeout: .seconds(60)).digest(of: reference)
        }
        #expect(error?.code == .unreachable)
        #expect(error?.description.contains("cannot connect to http://\(host)") == true)
        #expect(error?.description.contains("connection refused") == true)
        #expect(error?.hint?.contains("running") == true)
    }

    @Test func answerWithoutDigestHeaderIsAnError() async throws {
        try await PythonServer.run(script: digestlessServerScript) { server in
            let reference = try ImageReference(parsing: "127.0.0.1:\(server.port)/demo/app:1.0")
            let error = await #expect(throws: RegistryError.self) { try await RegistryClient().digest(of: reference) }
            #expect(error?.code == .unexpectedResponse)
            #expect(error?.description.contains("without a Docker-Content-Digest header") == true)
        }
    }

    @Test func silentRegistryTimesOut() async throws {
        try await PythonServer.run(script: silentServerScript) { server in
            let reference = try ImageReference(parsing: "127.0.0.1:\(server.port)/demo/app:1.0")
            // The client's own timeout ended the wait (not the server): no clock needed, which
            // under the whole suite on two cores can resume this test many seconds late.
            let error = await #expect(throws: RegistryError.self) {
                try await RegistryClient(timeout: .seconds(1)).digest(of: reference)
            }
            #expect(error?.code == .timedOut)
            #expect(error?.description.contains("127.0.0.1:\(server.port) did not answer within 1.0 s") == true)
        }
    }

    /// A body that stops halfway is held to the same deadline as the head.
    @Test func aStalledAnswerBodyTimesOut() async throws {
        try await PythonServer.run(script: stallingTokenServerScript) { server in
            let reference = try ImageReference(parsing: "127.0.0.1:\(server.port)/demo/app:1.0")
            let error = await #expect(throws: RegistryError.self) {
                try await RegistryClient(timeout: .seconds(1)).digest(of: reference)
            }
            #expect(error?.code == .timedOut, "\(String(describing: error))")
        }
    }

    @Test func manyReferencesAskOncePerDistinctReference() async throws {
        try await LocalRegistry.run { registry in
            let pusher = ImagePusher(registry: registry.baseURL)
            var pushed: [ImageReference: String] = [:]
            for index in 0..<5 {
                let image = try await pusher.push(repository: "demo/many", tag: "t\(index)", label: "\(index)")
                pushed[try ImageReference(parsing: "\(registry.host)/demo/many:t\(index)")] = image.digest
            }
            let references = try (0..<20).map { try ImageReference(parsing: "\(registry.host)/demo/many:t\($0 % 5)") }

            let results = await RegistryClient().digests(of: references)

            #expect(results.count == 5)
            for (reference, digest) in pushed {
                #expect(try results[reference]?.get() == digest)
            }
            #expect(try await registry.manifestRequests("HEAD", repository: "demo/many", expected: 5) == 5)
        }
    }

    @Test(arguments: [
        ("localhost:5000", "http"), ("localhost", "http"), ("127.0.0.1:5000", "http"), ("127.1.2.3", "http"),
        ("[::1]:5000", "http"), ("docker.io", "https"), ("ghcr.io", "https"), ("128.0.0.1:5000", "https"),
        ("registry.internal:5000", "http"), ("plain.example", "http"), ("plain.example:443", "http"),
    ])
    func scheme(registry: String, expected: String) {
        let client = RegistryClient(insecureRegistries: ["registry.internal:5000", "plain.example"])
        #expect(client.scheme(for: registry) == expected)
    }
}
