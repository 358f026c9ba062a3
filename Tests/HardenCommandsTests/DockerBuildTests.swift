import Foundation
import HardenHistory
import Testing

/// Builds for real on the Docker engine (started by scripts/test.sh) from the local
/// bases made by scripts/make-local-bases.sh.
@Suite(.serialized) struct DockerBuildTests {
    static let builderBase = "harden-local/python:3.11-slim"
    static let runtimeBase = "harden-local/python3-debian12:nonroot"

    /// A two-stage recipe: the builder writes a file, the distroless runtime prints it.
    func tinyProject(run: String = "mkdir -p /out && cp /src/input.txt /out/ && echo built >> /out/input.txt") throws -> Project {
        let project = try Project()
        let name = "tiny-\(UUID().uuidString.prefix(8).lowercased())"
        try project.write("Recipes/tiny/input.txt", "hello\n")
        try project.write("Recipes/tiny/notes.md", "ignored\n")
        try project.write("Recipes/tiny/.dockerignore", "*.md\n")
        try project.write(
            "Recipes/tiny.yaml",
            """
            name: \(name)
            context: tiny
            tags: [harden-test/\(name):latest]
            builder:
              from: \(Self.builderBase)
              copy:
                - {from: context, src: input.txt, dest: /src/input.txt}
              run:
                - \(DockerBuildTests.yamlQuote(run))
            runtime:
              from: \(Self.runtimeBase)
              user: "65532"
              copy:
                - {from: builder, src: /out/input.txt, dest: /data/input.txt}
              entrypoint: [/usr/bin/python3, -c, "print(open('/data/input.txt').read().strip())"]
            """)
        return project
    }

    static func yamlQuote(_ value: String) -> String {
        "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    func store(_ project: Project) throws -> BuildStore {
        try BuildStore(path: project.root.appendingPathComponent(".harden/harden.db").path)
    }

    @Test func buildsATwoStageRecipeThenSkipsItUntilAnInputChanges() async throws {
        let project = try tinyProject()
        let first = try await project.harden(["build"])
        #expect(first.status == 0, "stderr: \(first.stderr)")
        #expect(first.stdout.contains(": built sha256:"))
        #expect(first.stdout.contains("why: new recipe"))
        let records = try await store(project).builds()
        let record = try #require(records.first)
        #expect(record.status == .succeeded)
        #expect(record.builderImage?.hasPrefix("sha256:") == true)
        let image = try #require(record.runtimeImage)
        let archive = try #require(record.imageArchive)
        #expect(FileManager.default.fileExists(atPath: archive))
        #expect(FileManager.default.fileExists(atPath: try #require(record.builderLog)))
        #expect(record.builderSeconds != nil && record.runtimeSeconds != nil)

        let run = try await CLI.shell("docker run --rm \(image)")
        #expect(run.output == "hello\nbuilt")
        let user = try await CLI.shell("docker image inspect --format '{{.Config.User}}' \(image)")
        #expect(user.output == "65532")

        let second = try await project.harden(["build"])
        #expect(second.status == 0)
        #expect(second.stdout.contains("skipped, up to date (build #\(record.id ?? 0)"))

        try project.write("Recipes/tiny/notes.md", "still ignored\n")
        #expect(try await project.harden(["plan"]).stdout.contains("up to date"))

        try project.write("Recipes/tiny/input.txt", "changed\n")
        let plan = try await project.harden(["plan", "--format", "json"])
        let plans = try JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as? [[String: Any]]
        #expect(plans?.first?["action"] as? String == "build")
        #expect(plans?.first?["reasons"] as? [String] == ["context file input.txt changed"])

        let third = try await project.harden(["build", "--format", "json"])
        #expect(third.status == 0)
        let outcomes = try JSONSerialization.jsonObject(with: Data(third.stdout.utf8)) as? [[String: Any]]
        #expect(outcomes?.first?["status"] as? String == "succeeded")
        let newImage = try #require(outcomes?.first?["runtimeImage"] as? String)
        #expect(try await CLI.shell("docker run --rm \(newImage)").output == "changed\nbuilt")
        _ = try await CLI.shell("docker rmi -f \(image) \(newImage)")
    }

    /// A builder stage whose inputs did not move is not sent to the engine again, and an image
    /// already verified under the same policy is not read again; anything that could change
    /// either result brings the work back.
    @Test func anUnchangedBuilderStageIsReusedAndAKeptVerificationServesTheSameImage() async throws {
        let project = try tinyProject()
        let first = try await project.harden(["build"])
        #expect(first.status == 0, "stderr: \(first.stderr)")
        #expect(first.stderr.contains("builder: built sha256:"))
        let builder = try #require(try await store(project).builds().first?.builderImage)
        let label = try await CLI.shell(
            "docker image inspect --format '{{index .Config.Labels \"org.harden.builder-inputs\"}}' \(builder)")
        #expect(label.output.hasPrefix("sha256:"))

        let forced = try await project.harden(["build", "--force"])
        #expect(forced.status == 0, "stderr: \(forced.stderr)")
        #expect(
            forced.stderr.contains("builder: inputs unchanged since build #1, reusing \(builder.prefix(19))"), "\(forced.stderr)")
        #expect(forced.stderr.contains("verify: pass (kept report"), "\(forced.stderr)")
        var builds = try await store(project).builds()
        let reused = try #require(builds.first { $0.id == 2 })
        #expect(reused.builderImage == builder)
        #expect(reused.runtimeImage == builds.first { $0.id == 1 }?.runtimeImage)
        #expect(try String(contentsOfFile: try #require(reused.builderLog), encoding: .utf8).contains("not built"))
        #expect(FileManager.default.fileExists(atPath: try #require(reused.verifyReport)))

