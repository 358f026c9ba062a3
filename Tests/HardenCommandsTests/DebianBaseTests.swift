import Foundation
import HardenArchive
import HardenDebian
import HardenImage
import HardenPlan
import HardenRecipe
import HardenTestSupport
import Testing

/// A runtime made from Debian packages, end to end on the real engine: the test's signed apt
/// repository on 127.0.0.1, `harden lock`, a build that assembles the base, the same digest from
/// a second state directory, and `package-update` when the mirror has a newer locked package.
@Suite(.serialized) struct DebianBaseTests {
    static func recipe(name: String, mirror: URL, keyring: String) -> String {
        """
        name: \(name)
        context: app
        tags: [harden-test/\(name):latest]
        runtime:
          from:
            debian:
              suite: bookworm
              packages: [libfoo, ca-certificates]
              mirror: \(mirror.absoluteString)
              keyring: \(keyring)
          user: "65532"
          copy:
            - {from: context, src: hello.txt, dest: /data/hello.txt}
        policy:
          disable: [missing-executable]  # the test packages hold no program
        scan:
          scanners: []
        schedule:
          triggers: [package-update]
        """
    }

    /// The files of a saved image, by path.
    static func files(_ archive: String) throws -> [String: FileNode] {
        try ImageReader().read(archive).filesystem.nodes
    }

    @Test(.timeLimit(.minutes(10))) func aLockedDebianBaseBuildsReproduciblyAndItsUpdatesAreTriggers() async throws {
        let repository = try await LocalAptRepository.shared()
        let project = try Project()
        let name = "deb-\(UUID().uuidString.prefix(8).lowercased())"
        try project.write("Recipes/app/hello.txt", "hello\n")
        try await serving(repository.root) { mirror in
            try project.write("Recipes/deb.yaml", Self.recipe(name: name, mirror: mirror, keyring: repository.keyring))

            // No lock yet: the plan says so, and the lock is written with what was left out.
            let plan = try await project.harden(["plan"])
            #expect(plan.status == 0, "stderr: \(plan.stderr)")
            #expect(plan.stdout.contains("no lock file deb.lock.yaml yet"), "\(plan.stdout)")
            let locked = try await project.harden(["lock", "deb"])
            #expect(locked.status == 0, "stderr: \(locked.stderr)")
            #expect(locked.stderr.contains("3 packages locked in Recipes/deb.lock.yaml"), "\(locked.stderr)")
            #expect(locked.stderr.contains("left out on purpose: ca-certificates 20230311 depends on debconf"))
            let lockFile = project.root.appendingPathComponent("Recipes/deb.lock.yaml")
            let lock = try #require(try PackageLock.read(lockFile))
            #expect(lock.packages.map(\.name) == ["ca-certificates", "libc6", "libfoo"])
            #expect(lock.packages.first { $0.name == "libfoo" }?.version == "1.3-1+deb12u1")
            #expect(lock.packages.first { $0.name == "libfoo" }?.suite == "bookworm-security")

            // Pinned to the older libfoo, as a lock written before the security update would be.
            let loaded = try RecipeLoader(root: project.root).load(files: [project.root.appendingPathComponent("Recipes/deb.yaml")])
            let base = try #require(loaded.first?.recipe.runtime?.debian)
            var spec = DebianBases.spec(base)
            spec.security = false
            let scratch = project.root.appendingPathComponent("scratch-cache")
            var old = try await DebianBaseBuilder(cache: BlobCache(directory: scratch)).lock(
                spec, recipe: name, request: DebianBases.request(base))
            old.recipe = name
            try old.yaml(recipeFile: "Recipes/deb.yaml").write(to: lockFile, atomically: true, encoding: .utf8)
            #expect(old.packages.first { $0.name == "libfoo" }?.version == "1.2-1")

            let first = try await project.harden(["build", "--format", "json"])
            #expect(first.status == 0, "stderr: \(first.stderr)")
            #expect(first.stderr.contains("base: assembled 3 packages into sha256:"), "\(first.stderr)")
            #expect(
                first.stderr.contains(
                    "ca-certificates: postinst not run; instead: harden wrote /etc/ssl/certs/ca-certificates.crt from 2 certificates"))
            #expect(first.stderr.contains("verify: pass"))
            let outcome = try #require(
                try JSONSerialization.jsonObject(with: Data(first.stdout.utf8)) as? [[String: Any]]
            ).first
            let image = try #require(outcome?["runtimeImage"] as? String)
            let archive = try #require(outcome?["imageArchive"] as? String)
            let files = try Self.files(archive)
            #expect(files["/data/hello.txt"] != nil)
            #expect(files["/var/lib/dpkg/status.d/libfoo"] != nil)
            #expect(files["/etc/ssl/certs/ca-certificates.crt"] != nil)
            #expect(files["/usr/lib/os-release"] != nil && files["/etc/os-release"] != nil)
            #expect(files["/bin/sh"] == nil && files["/usr/bin/dpkg"] == nil)

