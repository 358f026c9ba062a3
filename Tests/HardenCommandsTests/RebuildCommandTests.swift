import Foundation
import HardenHistory
import HardenTestSupport
import Testing

/// `rebuild --due`, `history`, `export` and `watch` against a real engine and a real
/// registry (docker-registry) on 127.0.0.1.
@Suite(.serialized) struct RebuildCommandTests {
    /// A runtime-only recipe on `base`, rebuilt when its base moves.
    func write(_ project: Project, recipe name: String, base: String, triggers: String = "[base-update]") throws {
        try project.write("Recipes/\(name)/message.txt", "\(name)\n")
        try project.write(
            "Recipes/\(name).yaml",
            """
            name: \(name)
            context: \(name)
            tags: [harden-test/\(name):latest]
            runtime:
              from: \(base)
              user: "65532"
              copy:
                - {from: context, src: message.txt, dest: /data/message.txt}
              entrypoint: [/usr/bin/python3, -c, "print(open('/data/message.txt').read().strip())"]
            schedule:
              triggers: \(triggers)
            """)
    }

    func unique(_ prefix: String) -> String { "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())" }

    func docker(_ command: String, config: URL? = nil) throws -> String {
        let prefix = config.map { "DOCKER_CONFIG='\($0.path)' " } ?? ""
        let result = try CLI.shellWaiting(prefix + "docker " + command)
        if result.status != 0 { throw TestSetupError("docker \(command) failed: \(result.output)") }
        return result.output
    }

    /// Pushes a new image under `reference` (the distroless base with another label), then points the
    /// local tag back at the old image: the registry moved, this engine did not.
    func moveInRegistry(_ reference: String, config: URL? = nil) throws -> String {
        let old = try docker("image inspect --format '{{.Id}}' \(reference)")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(unique("harden-newbase"))
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "FROM \(reference)\nLABEL harden.test.version=\"\(UUID().uuidString)\"\n"
            .write(to: directory.appendingPathComponent("Dockerfile"), atomically: true, encoding: .utf8)
        _ = try CLI.shellWaiting("DOCKER_BUILDKIT=0 docker build -q -t \(reference) \(directory.path)")
        let pushed = try docker("push \(reference)", config: config)
        _ = try docker("tag \(old) \(reference)")
        guard let digest = pushed.firstMatch(of: /digest: (sha256:[0-9a-f]{64})/)?.1 else {
            throw TestSetupError("no digest in the push output: \(pushed)")
        }
        return String(digest)
    }

    func pushedDigest(_ output: String) throws -> String {
        guard let digest = output.firstMatch(of: /digest: (sha256:[0-9a-f]{64})/)?.1 else {
            throw TestSetupError("no digest in the push output: \(output)")
        }
        return String(digest)
    }

