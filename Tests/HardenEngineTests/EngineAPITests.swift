import Foundation
import HardenArchive
import HardenTestSupport
import Testing

@testable import HardenEngine

/// The engine's API against a real engine, next to the docker client doing the same thing.
@Suite struct EngineAPITests {
    static let base = "harden-local/python:3.11-slim"
    let cli = DockerClient()
    let api = DockerClient(engine: EngineAPI.local(environment: [:]))

    /// A context with a kept file, an ignored one, a directory, a symlink and a .dockerignore.
    func makeContext() throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("harden-engine-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("app/sub"), withIntermediateDirectories: true)
        try "print('hi')\n".write(to: root.appendingPathComponent("app/main.py"), atomically: true, encoding: .utf8)
        try "#!/bin/sh\n".write(to: root.appendingPathComponent("app/sub/run.sh"), atomically: true, encoding: .utf8)
        chmod(root.appendingPathComponent("app/sub/run.sh").path, 0o750)
        try "secret\n".write(to: root.appendingPathComponent("notes.md"), atomically: true, encoding: .utf8)
        try "*.md\n".write(to: root.appendingPathComponent(".dockerignore"), atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(
            atPath: root.appendingPathComponent("link").path, withDestinationPath: "app/main.py")
        return root
    }

    func writeDockerfile(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("harden-engine-\(UUID().uuidString).Dockerfile")
        try text.write(to: path, atomically: true, encoding: .utf8)
        return path.path
    }

    /// Builds with the docker client, then over the API, logs and ID files in `directory`; the two image IDs.
    func buildBothWays(
        dockerfile: String, context: URL, in directory: String, buildArgs: [String: String] = [:],
        onLine: (@Sendable (String) -> Void)? = nil
    ) async throws -> (client: String, api: String) {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let viaClient = try await cli.build(
            dockerfile: dockerfile, context: context.path, target: nil, tags: [], iidFile: "\(directory)/client.iid",
            logFile: "\(directory)/client.log", noCache: false, pull: false, buildArgs: buildArgs, onLine: nil
        ).imageID
        let viaAPI = try await api.build(
            dockerfile: dockerfile, context: context.path, target: nil, tags: [], iidFile: "\(directory)/api.iid",
            logFile: "\(directory)/api.log", noCache: false, pull: false, buildArgs: buildArgs, onLine: onLine
        ).imageID
        return (viaClient, viaAPI)
    }

    @Test func contextTarHoldsWhatTheClientSends() throws {
        let context = try makeContext()
        defer { try? FileManager.default.removeItem(at: context) }
        let dockerfile = try writeDockerfile("FROM scratch\n")
        let tar = context.path + ".tar"
        defer { unlink(tar); unlink(dockerfile) }
        let name = try BuildContextTar.write(context: context, dockerfile: dockerfile, to: tar)

        let reader = try ArchiveReader(path: tar)
        var entries: [String: (ArchiveEntry, Data)] = [:]
        while let entry = try reader.next() { entries[entry.path] = (entry, try reader.readData(limit: 1 << 20)) }
        #expect(Set(entries.keys) == ["app/", "app/main.py", "app/sub/", "app/sub/run.sh", "link", name, ".dockerignore"])
        #expect(entries.values.allSatisfy { $0.0.uid == 0 && $0.0.gid == 0 })
        #expect(entries["app/sub/run.sh"]?.0.mode == 0o750)
        #expect(entries["app/"]?.0.type == .directory)
        #expect(entries["link"]?.0.symlinkTarget == "app/main.py")
        #expect(entries[name]?.1 == Data("FROM scratch\n".utf8))
        #expect(String(decoding: entries[".dockerignore"]?.1 ?? Data(), as: UTF8.self) == "*.md\n\n\(name)\n")
    }

    @Test func contextTarNamesTheDockerfileAroundAFileOfThatName() throws {
        let context = try makeContext()
        defer { try? FileManager.default.removeItem(at: context) }
        try FileManager.default.removeItem(at: context.appendingPathComponent(".dockerignore"))
        try "mine\n".write(to: context.appendingPathComponent(".dockerfile.harden"), atomically: true, encoding: .utf8)
        let dockerfile = try writeDockerfile("FROM scratch\n")
        let tar = context.path + ".tar"
        defer { unlink(tar); unlink(dockerfile) }
        let name = try BuildContextTar.write(context: context, dockerfile: dockerfile, to: tar)
        #expect(name != ".dockerfile.harden")

        let reader = try ArchiveReader(path: tar)
        var contents: [String: String] = [:]
        while let entry = try reader.next() {
            contents[entry.path] = String(decoding: try reader.readData(limit: 1 << 20), as: UTF8.self)
        }
        #expect(contents[".dockerfile.harden"] == "mine\n")
        #expect(contents["notes.md"] == "secret\n")
        #expect(contents[".dockerignore"] == ".dockerignore\n\(name)\n")
    }

    /// A Dockerfile inside the context goes as itself, with `.dockerignore` unchanged, even
    /// when both are ignored, as the client sends them: so even `COPY .` hits the client's cache.
    @Test func aDockerfileInsideTheContextGoesAsTheClientSendsIt() async throws {
        let context = try makeContext()
        defer { try? FileManager.default.removeItem(at: context) }
        let ignore = "*.md\ndocker\n.dockerignore\n"
        try ignore.write(to: context.appendingPathComponent(".dockerignore"), atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(at: context.appendingPathComponent("docker"), withIntermediateDirectories: true)
        try "ignored\n".write(to: context.appendingPathComponent("docker/notes.txt"), atomically: true, encoding: .utf8)
        let dockerfile = context.appendingPathComponent("docker/Dockerfile")
        try "FROM \(Self.base)\nCOPY . /all\nRUN echo \(UUID().uuidString) && ls -lnAR /all > /listing\n"
            .write(to: dockerfile, atomically: true, encoding: .utf8)

        let tar = context.path + ".tar"
        defer { unlink(tar) }
        #expect(try BuildContextTar.write(context: context, dockerfile: dockerfile.path, to: tar) == "docker/Dockerfile")
        let reader = try ArchiveReader(path: tar)
        var contents: [String: String] = [:]
        while let entry = try reader.next() {
            contents[entry.path] = String(decoding: try reader.readData(limit: 1 << 20), as: UTF8.self)
        }
        #expect(
            Set(contents.keys) == [
                "app/", "app/main.py", "app/sub/", "app/sub/run.sh", "link", "docker/Dockerfile", ".dockerignore",
            ])
        #expect(contents[".dockerignore"] == ignore)

        let directory = context.path + "-build"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (viaClient, viaAPI) = try await buildBothWays(dockerfile: dockerfile.path, context: context, in: directory)
        #expect(viaAPI == viaClient)
        let listing = try runDocker(["run", "--rm", viaAPI, "cat", "/listing"])
        #expect(listing.contains("main.py"))
        #expect(!listing.contains("Dockerfile") && !listing.contains("notes.txt") && !listing.contains(".dockerignore"))
        _ = try? runDocker(["image", "rm", viaAPI])
    }

    /// Hardlinks go as links and file capabilities as `security.capability`, as the client sends
    /// them: the same image, from the client's cache.
    @Test func hardlinksAndCapabilitiesGoAsTheClientSendsThem() async throws {
        let context = try makeContext()
        defer { try? FileManager.default.removeItem(at: context) }
        let first = context.appendingPathComponent("app/bind")
        try "#!/bin/sh\n".write(to: first, atomically: true, encoding: .utf8)
        try FileManager.default.linkItem(at: first, to: context.appendingPathComponent("app/bind-again"))
        // cap_net_bind_service=ep, as setcap writes it (it needs CAP_SETFCAP and a file system with
        // extended attributes; without them only the links are checked).
        let capable =
            (try? await runTool(
                "/usr/bin/env",
                [
                    "python3", "-c",
                    "import os, sys; os.setxattr(sys.argv[1], 'security.capability', bytes.fromhex(sys.argv[2]))",
                    first.path, "0100000200040000000000000000000000000000",
                ])) != nil
        let dockerfile = context.appendingPathComponent("Dockerfile")
        try """
        FROM \(Self.base)
        COPY . /all
        RUN python3 -c "import os; print(os.stat('/all/app/bind').st_nlink)" > /facts
        """.write(to: dockerfile, atomically: true, encoding: .utf8)

        let tar = context.path + ".tar"
        defer { unlink(tar) }
        _ = try BuildContextTar.write(context: context, dockerfile: dockerfile.path, to: tar)
        let reader = try ArchiveReader(path: tar)
        var entries: [String: ArchiveEntry] = [:]
        while let entry = try reader.next() { entries[entry.path] = entry }
        #expect(entries["app/bind"]?.type == .regular)
        if capable {
            #expect(entries["app/bind"]?.xattrs["security.capability"]?.count == 20)
        }
        #expect(entries["app/bind-again"]?.type == .hardlink)
        #expect(entries["app/bind-again"]?.hardlinkTarget == "app/bind")

        let directory = context.path + "-build"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (viaClient, viaAPI) = try await buildBothWays(dockerfile: dockerfile.path, context: context, in: directory)
        #expect(viaAPI == viaClient)
        let facts = try runDocker(["run", "--rm", viaAPI, "cat", "/facts"])
        // The classic builder's COPY keeps the link but drops the attribute, for either client.
        #expect(facts.trimmingCharacters(in: .whitespacesAndNewlines) == "2")
        _ = try? runDocker(["image", "rm", viaAPI])
    }

    @Test func inspectAnswersAsTheClientDoes() async throws {
        let references = [
            Self.base, "harden-local/python3-debian12:nonroot",
            "harden-test/absent-\(UUID().uuidString.prefix(8).lowercased()):1",
        ]
        // Other suites tag the shared bases while this runs: a pair of looks that differ is taken
        // again, up to five times, so only a lasting difference fails.
        var viaClient = try await cli.inspect(references)
        var viaAPI = try await api.inspect(references)
        for _ in 0..<4 where viaAPI != viaClient {
            viaClient = try await cli.inspect(references)
            viaAPI = try await api.inspect(references)
        }
        #expect(viaAPI.count == 2)
        #expect(viaAPI == viaClient)
        let id = try #require(viaAPI[Self.base]?.id)
        #expect(try await api.inspect([id])[id]?.id == id)

        // Enough references for several connections at once: the same answers.
        let many =
            references + [id, String(id.dropFirst("sha256:".count).prefix(12))]
            + (0..<60).map { "harden-test/absent-\($0):\(UUID().uuidString.prefix(6).lowercased())" }
        var manyViaAPI = try await api.inspect(many)
        var manyViaClient = try await cli.inspect(many)
        for _ in 0..<4 where manyViaAPI != manyViaClient {
            manyViaAPI = try await api.inspect(many)
            manyViaClient = try await cli.inspect(many)
        }
        #expect(manyViaAPI.count == 4)
        #expect(manyViaAPI == manyViaClient, "\(manyViaAPI.keys.sorted()) vs \(manyViaClient.keys.sorted())")
    }

    @Test func aBuildOverTheAPIHitsTheClientsCache() async throws {
        let context = try makeContext()
        defer { try? FileManager.default.removeItem(at: context) }
        let token = UUID().uuidString
        // Not `COPY .`: the client adds its Dockerfile to .dockerignore under a random name, so
        // `COPY .` misses the cache after every client build.
        let dockerfile = try writeDockerfile(
            """
            FROM \(Self.base)
            ARG TOKEN
            COPY app /ctx/app
            COPY link /ctx/link
            RUN echo "$TOKEN" > /token
            """)
        defer { unlink(dockerfile) }
        let directory = context.path + "-build"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let lines = Lines()
        let (viaClient, viaAPI) = try await buildBothWays(
            dockerfile: dockerfile, context: context, in: directory, buildArgs: ["TOKEN": token], onLine: { lines.append($0) })
        // Every step came from the cache the client's build left: the same files, modes and owners.
        #expect(viaAPI == viaClient)
        let log = try String(contentsOfFile: "\(directory)/api.log", encoding: .utf8)
        #expect(log.contains("Step 5/5 : RUN"))
        #expect(log.components(separatedBy: "Using cache").count == 5)
        #expect(lines.all.contains { BuildProgress.step(in: $0) == "5/5" })
        #expect(try String(contentsOfFile: "\(directory)/api.iid", encoding: .utf8).hasPrefix(viaAPI))
        #expect(!FileManager.default.fileExists(atPath: "\(directory)/api.iid.context.tar"))
    }

    @Test func theImageGetsTheContextWithoutIgnoredFilesOrTheDockerfile() async throws {
        let context = try makeContext()
        defer { try? FileManager.default.removeItem(at: context) }
        let dockerfile = try writeDockerfile("FROM \(Self.base)\nCOPY . /all\nRUN ls -lnAR /all > /listing\n")
        defer { unlink(dockerfile) }
        let image = try await api.build(
            dockerfile: dockerfile, context: context.path, target: nil, tags: [], iidFile: context.path + ".iid",
            logFile: context.path + ".log", noCache: false, pull: false, onLine: nil
        ).imageID
        defer { unlink(context.path + ".iid"); unlink(context.path + ".log") }
        let listing = try runDocker(["run", "--rm", image, "cat", "/listing"])
        #expect(listing.contains("main.py"))
        #expect(listing.contains("-rwxr-x--- 1 0 0"))
        #expect(listing.contains("link -> app/main.py"))
        #expect(!listing.contains("notes.md"))
        #expect(!listing.contains(".dockerfile"))
        _ = try? runDocker(["image", "rm", image])
    }

    struct FailedBuild {
        var error: DockerError
        var logFile: String
        var log: String
    }

    /// Builds `dockerfile` over the API in a fresh context (after `prepare`), expecting it to fail.
    func failingBuild(
        _ dockerfile: String, tags: [String] = [], prepare: (URL) throws -> Void = { _ in }
    ) async throws -> FailedBuild? {
        let context = try makeContext()
        defer { try? FileManager.default.removeItem(at: context) }
        try prepare(context)
        let path = try writeDockerfile(dockerfile)
        defer { unlink(path) }
        let log = context.path + ".log"
        defer { unlink(log) }
        do {
            _ = try await api.build(
                dockerfile: path, context: context.path, target: nil, tags: tags, iidFile: context.path + ".iid",
                logFile: log, noCache: false, pull: false, onLine: nil)
            Issue.record("the build did not fail")
            return nil
        } catch {
            return FailedBuild(error: error, logFile: log, log: (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
        }
    }

    @Test func aFailedStepFailsWithItsOutput() async throws {
        let dockerfile = "FROM \(Self.base)\nRUN echo 'about to fail \(UUID().uuidString)' && exit 3\n"
        guard let failed = try await failingBuild(dockerfile) else { return }
        #expect(failed.error.kind == .commandFailed)
        #expect(failed.error.message.contains("returned a non-zero code: 3"))
        #expect(failed.error.message.contains("about to fail"))
        #expect(failed.error.logPath == failed.logFile)
        #expect(failed.log.contains("returned a non-zero code: 3"))
    }

    @Test func aBadDockerfileIsTheEnginesMessage() async throws {
        guard let failed = try await failingBuild("FROM \(Self.base)\nFROBNICATE now\n") else { return }
        #expect(failed.error.kind == .commandFailed)
        #expect(failed.error.message.lowercased().contains("frobnicate"))
    }

    /// The engine refuses a tag with a digest before it reads the context; with a context too
    /// large for the socket's buffers, its answer must still be what the caller hears.
    @Test func aRefusalBeforeTheContextIsReadIsTheEnginesMessage() async throws {
        let failed = try await failingBuild(
            "FROM \(Self.base)\n", tags: ["harden-test/app@sha256:" + String(repeating: "0", count: 64)]
        ) { context in
            try Data((0..<(16 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) })
                .write(to: context.appendingPathComponent("app/large.bin"))
        }
        guard let failed else { return }
        #expect(failed.error.kind == .commandFailed)
        #expect(failed.error.message.contains("cannot contain a digest"), "\(failed.error.message)")
        #expect(!failed.error.message.contains(String(cString: strerror(EPIPE))))
    }

    @Test func cancellingABuildStopsItOnTheEngine() async throws {
        let context = try makeContext()
        defer { try? FileManager.default.removeItem(at: context) }
        let token = UUID().uuidString
        let dockerfile = try writeDockerfile("FROM \(Self.base)\nRUN echo 'waiting \(token)' && sleep 300\n")
        defer { unlink(dockerfile) }
        let log = context.path + ".log"
        defer { unlink(log) }
        let client = api
        let build = Task {
            try await client.build(
                dockerfile: dockerfile, context: context.path, target: nil, tags: [], iidFile: context.path + ".iid",
                logFile: log, noCache: false, pull: false, onLine: nil)
        }
        while !((try? String(contentsOfFile: log, encoding: .utf8))?.contains("waiting \(token)") ?? false) {
            try await Task.sleep(for: .milliseconds(100))
        }
        build.cancel()
        let result = await build.result
        guard case .failure(let error as DockerError) = result else {
            Issue.record("the build was not interrupted: \(result)")
            return
        }
        #expect(error.kind == .interrupted)
        // The engine removes the step's container once the connection is gone.
        var left = "?"
        let gone = try await poll(seconds: 60) { () -> Bool? in
            left = try runDocker([
                "ps", "-aq", "--no-trunc", "--filter", "ancestor=\(Self.base)", "--format", "{{.ID}} {{.Command}}",
            ])
            return !left.contains(token) && !left.contains("sleep 300") ? true : nil
        }
        #expect(gone == true && !left.contains("sleep 300"), "containers left: \(left)")
    }

    @Test func anAbsentSocketIsAnUnreachableEngine() async throws {
        let client = DockerClient(engine: EngineAPI(socketPath: "/tmp/harden-no-engine-\(UUID().uuidString).sock"))
        do {
            _ = try await client.inspect([Self.base])
            Issue.record("inspect answered without an engine")
        } catch {
            #expect(error.kind == .engineUnreachable)
            #expect(error.message.contains("no Docker engine answers"))
            #expect(error.message.contains("No such file or directory"))
        }
    }

    @Test func referencesAndQueryValuesAreEscapedAsTheClientDoes() {
        #expect(EngineAPI.escapePath("harden-local/python:3.11-slim") == "harden-local/python:3.11-slim")
        #expect(EngineAPI.escapePath("app@sha256:ab") == "app@sha256:ab")
        #expect(EngineAPI.escapeQuery(#"{"A":"b c/é"}"#) == "%7B%22A%22%3A%22b%20c%2F%C3%A9%22%7D")
    }

    @Test func onlyALocalSocketIsUsed() {
        #expect(EngineAPI.local(environment: ["HOME": "/nonexistent"])?.socketPath == "/var/run/docker.sock")
        #expect(
            EngineAPI.local(environment: ["DOCKER_HOST": "unix:///run/user/1000/docker.sock"])?.socketPath
                == "/run/user/1000/docker.sock")
        #expect(EngineAPI.local(environment: ["DOCKER_HOST": "unix://"])?.socketPath == "/var/run/docker.sock")
        #expect(EngineAPI.local(environment: ["DOCKER_HOST": "tcp://10.0.0.2:2376"]) == nil)
        #expect(EngineAPI.local(environment: ["DOCKER_HOST": "ssh://builder"]) == nil)
        #expect(EngineAPI.local(environment: ["DOCKER_CONTEXT": "remote"]) == nil)
        #expect(DockerClient.forEnvironment(["HARDEN_DOCKER": "/opt/docker"], docker: nil).engine == nil)
        #expect(DockerClient.forEnvironment([:], docker: "/opt/docker").engine == nil)
        #expect(DockerClient.forEnvironment([:], docker: nil).engine != nil)
    }

    @Test(
        arguments: [
            ("Step 3/7 : RUN make", "3/7"), ("Step 12/13 : LABEL a=b", "12/13"), ("#7 [builder 2/4] RUN pip install", "2/4"),
            ("#12 [stage-1 3/5] COPY --from=builder /a /b", "3/5"), ("#3 [internal] load metadata", nil), ("Step 3 : RUN", nil),
            ("Step 3/ : RUN", nil), (" ---> Using cache", nil), ("", nil), ("#x [a 1/2]", nil),
        ] as [(String, String?)])
    func progressReadsTheStep(line: String, step: String?) {
        #expect(BuildProgress.step(in: line) == step)
    }

    private func runDocker(_ arguments: [String]) throws -> String {
        String(decoding: try runToolWaiting("/usr/bin/env", ["docker"] + arguments), as: UTF8.self)
    }
}

/// Lines handed over by a build, from its reader thread.
private final class Lines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var all: [String] { lock.withLock { lines } }
}
