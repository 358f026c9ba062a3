import Foundation
import HardenHistory
import HardenHistoryPostgres
import HardenTestSupport
import Testing

/// Several hardens, each with a state directory of its own (as on several machines), sharing one
/// real PostgreSQL history: the built harden binary, a real engine, a real server.
@Suite(.serialized, .postgresServer) struct PostgresHistoryCommandTests {
    /// A recipe whose builder echoes a token and sleeps `seconds`: long enough to be caught building.
    func write(_ project: Project, recipe name: String, sleep seconds: Int) throws {
        try project.write("Recipes/\(name)/input.txt", "\(name)\n")
        let run = "echo building \(UUID().uuidString) && sleep \(seconds) && mkdir -p /out && cp /src/input.txt /out/"
        try project.write(
            "Recipes/\(name).yaml",
            """
            name: \(name)
            context: \(name)
            tags: [harden-test/\(name):latest]
            builder:
              from: \(DockerBuildTests.builderBase)
              copy:
                - {from: context, src: input.txt, dest: /src/input.txt}
              run:
                - \(DockerBuildTests.yamlQuote(run))
            runtime:
              from: \(DockerBuildTests.runtimeBase)
              user: "65532"
              copy:
                - {from: builder, src: /out/input.txt, dest: /data/input.txt}
            """)
    }

    static var server: PostgresServer {
        get throws {
            guard let server = PostgresServer.current else { throw TestSetupError("the suite has no PostgreSQL server") }
            return server
        }
    }

    /// The environment of a harden on "machine" `state`: the shared history, a short heartbeat, and
    /// a stale limit no busy machine starves a live beat past (a test dates a dead beat back).
    func environment(_ url: String) -> [String: String] {
        ["HARDEN_HISTORY": url, "HARDEN_HISTORY_HEARTBEAT": "0.5", "HARDEN_HISTORY_STALE_AFTER": "120"]
    }