        // A tag moved elsewhere is put back (a tag already right is left alone).
        let tag = "harden-test/\(reused.recipe):latest"
        _ = try await CLI.shell("docker tag \(Self.runtimeBase) \(tag)")
        #expect(try await project.harden(["build", "--force"]).status == 0)
        let tagged = try await CLI.shell("docker image inspect --format '{{.Id}}' \(tag)").output
        #expect(tagged == reused.runtimeImage)

        // A runtime-only change: same builder, a new image, verified afresh.
        let recipe = project.root.appendingPathComponent("Recipes/tiny.yaml")
        let text = try String(contentsOf: recipe, encoding: .utf8)
        try text.replacingOccurrences(of: "  user: \"65532\"", with: "  user: \"65532\"\n  env: {GREETING: hi}")
            .write(to: recipe, atomically: true, encoding: .utf8)
        let runtimeOnly = try await project.harden(["build"])
        #expect(runtimeOnly.status == 0, "stderr: \(runtimeOnly.stderr)")
        #expect(
            runtimeOnly.stderr.contains("builder: inputs unchanged since build #3, reusing \(builder.prefix(19))"),
            "\(runtimeOnly.stderr)")
        #expect(!runtimeOnly.stderr.contains("kept report"), "\(runtimeOnly.stderr)")

        // The builder copies this file: the builder stage is built again.
        try project.write("Recipes/tiny/input.txt", "changed\n")
        let changed = try await project.harden(["build"])
        #expect(changed.status == 0, "stderr: \(changed.stderr)")
        #expect(changed.stderr.contains("builder: built sha256:"), "\(changed.stderr)")

        let noCache = try await project.harden(["build", "--no-cache"])
        #expect(noCache.status == 0, "stderr: \(noCache.stderr)")
        #expect(noCache.stderr.contains("builder: built sha256:"), "\(noCache.stderr)")
        builds = try await store(project).builds()
        _ = try await CLI.shell("docker rmi -f \(Set(builds.compactMap(\.runtimeImage)).joined(separator: " "))")
    }

    @Test func aFailingStepExitsOneWithTheLogTailAndPath() async throws {
        let project = try tinyProject(run: "echo about to fail && exit 3")
        let result = try await project.harden(["build"])
        #expect(result.status == 1)
        #expect(result.stdout.contains("failed"))
        #expect(result.stdout.contains("about to fail"))
        #expect(result.stdout.contains("log: "))
        let record = try #require(try await store(project).builds().first)
        #expect(record.status == .failed)
        #expect(record.error?.contains("builder stage") == true)
    }

    @Test func aRuntimeImageRunningAsRootFailsThePolicy() async throws {
        let project = try tinyProject()
        try project.write(
            "Recipes/tiny.yaml",
            """
            name: rooty
            context: tiny
            runtime:
              from: \(Self.builderBase)
            """)
        let result = try await project.harden(["build"])
        #expect(result.status == 1)
        #expect(result.stdout.contains("failed verification"))
        #expect(result.stdout.contains("[root-user] no USER is set: the image runs as root"))
        #expect(result.stdout.contains("[shell] /usr/bin/dash is a shell"))
        let report = try #require(result.stdout.split(separator: "\n").first { $0.contains("full report: ") })
        let path = String(report.split(separator: "full report: ")[1].split(separator: ";")[0])
        #expect(FileManager.default.fileExists(atPath: path))
    }

    @Test func theVulnerabilityGateFailsTheBuildUntilTheFindingIsAccepted() async throws {
        let project = try tinyProject()
        let recipe = try String(contentsOf: project.root.appendingPathComponent("Recipes/tiny.yaml"), encoding: .utf8)
        let advisories = ["--advisories", ScanCommandTests.advisories]
        try project.write("Recipes/tiny.yaml", recipe + "\nscan:\n  fail-on: [critical, high, low]\n")
        let failed = try await project.harden(["build"] + advisories)
        #expect(failed.status == 1)
        #expect(failed.stdout.contains("failed the vulnerability gate (1 finding):"))
        #expect(failed.stdout.contains("CVE-2023-45853 (low) in zlib1g"), "\(failed.stdout)")
        #expect(failed.stderr.contains("scan (builtin): 1 findings, 1 failing the gate"))

        try project.write(
            "Recipes/tiny.yaml",
            recipe + """

                scan:
                  fail-on: [critical, high, low]
                  ignores:
                    - {id: CVE-2023-45853, package: zlib1g, reason: minizip is not built, expires: 2099-12-31}
                """)
        let passed = try await project.harden(["build"] + advisories)
        #expect(passed.status == 0, "\(passed.stdout)\(passed.stderr)")
        let line = try #require(passed.stdout.split(separator: "\n").first { $0.contains("scanned: pass") })
        #expect(line.contains("low 1"), "\(line)")
        let path = String(line.split(separator: "(").last!.dropLast())
        let report = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        #expect(report["passed"] as? Bool == true)
        // The scanned catalog is kept by image ID, for the SBOMs of a push.
        let imageID = String(path.split(separator: "/").last!.prefix(64))
        let kept = try Data(contentsOf: project.root.appendingPathComponent(".harden/catalogs/\(imageID).json"))
        #expect(String(decoding: kept, as: UTF8.self).contains("zlib1g"))

        let unscanned = try await project.harden(["build", "--force"], environment: ["HARDEN_ADVISORIES": ""])
        #expect(unscanned.status == 0)
        #expect(unscanned.stderr.contains("scan: builtin skipped, no advisories"))
    }

    @Test func ctrlCStopsTheBuildAndRecordsItInterrupted() async throws {
        // A token of its own, so no cached layer of an earlier run can stand in for the step.
        let project = try tinyProject(run: "echo sleeping \(UUID().uuidString) && sleep 300")
        let running = try CLI.start(["build"], in: project.root)
        let database = project.root.appendingPathComponent(".harden/harden.db").path
        try await waitForLog(project, containing: "sleeping")
        kill(running.process.processIdentifier, SIGINT)
        let deadline = Date().addingTimeInterval(30)
        while running.process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(100)) }
        #expect(!running.process.isRunning, "harden did not stop within 30 s of SIGINT")
        let result = running.result()
        #expect(result.status == 130)
        #expect(result.stdout.contains("interrupted"))
        let record = try #require(try await BuildStore(path: database).builds().first)
        #expect(record.status == .interrupted)
        #expect(try await CLI.shell("pgrep -f '\(project.root.path)/[.]harden/builds/' || true").output.isEmpty)
    }

    @Test func aKilledHardenIsRecordedInterruptedByTheNextRun() async throws {
        // A token of its own, so no cached layer of an earlier run can stand in for the step.
        let project = try tinyProject(run: "echo sleeping \(UUID().uuidString) && sleep 300")
        let running = try CLI.start(["build"], in: project.root)
        try await waitForLog(project, containing: "sleeping")
        kill(running.process.processIdentifier, SIGKILL)
        running.process.waitUntilExit()
        _ = running.result()

        let next = try await project.harden(["plan"])
        #expect(next.status == 0)
        #expect(next.stderr.contains("recorded as interrupted"))
        let record = try #require(try await store(project).builds().first)
        #expect(record.status == .interrupted)
        #expect(try await store(project).integrityCheck() == "ok")
        try await Task.sleep(for: .seconds(1))
        #expect(try await CLI.shell("pgrep -f '\(project.root.path)/[.]harden/builds/' || true").output.isEmpty)
    }

    /// Waits until a build log in the project's state directory contains `text`.
    func waitForLog(_ project: Project, containing text: String) async throws {
        let builds = project.root.appendingPathComponent(".harden/builds")
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            let logs =
                FileManager.default.enumerator(atPath: builds.path)?.compactMap { $0 as? String }.filter { $0.hasSuffix(".log") }
                ?? []
            for log in logs {
                if let content = try? String(contentsOf: builds.appendingPathComponent(log), encoding: .utf8),
                    content.contains(text)
                {
                    return
                }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        Issue.record("no build log contained '\(text)' within 120 s")
    }
}

/// The example recipe, end to end: build through the image map, run, answer /health.
@Suite(.serialized) struct FlaskDistrolessTests {
    @Test func buildsRunsAndAnswersHealth() async throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("harden-flask-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: state) }
        let result = try await CLI.run(
            [
                "build", "flask-distroless", "--image-map", "scripts/local-image-map.yaml", "--state", state.path, "--format",
                "json",
            ],
            in: CLI.packageRoot)
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let outcomes = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]]
        let outcome = try #require(outcomes?.first)
        #expect(outcome["status"] as? String == "succeeded")
        let image = try #require(outcome["runtimeImage"] as? String)
        #expect(FileManager.default.fileExists(atPath: try #require(outcome["imageArchive"] as? String)))

        try await CLI.withRunningApp(image) { container, address, health async throws in
            #expect(health == "{\"status\":\"ok\"}")
            let index = try await CLI.shell("curl -sf http://\(address):8080/").output
            #expect(index.contains("flask-distroless"))
            #expect(try await CLI.shell("docker exec \(container) /bin/sh -c true").status != 0, "the runtime image must have no shell")
        }
        #expect(try await CLI.shell("docker image inspect --format '{{.Config.User}}' \(image)").output == "65532")
    }
}
