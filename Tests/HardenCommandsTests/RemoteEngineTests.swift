import Foundation
import HardenTestSupport
import Testing

/// The second engine scripts/start-second-engine.sh started (scripts/test.sh runs it), as
/// one of the client environments it wrote: `env` (tcp:// with TLS) or `ssh-env` (ssh://).
struct SecondEngine {
    var environment: [String: String]

    static func started(_ file: String = "env") throws -> SecondEngine {
        let directory = ProcessInfo.processInfo.environment["HARDEN_SECOND_ENGINE"] ?? "/tmp/harden-second-engine"
        guard let text = try? String(contentsOfFile: directory + "/" + file, encoding: .utf8) else {
            throw TestSetupError("no second engine at \(directory): run scripts/start-second-engine.sh (scripts/test.sh does)")
        }
        var environment: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { environment[String(parts[0])] = String(parts[1]) }
        }
        return SecondEngine(environment: environment)
    }

    var shellPrefix: String { environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ") }
}

/// Builds on a remote engine: a second dockerd on tcp://127.0.0.1 with TLS and its own data
/// root, reached over TLS and over ssh://. `DOCKER_HOST` (with `DOCKER_TLS_VERIFY` and
/// `DOCKER_CERT_PATH`, or an ssh:// URL) takes every step there
/// (base checks, both stages, save, the normalized image loaded back and tagged), and the
/// first engine never sees the image.
@Suite(.serialized) struct RemoteEngineTests {
    // scripts/test.sh starts the engine; outside it the test is skipped without one, but
    // never under CI=true, where a missing engine fails it.
    @Test(
        .enabled("skipped: no second engine (scripts/start-second-engine.sh)") {
            (try? SecondEngine.started("env")) != nil || ProcessInfo.processInfo.environment["CI"] == "true"
        },
        .timeLimit(.minutes(10)),
        arguments: ["env", "ssh-env"])
    func aBuildOnARemoteEngineStaysThere(client: String) async throws {
        let engine = try SecondEngine.started(client)
        do {
            let bases = "\(DockerBuildTests.builderBase) \(DockerBuildTests.runtimeBase)"
            let loaded = try await CLI.shell("docker save \(bases) | \(engine.shellPrefix) docker load 2>&1")
            #expect(loaded.status == 0, "\(loaded.output)")

            let project = try DockerBuildTests().tinyProject()
            let marker = "remote \(UUID().uuidString)"  // an image no other test builds
            try project.write("Recipes/tiny/input.txt", marker + "\n")
            let recipe = try String(contentsOf: project.root.appendingPathComponent("Recipes/tiny.yaml"), encoding: .utf8)
            let tag = try #require(recipe.split(separator: "\n").first { $0.hasPrefix("tags: [") })
                .dropFirst("tags: [".count).dropLast()
            let build = try await project.harden(["build", "--format", "json"], environment: engine.environment)
            #expect(build.status == 0, "\(build.stderr)")
            let outcome = try #require(
                try JSONSerialization.jsonObject(with: Data(build.stdout.utf8)) as? [[String: Any]]
            ).first
            #expect(outcome?["status"] as? String == "succeeded")
            #expect((outcome?["violations"] as? Int) == 0)
            let image = try #require(outcome?["runtimeImage"] as? String)

            let there = try await CLI.shell("\(engine.shellPrefix) docker image inspect --format '{{.Id}}' \(tag)")
            #expect(there.status == 0 && there.output == image, "\(there.output)")
            let run = try await CLI.shell("\(engine.shellPrefix) docker run --rm --network none \(tag)")
            #expect(run.output == "\(marker)\nbuilt", "\(run.output)")
            let here = try await CLI.shell("docker image inspect \(tag) 2>&1")
            #expect(here.status != 0, "the first engine must not have \(tag)")
            let hereByID = try await CLI.shell("docker image inspect \(image) 2>&1")
            #expect(hereByID.status != 0, "the first engine must not have \(image)")

            // Up to date on that engine; a base missing there is named with the engine.
            let again = try await project.harden(["build"], environment: engine.environment)
            #expect(again.stdout.contains("skipped, up to date"), "\(again.stdout)")
        }
    }
}