            // A clean second build (its own state directory, the base assembled again) gives the same image.
            let tag = DebianBases.tag(recipe: name, lock: old)
            _ = try await CLI.shell("docker rmi \(tag)")
            let second = try await project.harden(["build", "--state", ".harden-second", "--format", "json"])
            #expect(second.status == 0, "stderr: \(second.stderr)")
            #expect(second.stderr.contains("base: assembled 3 packages"))
            let secondOutcome = try #require(
                try JSONSerialization.jsonObject(with: Data(second.stdout.utf8)) as? [[String: Any]]
            ).first
            #expect(secondOutcome?["runtimeImage"] as? String == image)

            // The mirror has libfoo 1.3 in bookworm-security: due, and the rebuild refreshes the lock.
            let dry = try await project.harden(["rebuild", "--due", "--dry-run"])
            #expect(dry.status == 0, "stderr: \(dry.stderr)")
            #expect(dry.stdout.contains("\(name): due (package-update); refresh the lock"), "\(dry.stdout)")
            #expect(dry.stdout.contains("package libfoo 1.2-1 → 1.3-1+deb12u1 (bookworm-security)"), "\(dry.stdout)")
            let rebuilt = try await project.harden(["rebuild", "--due", "--format", "json"])
            #expect(rebuilt.status == 0, "stderr: \(rebuilt.stderr)")
            #expect(rebuilt.stderr.contains("lock refreshed (deb.lock.yaml)"))
            let refreshed = try #require(try PackageLock.read(lockFile))
            #expect(refreshed.packages.first { $0.name == "libfoo" }?.version == "1.3-1+deb12u1")
            let history = try await project.harden(["history", "--format", "json"])
            #expect(history.stdout.contains("package libfoo 1.2-1 → 1.3-1+deb12u1 (bookworm-security)"))
            #expect(history.stdout.contains("\"trigger\" : \"package-update\""), "\(history.stdout)")
            let after = try await project.harden(["rebuild", "--due", "--dry-run"])
            #expect(after.stdout.contains("\(name): not due"), "\(after.stdout)")
            _ = try await CLI.shell("docker rmi harden-test/\(name):latest \(DebianBases.tag(recipe: name, lock: refreshed))")
        }
    }

    /// `users` and `layering`: the runtime runs as the recipe's account, the base has a layer
    /// per group, and changing either keeps the lock (they are not resolution settings).
    @Test(.timeLimit(.minutes(10))) func accountsAndLayersShapeTheBaseAndKeepTheLock() async throws {
        let repository = try await LocalAptRepository.shared()
        let project = try Project()
        let name = "deb-\(UUID().uuidString.prefix(8).lowercased())"
        try project.write("Recipes/app/hello.txt", "hello\n")
        try await serving(repository.root) { mirror in
            let plain = Self.recipe(name: name, mirror: mirror, keyring: repository.keyring)
            let shaped = plain.replacingOccurrences(
                of: "      keyring: \(repository.keyring)\n",
                with: "      keyring: \(repository.keyring)\n      users: [{name: app, uid: 10001}]\n      layering: [[libc6]]\n"
            ).replacingOccurrences(of: "user: \"65532\"", with: "user: app")
            try project.write("Recipes/deb.yaml", plain)
            #expect(try await project.harden(["lock", "deb"]).status == 0)
            let lockFile = project.root.appendingPathComponent("Recipes/deb.lock.yaml")
            let lock = try String(contentsOf: lockFile, encoding: .utf8)
            try project.write("Recipes/deb.yaml", shaped)
            let plan = try await project.harden(["plan"])
            #expect(plan.status == 0 && !plan.stdout.contains("resolves the packages again"), "\(plan.stdout)")

            let build = try await project.harden(["build", "--format", "json"])
            #expect(build.status == 0, "stderr: \(build.stderr)")
            #expect(build.stderr.contains("MB, 2 layers)"), "\(build.stderr)")
            #expect(try String(contentsOf: lockFile, encoding: .utf8) == lock, "the lock is kept")
            let outcome = try #require(try JSONSerialization.jsonObject(with: Data(build.stdout.utf8)) as? [[String: Any]]).first
            let image = try #require(outcome?["runtimeImage"] as? String)
            let inspect = try await CLI.shell("docker image inspect --format '{{.Config.User}} {{len .RootFS.Layers}}' \(image)")
            #expect(inspect.output == "app 3", "two base layers and the copy: \(inspect.output)")
            let files = try Self.files(try #require(outcome?["imageArchive"] as? String))
            #expect(files["/home/app"]?.uid == 10001)
            let loaded = try #require(
                try RecipeLoader(root: project.root).load(files: [project.root.appendingPathComponent("Recipes/deb.yaml")]).first)
            let tag = try #require(try DebianBases.plan(for: loaded)?.tag)
            let passwd = try await CLI.shell("docker create \(tag) x | xargs -I{} sh -c 'docker cp {}:/etc/passwd - | tar -xO; docker rm {} >/dev/null'")
            #expect(passwd.output.hasSuffix("app:x:10001:10001:app:/home/app:/sbin/nologin"), "\(passwd.output)")
            _ = try await CLI.shell("docker rmi harden-test/\(name):latest \(tag)")
        }
    }

    @Test func aDamagedLockIsAClearErrorAndNothingIsBuilt() async throws {
        let project = try Project()
        try project.write("Recipes/app/hello.txt", "hello\n")
        try project.write(
            "Recipes/deb.yaml",
            Self.recipe(name: "deb-damaged", mirror: URL(string: "http://127.0.0.1:9")!, keyring: "/nonexistent"))
        try project.write("Recipes/deb.lock.yaml", "lock-version: 1\npackages: {}\n")
        let plan = try await project.harden(["build"])
        #expect(plan.status == 2)
        #expect(plan.stderr.contains("deb.lock.yaml: not a harden lock file"), "\(plan.stderr)")
        try project.write("Recipes/deb.lock.yaml", "lock-version: 99\n")
        let newer = try await project.harden(["plan"])
        #expect(newer.status == 2)
        #expect(newer.stderr.contains("not a harden lock file") || newer.stderr.contains("newer than this harden reads"))
        #expect(!FileManager.default.fileExists(atPath: project.root.appendingPathComponent(".harden/builds").path))
    }
}