    @Test func aBaseThatMovedInTheRegistryRebuildsExactlyTheRecipesOnIt() async throws {
        try await LocalRegistry.run { registry in
            let base = "\(registry.host)/harden-test/base:1"
            _ = try docker("tag \(DockerBuildTests.runtimeBase) \(base)")
            let firstDigest = try pushedDigest(try docker("push \(base)"))
            let project = try Project()
            let onRegistry = unique("on-registry"), onLocal = unique("on-local")
            try write(project, recipe: onRegistry, base: base)
            try write(project, recipe: onLocal, base: DockerBuildTests.runtimeBase)

            let built = try await project.harden(["build"])
            #expect(built.status == 0, "\(built.stdout)\n\(built.stderr)")
            let store = try BuildStore(path: project.root.appendingPathComponent(".harden/harden.db").path)
            let first = try #require(try await store.latestSucceeded()[onRegistry])
            #expect(first.baseDigests == [base: firstDigest])

            let quiet = try await project.harden(["rebuild", "--due", "--dry-run"])
            #expect(quiet.status == 0, "\(quiet.stderr)")
            #expect(quiet.stdout.contains("\(onRegistry): not due"), "\(quiet.stdout)")
            #expect(quiet.stdout.contains("\(onLocal): not due"), "\(quiet.stdout)")

            let newDigest = try moveInRegistry(base)
            #expect(newDigest != firstDigest)
            let dry = try await project.harden(["rebuild", "--due", "--dry-run", "--format", "json"])
            #expect(dry.status == 0, "\(dry.stderr)")
            let decisions = try JSONSerialization.jsonObject(with: Data(dry.stdout.utf8)) as? [[String: Any]] ?? []
            let due = Dictionary(uniqueKeysWithValues: decisions.compactMap { d in (d["recipe"] as? String).map { ($0, d) } })
            #expect(due[onRegistry]?["due"] as? Bool == true)
            #expect(due[onRegistry]?["triggers"] as? [String] == ["base-update"])
            #expect((due[onRegistry]?["reasons"] as? [String])?.contains { $0.contains(newDigest) } == true)
            #expect(due[onLocal]?["due"] as? Bool == false)

            let rebuilt = try await project.harden(["rebuild", "--due"])
            #expect(rebuilt.status == 0, "\(rebuilt.stdout)\n\(rebuilt.stderr)")
            #expect(rebuilt.stdout.contains("\(onRegistry) #"), "\(rebuilt.stdout)")
            #expect(!rebuilt.stdout.contains("\(onLocal) #"), "\(rebuilt.stdout)")
            let second = try #require(try await store.latestSucceeded()[onRegistry])
            #expect(second.id != first.id)
            #expect(second.trigger == "base-update")
            #expect(second.baseDigests == [base: newDigest])
            #expect(try await store.builds(recipe: onLocal).count == 1)

            let again = try await project.harden(["rebuild", "--due"])
            #expect(again.status == 0, "\(again.stderr)")
            #expect(
                again.stdout.contains("\(onRegistry): not due") && again.stdout.contains("\(onLocal): not due"), "\(again.stdout)"
            )
            #expect(try await store.builds(recipe: onRegistry).count == 2)

            let history = try await project.harden(["history", onRegistry])
            #expect(history.status == 0)
            #expect(history.stdout.contains("base-update") && history.stdout.contains("pass"), "\(history.stdout)")
            let json = try await project.harden(["history", onRegistry, "--format", "json"])
            let report = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
            let newest = (report?["builds"] as? [[String: Any]])?.first
            #expect(newest?["trigger"] as? String == "base-update")
            #expect((newest?["baseDigests"] as? [String: String])?[base] == newDigest)
            #expect((newest?["verifyReport"] as? String).map { FileManager.default.fileExists(atPath: $0) } == true)
            _ = try? docker("image rm \(base)")
        }
    }

    /// `build --push` of a recipe with `publish:`: pushed as built, signed and attested, the push
    /// kept in the history with its build; an up-to-date build pushes and signs nothing new.
    @Test func buildPushPublishesAsTheRecipeSays() async throws {
        try await LocalRegistry.run { registry in
            let project = try Project()
            let name = unique("published")
            try write(project, recipe: name, base: DockerBuildTests.runtimeBase)
            let keys = try await project.harden(["key", "generate", "--output", "keys"])
            #expect(keys.status == 0, "\(keys.stderr)")
            let recipe = project.root.appendingPathComponent("Recipes/\(name).yaml")
            let text = try String(contentsOf: recipe, encoding: .utf8)
            try (text + """

                publish:
                  to: \(registry.host)/harden-test/\(name)
                  tags: [latest, "1"]
                  sign-key: keys/harden.key
                  attest: [sbom, provenance]

                """).write(to: recipe, atomically: true, encoding: .utf8)

            let built = try await project.harden(["build", "--push", "--format", "json"])
            #expect(built.status == 0, "\(built.stdout)\n\(built.stderr)")
            let outcome = try #require((try JSONSerialization.jsonObject(with: Data(built.stdout.utf8)) as? [[String: Any]])?.first)
            let digest = try #require(outcome["manifestDigest"] as? String)
            #expect(
                outcome["published"] as? [String]
                    == ["\(registry.host)/harden-test/\(name):latest@\(digest)", "\(registry.host)/harden-test/\(name):1@\(digest)"])
            let raw = try await CLI.shell("skopeo inspect --raw --tls-verify=false docker://\(registry.host)/harden-test/\(name):1 | sha256sum")
            #expect(raw.output.hasPrefix(String(digest.dropFirst(7))), "\(raw.output)")

            let verified = try await project.harden([
                "verify-signature", "\(registry.host)/harden-test/\(name):latest", "--key", "keys/harden.pub", "--attestations",
            ])
            #expect(verified.status == 0, "\(verified.stdout)\n\(verified.stderr)")
            #expect(verified.stdout.contains("attestation https://slsa.dev/provenance/v1"), "\(verified.stdout)")
            #expect(verified.stdout.contains("attestation https://cyclonedx.org/bom"), "\(verified.stdout)")

            let store = try BuildStore(path: project.root.appendingPathComponent(".harden/harden.db").path)
            let build = try #require(try await store.latestSucceeded()[name])
            let pushes = try await store.pushes(recipe: name)
            #expect(pushes.count == 2 && pushes.allSatisfy { $0.build == build.id && $0.digest == digest })

            let again = try await project.harden(["build", "--push"])
            #expect(again.status == 0, "\(again.stdout)\n\(again.stderr)")
            #expect(again.stdout.contains("skipped") && again.stdout.contains("pushed: \(registry.host)/harden-test/\(name):1@\(digest)"), "\(again.stdout)")
            let puts = try await registry.manifestRequests("PUT", repository: "harden-test/\(name)", expected: 0)
            // First run: 2 tags, then 4 bundles (signature, 2 SBOMs, provenance) each with its manifest
            // and tag index; the second run puts only the 2 tags again.
            #expect(puts == 2 + 4 * 2 + 2, "\(puts) manifest PUTs")
        }
    }

    @Test func aRegistryWithBasicAuthIsAskedWithTheDockerConfigLogin() async throws {
        try await LocalRegistry.run(auth: .htpasswd(user: "builder", password: "s3cret")) { registry in
            let config = FileManager.default.temporaryDirectory.appendingPathComponent(unique("harden-docker-config"))
            try FileManager.default.createDirectory(at: config, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: config) }
            let login = try await CLI.shell(
                "echo s3cret | DOCKER_CONFIG='\(config.path)' docker login -u builder --password-stdin \(registry.host)")
            #expect(login.status == 0, "\(login.output)")
            let base = "\(registry.host)/harden-test/private:1"
            _ = try docker("tag \(DockerBuildTests.runtimeBase) \(base)")
            _ = try docker("push \(base)", config: config)
            let project = try Project()
            let name = unique("private")
            try write(project, recipe: name, base: base)
            let built = try await project.harden(["build"], environment: ["DOCKER_CONFIG": config.path])
            #expect(built.status == 0, "\(built.stderr)")

            let newDigest = try moveInRegistry(base, config: config)
            let due = try await project.harden(["rebuild", "--due", "--dry-run"], environment: ["DOCKER_CONFIG": config.path])
            #expect(due.stdout.contains("\(name): due (base-update)"), "\(due.stdout)\n\(due.stderr)")
            #expect(due.stdout.contains(newDigest))

            // Without the login the registry is not asked; the decision says why.
            let empty = config.appendingPathComponent("empty")
            try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
            let anonymous = try await project.harden(
                ["rebuild", "--due", "--dry-run"], environment: ["DOCKER_CONFIG": empty.path])
            #expect(anonymous.status == 0)
            #expect(anonymous.stdout.contains("\(name): not due"), "\(anonymous.stdout)")
            #expect(
                anonymous.stdout.contains("registry not asked") && anonymous.stdout.contains("docker login"),
                "\(anonymous.stdout)")
            _ = try? docker("image rm \(base)")
        }
    }

    @Test func exportWritesAWorkflowAndCronJobsFromTheRecipes() async throws {
        let project = try Project()
        try write(project, recipe: "nightly", base: DockerBuildTests.runtimeBase, triggers: "[]")
        try project.write(
            "Recipes/nightly.yaml",
            (try String(contentsOf: project.root.appendingPathComponent("Recipes/nightly.yaml"), encoding: .utf8))
                .replacingOccurrences(of: "  triggers: []", with: "  cron: \"0 3 * * *\"\n  timezone: Europe/Berlin"))
        let workflow = try await project.harden(["export", "github-actions"])
        #expect(workflow.status == 0, "\(workflow.stderr)")
        #expect(workflow.stdout.contains("harden rebuild --due"))
        let jobs = try await project.harden(["export", "kubernetes", "--image", "example/harden:1", "--output", "cronjobs.yaml"])
        #expect(jobs.status == 0, "\(jobs.stderr)")
        let text = try String(contentsOf: project.root.appendingPathComponent("cronjobs.yaml"), encoding: .utf8)
        #expect(text.contains("kind: CronJob") && text.contains("timeZone: \"Europe/Berlin\"") && text.contains("\"0 3 * * *\""))
        let bad = try await project.harden(["export", "kubernetes", "--check-every", "*/61 * * * *"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("--check-every"))
        let remoteWithoutHost = try await project.harden(["export", "kubernetes", "--engine", "remote"])
        #expect(remoteWithoutHost.status == 2 && remoteWithoutHost.stderr.contains("--engine remote needs --docker-host"))
    }

    /// What the exports write is checked by the tools those platforms' users run: every
    /// Kubernetes document against the Kubernetes schemas, the workflow with actionlint.
    @Test(arguments: [
        ["--history-secret", "harden-history", "--registry-secret", "regcred"],
        ["--engine", "remote", "--docker-host", "tcp://engine.example:2376", "--engine-tls-secret", "engine-tls"],
        [],
    ])
    func exportsValidateWithKubernetesSchemasAndActionlint(options: [String]) async throws {
        let project = try Project()
        try write(project, recipe: "nightly", base: DockerBuildTests.runtimeBase, triggers: "[base-update]")
        let jobs = try await project.harden(["export", "kubernetes", "--output", "harden.yaml"] + options)
        #expect(jobs.status == 0, "\(jobs.stderr)")
        let manifest = project.root.appendingPathComponent("harden.yaml").path
        let validated = try await CLI.shell("kubernetes-validate --strict \(manifest) 2>&1")
        #expect(validated.status == 0, "\(validated.output)")
        let text = try String(contentsOfFile: manifest, encoding: .utf8)
        if options.contains("--history-secret") {
            #expect(text.contains("secretKeyRef: {name: \"harden-history\", key: url}") && text.contains("emptyDir: {}"))
            #expect(text.contains("kind: Deployment") && text.contains("DOCKER_HOST") && text.contains(":2376"))
        } else if options.contains("remote") {
            #expect(!text.contains("kind: Deployment") && text.contains("tcp://engine.example:2376"))
            #expect(text.contains("secretName: \"engine-tls\""))
        } else {
            #expect(jobs.stderr.contains("no --history-secret"), "\(jobs.stderr)")
            #expect(text.contains("persistentVolumeClaim"))
        }

        try project.write(".github/workflows/placeholder", "")
        let workflow = try await project.harden(["export", "github-actions", "--output", ".github/workflows/harden.yaml"])
        #expect(workflow.status == 0, "\(workflow.stderr)")
        let linted = try await CLI.shell("cd \(project.root.path) && actionlint -no-color .github/workflows/harden.yaml 2>&1")
        #expect(linted.status == 0, "\(linted.output)")
        let flow = try String(
            contentsOf: project.root.appendingPathComponent(".github/workflows/harden.yaml"), encoding: .utf8)
        #expect(flow.contains("HARDEN_HISTORY: ${{ secrets.HARDEN_HISTORY }}") && flow.contains("if: env.HARDEN_HISTORY == ''"))
    }

    @Test func watchStopsAtOnceWhenIdleAndInterruptsARunningBuild() async throws {
        let project = try Project()
        let name = unique("watched")
        try write(project, recipe: name, base: DockerBuildTests.runtimeBase)
        #expect(try await project.harden(["build"]).status == 0)

        // Idle: nothing due; SIGTERM ends it with status 0.
        let idle = try CLI.start(["watch", "--interval", "1h"], in: project.root)
        let sleeping = try await waitFor(idle) { $0.contains("next check at") }
        #expect(sleeping, "watch never went to sleep")
        kill(idle.process.processIdentifier, SIGTERM)
        idle.process.waitUntilExit()
        let idleResult = idle.result()
        #expect(idleResult.status == 0, "\(idleResult.stderr)")
        #expect(idleResult.stderr.contains("harden watch: stopped"))

        // Busy: a never-built recipe whose builder sleeps; SIGTERM interrupts and records it.
        let slow = unique("slow")
        try project.write("Recipes/\(slow)/x.txt", "x\n")
        try project.write(
            "Recipes/\(slow).yaml",
            """
            name: \(slow)
            context: \(slow)
            builder:
              from: \(DockerBuildTests.builderBase)
              run: ["echo \(slow) && sleep 60"]
            runtime:
              from: \(DockerBuildTests.runtimeBase)
              user: "65532"
            """)
        let busy = try CLI.start(["watch", "--interval", "1h", slow], in: project.root)
        let building = try await waitFor(busy) { $0.contains("\(slow) builder: step") || $0.contains("Step 2/") }
        #expect(building, "the build never started")
        try await Task.sleep(for: .seconds(1))
        kill(busy.process.processIdentifier, SIGTERM)
        busy.process.waitUntilExit()
        let busyResult = busy.result()
        #expect(busyResult.status == 130, "\(busyResult.stdout)\n\(busyResult.stderr)")
        let store = try BuildStore(path: project.root.appendingPathComponent(".harden/harden.db").path)
        #expect(try await store.builds(recipe: slow).first?.status == .interrupted)
        #expect(try await store.integrityCheck() == "ok")
    }

    /// A recipe that watch rebuilds is pushed as its publish: says, then watch sleeps again.
    @Test func watchPushesWhatItRebuilt() async throws {
        try await LocalRegistry.run { registry in
            let project = try Project()
            let name = unique("watchpush")
            try write(project, recipe: name, base: DockerBuildTests.runtimeBase)
            let recipe = project.root.appendingPathComponent("Recipes/\(name).yaml")
            let text = try String(contentsOf: recipe, encoding: .utf8)
            try (text + "\npublish:\n  to: \(registry.host)/harden-test/\(name)\n  tags: [\"1\"]\n")
                .write(to: recipe, atomically: true, encoding: .utf8)
            let watching = try CLI.start(["watch", "--interval", "1h", name], in: project.root)
            let slept = try await waitFor(watching) { $0.contains("next check at") }
            kill(watching.process.processIdentifier, SIGTERM)
            watching.process.waitUntilExit()
            let result = watching.result()
            #expect(slept && result.status == 0, "\(result.stdout)\n\(result.stderr)")
            #expect(result.stderr.contains("publish: \(name) → \(registry.host)/harden-test/\(name):1"), "\(result.stderr)")
            let store = try BuildStore(path: project.root.appendingPathComponent(".harden/harden.db").path)
            let pushes = try await store.pushes(recipe: name)
            let digest = try #require(pushes.first?.digest)
            let raw = try await CLI.shell(
                "skopeo inspect --raw --tls-verify=false docker://\(registry.host)/harden-test/\(name):1 | sha256sum")
            #expect(raw.output.hasPrefix(String(digest.dropFirst(7))), "\(raw.output)")
        }
    }

    /// Waits up to 120 s (see `poll`) for the process's stderr to satisfy `condition`; false
    /// at once if the process ended without it.
    func waitFor(_ running: CLI.Running, _ condition: (String) -> Bool) async throws -> Bool {
        try await poll(seconds: 120) { () -> Bool? in
            let text = (try? String(contentsOf: running.stderrFile, encoding: .utf8)) ?? ""
            if condition(text) { return true }
            return running.process.isRunning ? nil : false
        } ?? false
    }
}