    /// Two hardens race `rebuild --due` on one due recipe: one builds, the other says it is being
    /// built elsewhere and builds nothing; the history has one success and the other's skip.
    @Test func twoHardensRacingOneRecipeBuildItOnce() async throws {
        let url = try Self.server.url(database: try await Self.server.createDatabase())
        let project = try Project()
        let name = "raced-\(UUID().uuidString.prefix(8).lowercased())"
        try write(project, recipe: name, sleep: 6)
        let first = try CLI.start(["rebuild", "--due", "--state", ".harden-a"], in: project.root, environment: environment(url))
        let second = try CLI.start(["rebuild", "--due", "--state", ".harden-b"], in: project.root, environment: environment(url))
        for running in [first, second] {
            let deadline = Date().addingTimeInterval(300)
            while running.process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(100)) }
            #expect(!running.process.isRunning, "a rebuild did not finish in 300 s")
        }
        let results = [first.result(), second.result()]
        for result in results { #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)") }
        let built = results.filter { $0.stdout.contains("\(name) #") && !$0.stdout.contains("skipped") }
        let elsewhere = results.filter { $0.stdout.contains("\(name) is being built elsewhere") }
        #expect(built.count == 1 && elsewhere.count == 1, "\(results.map { $0.stdout + $0.stderr })")
        #expect(elsewhere.first?.stdout.contains("skipped") == true)
        let password = try Self.server.password
        #expect(elsewhere.first.map { !$0.stdout.contains(password) } == true)

        let store = try await PostgresHistory.open(url, environment: [:])
        let builds = try await store.builds(recipe: name, since: nil, limit: 10)
        #expect(builds.map(\.status).sorted { $0.rawValue < $1.rawValue } == [.skipped, .succeeded], "\(builds.map(\.status))")
        #expect(try await store.integrityCheck() == "ok")
        await store.close()
    }

    /// The building harden is killed: its advisory lock goes with its session at once, its record
    /// stays `running` until its heartbeat is older than the limit; the next harden marks it
    /// interrupted and rebuilds. Nothing is left running, the history is sound.
    @Test func aKilledBuilderIsMarkedInterruptedAndTheSurvivorRebuilds() async throws {
        let database = try await Self.server.createDatabase()
        let url = try Self.server.url(database: database)
        let project = try Project()
        let name = "killed-\(UUID().uuidString.prefix(8).lowercased())"
        try write(project, recipe: name, sleep: 300)
        let builder = try CLI.start(
            ["rebuild", "--due", "--state", ".harden-a"], in: project.root, environment: environment(url))
        let store = try await PostgresHistory.open(url, environment: [:])
        let running = try await poll(seconds: 120) { () async throws -> BuildRecord? in
            try await store.builds(recipe: name, since: nil, limit: 1).first { $0.status == .running }
        }
        let record = try #require(running, "the build never started")

        // While it builds, another harden is told so and leaves it alone.
        let meanwhile = try await project.harden(
            ["rebuild", "--due", "--state", ".harden-b"], environment: environment(url))
        #expect(meanwhile.status == 0, "\(meanwhile.stderr)")
        #expect(meanwhile.stdout.contains("\(name) is being built elsewhere"), "\(meanwhile.stdout)\n\(meanwhile.stderr)")

        kill(builder.process.processIdentifier, SIGKILL)
        builder.process.waitUntilExit()
        _ = builder.result()
        // The killed harden's docker build lives on as an orphan: stop it, as a reboot would.
        let leftovers = project.root.appendingPathComponent(".harden-a/builds/").path
        _ = try await CLI.shell("pgrep -f '\(leftovers)' | xargs -r kill -9")

        try write(project, recipe: name, sleep: 0)
        // Its last beat, ten minutes back: past the limit without waiting that long.
        try await Self.server.dateHeartbeatBack(ofBuild: try #require(record.id), database: database)
        let survivor = try await project.harden(["rebuild", "--due", "--state", ".harden-b"], environment: environment(url))
        #expect(survivor.status == 0, "\(survivor.stdout)\n\(survivor.stderr)")
        #expect(survivor.stderr.contains("build #\(record.id ?? 0) of \(name) was abandoned"), "\(survivor.stderr)")
        #expect(survivor.stdout.contains("\(name) #"), "\(survivor.stdout)")

        let builds = try await store.builds(recipe: name, since: nil, limit: 10)
        let killed = try #require(builds.first { $0.id == record.id })
        #expect(killed.status == .interrupted)
        #expect(killed.error?.contains("stopped before the build finished") == true)
        #expect(builds.first?.status == .succeeded)
        #expect(!builds.contains { $0.status == .running || $0.status == .planned })
        #expect(try await store.integrityCheck() == "ok")
        await store.close()
    }

    /// `history` and `report` read the shared history; a bad URL is exit 2 with the URL, no password.
    @Test func historyCommandsReadTheSharedHistoryAndABadURLIsNamed() async throws {
        let url = try Self.server.url(database: try await Self.server.createDatabase())
        let store = try await PostgresHistory.open(url, environment: [:])
        try await store.insert(
            BuildRecord(
                recipe: "shared", status: .succeeded, reasons: ["new recipe"], inputDigest: "sha256:01", inputParts: [:],
                baseImages: [:], runtimeImage: "sha256:05", startedAt: Date(), finishedAt: Date(), exitStatus: 0))
        await store.close()
        let project = try Project()
        let history = try await project.harden(["history", "--history", url, "--format", "json"])
        #expect(history.status == 0, "\(history.stderr)")
        #expect(history.stdout.contains("\"recipe\" : \"shared\""), "\(history.stdout)")
        let viaEnvironment = try await project.harden(["history"], environment: ["HARDEN_HISTORY": url])
        #expect(viaEnvironment.stdout.contains("shared"), "\(viaEnvironment.stdout)")

        let unreachable = "postgres://harden:s3cret@127.0.0.1:\(try freePort())/db?sslmode=disable"
        let bad = try await project.harden(["history", "--history", unreachable])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("postgres://harden@127.0.0.1:"), "\(bad.stderr)")
        #expect(!bad.stderr.contains("s3cret"), "\(bad.stderr)")
        #expect(bad.stderr.contains("hint:"), "\(bad.stderr)")
    }
}
