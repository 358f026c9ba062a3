import Foundation
import HardenSQLite
import HardenTestSupport
import Testing

@testable import HardenHistory
@testable import HardenHistoryPostgres

/// What only the PostgreSQL history does: its schema versions, the heartbeat of running builds,
/// advisory locks held by the session, and what a bad URL or server gives. A real server.
@Suite(.postgresServer) struct PostgresHistoryTests {
    let database: String

    init() async throws {
        database = try await Self.server.createDatabase()
    }

    static var server: PostgresServer {
        get throws {
            guard let server = PostgresServer.current else { throw TestSetupError("the suite has no PostgreSQL server") }
            return server
        }
    }

    var url: String { get throws { try Self.server.url(database: database) } }

    func open(heartbeat: Double = 5, staleAfter: Double? = nil) async throws -> PostgresHistory {
        var environment = ["HARDEN_HISTORY_HEARTBEAT": "\(heartbeat)"]
        if let staleAfter { environment["HARDEN_HISTORY_STALE_AFTER"] = "\(staleAfter)" }
        return try await PostgresHistory.open(try url, environment: environment)
    }

    func sample(_ recipe: String = "flask", status: BuildRecord.Status = .running) -> BuildRecord {
        BuildRecord(
            recipe: recipe, status: status, reasons: ["new recipe"], inputDigest: "sha256:01", inputParts: [:],
            baseImages: [:], startedAt: Date(), pid: getpid())
    }