/// The example recipe against Debian's real mirror (the host's apt sources): its runtime is
/// assembled from the locked bookworm packages, runs the Flask app, passes `harden verify`,
/// lists the lock's packages to trivy and syft, and builds to the same digest twice.
@Suite(.serialized) struct FlaskDebianTests {
    static func reachable() async -> Bool {
        guard let lock = try? PackageLock.read(CLI.packageRoot.appendingPathComponent("Recipes/flask-debian.lock.yaml")),
            let first = lock.packages.first, let mirror = lock.mirror(of: first)
        else { return false }
        return (try? await CLI.shell("curl -sfI -m 5 '\(mirror.appendingPathComponent(first.filename))'").status) == 0
    }

    func build(state: URL) async throws -> [String: Any] {
        let result = try await CLI.run(
            ["build", "flask-debian", "--image-map", "scripts/local-image-map.yaml", "--state", state.path, "--format", "json"],
            in: CLI.packageRoot)
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let outcomes = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]]
        return try #require(outcomes?.first)
    }

    @Test(.enabled("skipped: the mirror is unreachable") { await reachable() }, .timeLimit(.minutes(15)))
    func runsTheAppListsTheLockedPackagesAndBuildsTheSameTwice() async throws {
        let lock = try #require(try PackageLock.read(CLI.packageRoot.appendingPathComponent("Recipes/flask-debian.lock.yaml")))
        // The base's tag stays in the engine: ReproducibleBuildTests builds on it at the same time.
        let states = (0..<2).map { _ in
            FileManager.default.temporaryDirectory.appendingPathComponent("harden-flask-debian-\(UUID().uuidString)")
        }
        defer { for state in states { try? FileManager.default.removeItem(at: state) } }
        let outcome = try await build(state: states[0])
        #expect(outcome["status"] as? String == "succeeded")
        let image = try #require(outcome["runtimeImage"] as? String)
        let archive = try #require(outcome["imageArchive"] as? String)

        try await CLI.withRunningApp(image) { container, _, health async throws in
            #expect(health == "{\"status\":\"ok\"}")
            #expect(try await CLI.shell("docker exec \(container) /bin/sh -c true").status != 0, "the runtime image must have no shell")
        }
        let verify = try await CLI.run(["verify", archive], in: CLI.packageRoot)
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")

        // trivy and syft see exactly the locked Debian packages.
        let locked = Set(lock.packages.map { "deb \($0.name) \($0.version)" })
        let scratch = states[0].appendingPathComponent("sboms")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let syft = scratch.appendingPathComponent("syft.json").path
        #expect(try await CLI.shell("syft scan 'docker-archive:\(archive)' -q -o 'cyclonedx-json=\(syft)'").status == 0)
        let trivy = scratch.appendingPathComponent("trivy.json").path
        #expect(
            try await CLI.shell("trivy image --input '\(archive)' --format cyclonedx --output '\(trivy)' --quiet --cache-backend memory")
                .status == 0)
        for (scanner, path) in [("syft", syft), ("trivy", trivy)] {
            let debs = try ScanCommandTests.packages(inCycloneDX: path).filter { $0.hasPrefix("deb ") }
            #expect(debs == locked, "\(scanner) only: \(debs.subtracting(locked)); lock only: \(locked.subtracting(debs))")
        }

        // A clean second build: another state directory.
        let second = try await build(state: states[1])
        #expect(second["runtimeImage"] as? String == image)
    }

    /// A lock written before bookworm-security's updates (resolved without -security and
    /// -updates), built once: the real mirror's newer versions make `package-update` fire.
    @Test(.enabled("skipped: the mirror is unreachable") { await reachable() }, .timeLimit(.minutes(15)))
    func aLockOlderThanBookwormSecurityMakesPackageUpdateFire() async throws {
        let project = try Project()
        let files = FileManager.default
        for path in ["Recipes/flask-debian.yaml", "Recipes/flask-distroless", "scripts/local-image-map.yaml"] {
            try files.createDirectory(
                at: project.root.appendingPathComponent(path).deletingLastPathComponent(), withIntermediateDirectories: true)
            try files.copyItem(at: CLI.packageRoot.appendingPathComponent(path), to: project.root.appendingPathComponent(path))
        }
        let recipeFile = project.root.appendingPathComponent("Recipes/flask-debian.yaml")
        let base = try #require(try RecipeLoader(root: project.root).load(files: [recipeFile]).first?.recipe.runtime?.debian)
        var spec = DebianBases.spec(base)
        spec.security = false
        spec.updates = false
        var old = try await DebianBaseBuilder(cache: BlobCache(directory: project.root.appendingPathComponent(".harden/debian")))
            .lock(spec, recipe: "flask-debian", request: DebianBases.request(base))
        old.recipe = "flask-debian"
        let lockFile = PackageLock.file(beside: recipeFile)
        try old.yaml(recipeFile: "Recipes/flask-debian.yaml").write(to: lockFile, atomically: true, encoding: .utf8)
        let current = try #require(try PackageLock.read(CLI.packageRoot.appendingPathComponent("Recipes/flask-debian.lock.yaml")))
        let patched = current.packages.filter { package in
            package.suite == "bookworm-security" && old.packages.contains { $0.name == package.name && $0.version != package.version }
        }
        try #require(!patched.isEmpty, "the example's lock has packages from bookworm-security")

        let map = ["--image-map", "scripts/local-image-map.yaml"]
        let build = try await project.harden(["build", "--format", "json"] + map)
        #expect(build.status == 0, "stderr: \(build.stderr)")
        let dry = try await project.harden(["rebuild", "--due", "--dry-run"] + map)
        #expect(dry.status == 0, "stderr: \(dry.stderr)")
        #expect(dry.stdout.contains("flask-debian: due (package-update"), "\(dry.stdout)")
        for package in patched {
            let was = try #require(old.packages.first { $0.name == package.name }).version
            #expect(dry.stdout.contains("package \(package.name) \(was) → "), "\(package.name): \(dry.stdout)")
        }
        #expect(dry.stdout.contains("(bookworm-security)"), "\(dry.stdout)")
        _ = try await CLI.shell("docker rmi \(DebianBases.tag(recipe: "flask-debian", lock: old))")
    }
}