    @Test func anEmptyDatabaseIsMigratedToTheSchemaThisHardenKnows() async throws {
        let store = try await open()
        let version = try await Self.server.psql("SELECT max(version) FROM harden_schema", database: database)
        #expect(version.trimmingCharacters(in: .whitespacesAndNewlines) == String(PostgresHistory.schemaVersion))
        let tables = try await Self.server.psql(
            "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE tablename LIKE 'harden_%'",
            database: database)
        #expect(
            tables.trimmingCharacters(in: .whitespacesAndNewlines)
                == "harden_builds,harden_file_hashes,harden_pushes,harden_schema")
        #expect(try await store.integrityCheck() == "ok")
        // Opening again migrates nothing and keeps one version row.
        _ = try await open()
        #expect(try await Self.server.psql("SELECT count(*) FROM harden_schema", database: database).hasPrefix("1"))
    }

    @Test func aNewerSchemaIsRefusedAndNothingChanged() async throws {
        let id = try await open().insert(sample(status: .succeeded))
        try await Self.server.psql("INSERT INTO harden_schema (version) VALUES (99)", database: database)
        let before = try await Self.server.psql("SELECT count(*), max(id) FROM harden_builds", database: database)
        let error = await #expect(throws: StoreError.self) { try await open() }
        #expect(error?.message.contains("schema version 99") == true, "\(String(describing: error))")
        #expect(error?.message.contains("knows up to \(PostgresHistory.schemaVersion)") == true)
        #expect(error?.hint?.contains("newer harden") == true)
        let password = try Self.server.password
        #expect(error?.path.contains("127.0.0.1:") == true && error?.path.contains(password) == false)
        #expect(try await Self.server.psql("SELECT count(*), max(id) FROM harden_builds", database: database) == before)
        #expect(before.contains("|\(id)"))
    }

    @Test func twoHardensMigratingAtOnceBothOpen() async throws {
        let url = try self.url
        async let first = PostgresHistory.open(url, environment: [:])
        async let second = PostgresHistory.open(url, environment: [:])
        let stores = try await [first, second]
        #expect(stores.count == 2)
        #expect(try await Self.server.psql("SELECT count(*) FROM harden_schema", database: database).hasPrefix("1"))
    }

    /// A running build whose heartbeat stopped (its machine died) is marked interrupted by the
    /// next harden to open the history; one that beats stays running. The test sees the beat
    /// move and the stopped one stay, then dates the stopped beat ten minutes back rather than
    /// waiting: a wait of a few seconds lets a busy machine starve the live beat as long.
    @Test func aBuildWhoseHeartbeatStoppedIsMarkedInterrupted() async throws {
        let builder = try await open(heartbeat: 0.2)
        let beating = try await builder.insert(sample("beating"))
        let silent = try await open(heartbeat: 0.2)
        let stopped = try await silent.insert(sample("stopped"))
        await silent.close()  // its heartbeat stops, as when its machine dies

        let beatAtInsert = try await heartbeat(of: beating)
        let stoppedBeat = try await heartbeat(of: stopped)
        let moved = try await poll(seconds: 30) { () async throws -> Int64? in
            let now = try await heartbeat(of: beating)
            return now > beatAtInsert ? now : nil
        }
        #expect(moved != nil, "the running build's heartbeat never moved from \(beatAtInsert)")
        #expect(try await heartbeat(of: stopped) == stoppedBeat)

        try await Self.server.dateHeartbeatBack(ofBuild: stopped, database: database)
        let looker = try await open(heartbeat: 0.2, staleAfter: 120)
        #expect(looker.recovered.map(\.id) == [stopped])
        let marked = try #require(try await looker.build(id: stopped))
        #expect(marked.status == .interrupted && marked.finishedAt != nil && marked.exitStatus == nil)
        #expect(marked.error?.contains("stopped before the build finished") == true, "\(marked.error ?? "")")
        #expect(try await looker.build(id: beating)?.status == .running)
        // Not a failure of the recipe: nothing backs off.
        #expect(try await looker.attempts()["stopped"]?.failuresInARow ?? 0 == 0)
        await builder.close()
        await looker.close()
    }

    /// Unfinished builds whose beat is late but whose process's session is alive (it holds its
    /// owner lock) stay as they are: that process was busy, not dead. Once the session ends,
    /// they are marked.
    @Test func aLateBeatOfALiveSessionIsNotTakenForADeadBuild() async throws {
        // An owner whose lock key has the high bit set: its sign must survive the trip through pg_locks.
        let owner = try #require((0..<1000).lazy.map { "owner-\($0)" }.first { PostgresHistory.ownerLockKey($0) < 0 })
        let builder = try await PostgresHistory.open(
            PostgresURL(try url, environment: [:]), heartbeat: .init(interval: .seconds(600)), owner: owner)
        let running = try await builder.insert(sample("late"))
        let planned = try await builder.insert(sample("queued", status: .planned))
        try await Self.server.dateHeartbeatBack(ofBuild: running, database: database)
        try await Self.server.dateHeartbeatBack(ofBuild: planned, database: database)
        let looker = try await open(staleAfter: 120)
        #expect(looker.recovered.isEmpty)
        #expect(try await looker.build(id: running)?.status == .running)
        #expect(try await looker.build(id: planned)?.status == .planned)
        await looker.close()

        await builder.close()  // the server lets the lock go once it sees the session end
        let recovered = try await poll(seconds: 30) { () async throws -> [Int64]? in
            let next = try await open(staleAfter: 120)
            await next.close()
            return next.recovered.isEmpty ? nil : next.recovered.map(\.id)
        }
        #expect(recovered == [running, planned])
    }

    /// `heartbeat_at` of build `id` in microseconds since the epoch.
    private func heartbeat(of id: Int64) async throws -> Int64 {
        let text = try await Self.server.psql(
            "SELECT (extract(epoch FROM heartbeat_at) * 1000000)::bigint FROM harden_builds WHERE id = \(id)",
            database: database)
        return try #require(Int64(text.trimmingCharacters(in: .whitespacesAndNewlines)), "heartbeat of build \(id): '\(text)'")
    }

    /// The lock of a recipe is held by one session: another harden (or this one again) is told
    /// it is being built elsewhere; closing the session (as a killed process does) lets it go.
    @Test func aRecipeLockIsHeldBySessionAndGoesWithIt() async throws {
        let first = try await open()
        let second = try await open()
        guard case .acquired(let lock) = try await first.lockRecipe("flask") else {
            Issue.record("the first lock was not acquired")
            return
        }
        guard case .busy(let message) = try await second.lockRecipe("flask") else {
            Issue.record("a second session got a held lock")
            return
        }
        #expect(message.contains("flask is being built elsewhere"), "\(message)")
        let password = try Self.server.password
        #expect(!message.contains(password))
        guard case .busy = try await first.lockRecipe("flask") else {
            Issue.record("one session took its own lock twice")
            return
        }
        guard case .acquired(let other) = try await second.lockRecipe("django") else {
            Issue.record("another recipe's lock was not free")
            return
        }
        await other.release()

        await lock.release()
        guard case .acquired(let again) = try await second.lockRecipe("flask") else {
            Issue.record("a released lock was not free")
            return
        }
        await again.release()

        _ = try await first.lockRecipe("flask")
        let running = try await first.insert(sample("flask"))
        await first.close()
        // The server lets a closed session's locks go; the one who takes the lock next knows
        // the running build is dead and marks it at once.
        let taken = try await poll(seconds: 10) { () async throws -> Bool? in
            if case .acquired = try await second.lockRecipe("flask") { return true }
            return nil
        }
        #expect(taken == true)
        #expect(try await second.build(id: running)?.status == .interrupted)
        await second.close()
    }

    @Test func theLockKeyIsStable() {
        // FNV-1a 64 of the name: the same on every machine and every run.
        #expect(PostgresHistory.lockKey("") == Int64(bitPattern: 0xcbf2_9ce4_8422_2325))
        #expect(PostgresHistory.lockKey("a") == Int64(bitPattern: 0xaf63_dc4c_8601_ec8c))
        #expect(PostgresHistory.lockKey("harden recipe flask") != PostgresHistory.lockKey("harden recipe django"))
    }

    @Test func theUnixSocketFormWorks() async throws {
        let store = try await PostgresHistory.open(try Self.server.socketURL(database: database), environment: [:])
        let id = try await store.insert(sample(status: .succeeded))
        #expect(try await store.build(id: id)?.recipe == "flask")
        #expect(store.location.hasPrefix("postgres://harden@/"))
        await store.close()
    }

    @Test(arguments: [
        ("mysql://u@h/db", "not 'mysql:'"),
        ("postgres://u@h/db?sslmode=sometimes", "sslmode 'sometimes'"),
        ("postgres://u@h:99999/db", "port"),
        ("postgres://u@/db", "no host"),
        ("postgres://u@h/db?colour=blue", "'colour'"),
        ("postgres://u:hunter2@h/db?connect_timeout=0", "connect_timeout"),
    ])
    func aBadURLIsNamedWithoutItsPassword(url: String, expected: String) async throws {
        let error = await #expect(throws: StoreError.self) { try await PostgresHistory.open(url, environment: [:]) }
        let text = error?.description ?? ""
        #expect(text.contains(expected.replacingOccurrences(of: "\"", with: "")), "\(text)")
        #expect(!text.contains("hunter2"), "\(text)")
        #expect(error?.hint?.contains("postgres://USER") == true, "\(text)")
    }

    @Test func aWrongPasswordIsAnAuthenticationError() async throws {
        let url = try "postgres://harden:wrong-password@127.0.0.1:\(Self.server.port)/\(database)?sslmode=disable"
        let error = await #expect(throws: StoreError.self) { try await PostgresHistory.open(url, environment: [:]) }
        let text = error?.description ?? ""
        #expect(text.contains("password authentication failed"), "\(text)")
        let port = try Self.server.port
        #expect(text.contains("pg_hba.conf") && text.contains("127.0.0.1:\(port)"), "\(text)")
        #expect(!text.contains("wrong-password"), "\(text)")
    }

    @Test func aMissingDatabaseSaysToCreateIt() async throws {
        let url = try "postgres://harden:\(Self.server.password)@127.0.0.1:\(Self.server.port)/nowhere?sslmode=disable"
        let error = await #expect(throws: StoreError.self) { try await PostgresHistory.open(url, environment: [:]) }
        #expect(error?.hint?.contains("createdb nowhere") == true, "\(String(describing: error))")
    }

    @Test func noServerIsAConnectionError() async throws {
        let port = try freePort()
        let started = ContinuousClock.now
        let error = await #expect(throws: StoreError.self) {
            try await PostgresHistory.open("postgres://harden@127.0.0.1:\(port)/db?sslmode=disable", environment: [:])
        }
        // A bound, not a speed: it returns (a refused connection on a busy two-core host took 5.4 s).
        #expect(ContinuousClock.now - started < .seconds(60))
        #expect(error?.path == "postgres://harden@127.0.0.1:\(port)/db?sslmode=disable")
        #expect(error?.hint?.contains("PostgreSQL runs at that address") == true, "\(String(describing: error))")
    }

    /// A server that accepts the connection and never answers: the connect timeout ends the wait.
    @Test func aServerThatNeverAnswersTimesOut() async throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(listener, socketAddress, length) == 0 && getsockname(listener, socketAddress, &length) == 0
                    && listen(listener, 8) == 0
            }
        }
        try #require(listening)
        let port = Int(UInt16(bigEndian: address.sin_port))
        let started = ContinuousClock.now
        let error = await #expect(throws: StoreError.self) {
            try await PostgresHistory.open(
                "postgres://harden@127.0.0.1:\(port)/db?sslmode=disable&connect_timeout=1", environment: [:])
        }
        let waited = ContinuousClock.now - started
        // The deadline was kept (not given up early); the upper bound only says it returns, since
        // the full suite's busy pool woke it after 5 s once.
        #expect(waited >= .milliseconds(900) && waited < .seconds(60), "\(waited)")
        #expect(error?.message.contains("no answer within 1 s") == true, "\(String(describing: error))")
    }
}
