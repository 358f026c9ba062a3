import CSQLite
import Foundation
import HardenHistoryPostgres
import HardenSQLite
import HardenTestSupport
import Testing

@testable import HardenHistory

/// Which history a test runs against.
enum Backend: String, CaseIterable, Sendable {
    /// A real SQLite file in a temporary directory.
    case sqlite
    /// A database of its own on the suite's real PostgreSQL server.
    case postgres
}

/// The build history against real SQLite files in a temporary directory and, for the cases
/// both backends share, a real PostgreSQL server started for the suite.
@Suite(.postgresServer) struct BuildStoreTests {
    let directory: URL
    /// This test's own database on the suite's server.
    let database: String

    init() async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("harden-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        database = try await Self.server.createDatabase()
    }

    static var server: PostgresServer {
        get throws {
            guard let server = PostgresServer.current else { throw TestSetupError("the suite has no PostgreSQL server") }
            return server
        }
    }

    var databasePath: String { directory.appendingPathComponent("harden.db").path }

    /// Opens (again) this test's history of `backend`.
    func open(_ backend: Backend) async throws -> any HistoryStore {
        switch backend {
        case .sqlite: try BuildStore(path: databasePath)
        case .postgres: try await PostgresHistory.open(try Self.server.url(database: database), environment: [:])
        }
    }

    func sample(_ recipe: String = "flask", status: BuildRecord.Status = .succeeded, pid: Int32? = nil) -> BuildRecord {
        BuildRecord(
            recipe: recipe, status: status, reasons: ["new recipe", "context file app.py changed"],
            inputDigest: "sha256:" + String(repeating: "ab", count: 32),
            inputParts: ["recipe.runtime.env": "sha256:01", "context/app.py": "sha256:02"],
            baseImages: ["python:3.11-slim": "sha256:03"], builderImage: "sha256:04", runtimeImage: "sha256:05",
            imageArchive: "images/flask/05.tar", builderLog: "builds/flask/1/builder.log",
            runtimeLog: "builds/flask/1/runtime.log", builderSeconds: 8.5, runtimeSeconds: 1.25,
            startedAt: Date(timeIntervalSince1970: 1_700_000_000.5), finishedAt: Date(timeIntervalSince1970: 1_700_000_010),
            exitStatus: 0, error: nil, pid: pid)
    }

    @Test(arguments: Backend.allCases) func recordsRoundTripEveryField(_ backend: Backend) async throws {
        let store = try await open(backend)
        var record = sample()
        let id = try await store.insert(record)
        record.id = id
        #expect(try await store.build(id: id) == record)

        record.status = .failed
        record.error = "step 3/5 failed: exit 1"
        record.exitStatus = 1
        try await store.update(record)
        #expect(try await store.build(id: id) == record)
        #expect(try await store.integrityCheck() == "ok")
    }

    @Test(arguments: Backend.allCases) func latestSucceededIgnoresFailuresAndOlderBuilds(_ backend: Backend) async throws {
        let store = try await open(backend)
        var old = sample()
        old.runtimeImage = "sha256:old"
        try await store.insert(old)
        let newID = try await store.insert(sample())
        try await store.insert(sample(status: .failed))
        try await store.insert(sample("other", status: .failed))
        let latest = try await store.latestSucceeded()
        #expect(latest.keys.sorted() == ["flask"])
        #expect(latest["flask"]?.id == newID)
        #expect(try await store.builds(recipe: "flask").map(\.status) == [.failed, .succeeded, .succeeded])
        #expect(try await store.builds(limit: 2).count == 2)
    }

    @Test(arguments: Backend.allCases) func historySurvivesReopening(_ backend: Backend) async throws {
        let id = try await open(backend).insert(sample())
        let reopened = try await open(backend)
        #expect(try await reopened.build(id: id)?.recipe == "flask")
        #expect(reopened.recovered.isEmpty)
    }

    @Test func openingMarksBuildsOfDeadProcessesInterrupted() async throws {
        // A child that has exited gives a pid that no longer runs.
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/true")
        try child.run()
        child.waitUntilExit()
        let deadPID = child.processIdentifier

        let store = try BuildStore(path: databasePath)
        let abandoned = try await store.insert(sample(status: .running, pid: deadPID))
        let live = try await store.insert(sample("live", status: .running, pid: getpid()))
        let finished = try await store.insert(sample("done"))

        let reopened = try BuildStore(path: databasePath)
        #expect(reopened.recovered.map(\.id) == [abandoned])
        let marked = try #require(try await reopened.build(id: abandoned))
        #expect(marked.status == .interrupted)
        #expect(marked.finishedAt != nil)
        #expect(marked.error?.contains("stopped before the build finished") == true)
        #expect(try await reopened.build(id: live)?.status == .running)
        #expect(try await reopened.build(id: finished)?.status == .succeeded)
    }

    @Test func newerSchemaIsRefusedAndTheFileLeftUnchanged() async throws {
        try await BuildStore(path: databasePath).insert(sample())
        try execute("PRAGMA user_version = 99", on: databasePath)
        let before = try Data(contentsOf: URL(fileURLWithPath: databasePath))

        let error = #expect(throws: StoreError.self) { try BuildStore(path: databasePath) }
        #expect(error?.message.contains("schema version 99") == true)
        #expect(error?.hint?.contains("newer harden") == true)
        #expect(error?.description.hasPrefix(databasePath) == true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: databasePath)) == before)
    }

    @Test func aFileThatIsNotADatabaseGivesADamagedError() throws {
        let garbage = Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        try garbage.write(to: URL(fileURLWithPath: databasePath))
        let error = #expect(throws: StoreError.self) { try BuildStore(path: databasePath) }
        #expect(error?.message.contains("damaged") == true)
        #expect(error?.hint?.contains("move it aside") == true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: databasePath)) == garbage)
    }

    @Test func aDirectoryThatCannotBeCreatedIsNamed() throws {
        let blocker = directory.appendingPathComponent("file")
        try Data("x".utf8).write(to: blocker)
        let path = blocker.appendingPathComponent("state/harden.db").path
        let error = #expect(throws: StoreError.self) { try BuildStore(path: path) }
        #expect(error?.path.hasSuffix("file/state") == true)
    }

    @Test(arguments: Backend.allCases) func fileHashesAreCachedAndReplaced(_ backend: Backend) async throws {
        let store = try await open(backend)
        let first = FileHash(path: "/r/app.py", size: 10, modified: 1, inode: 2, sha256: "aa")
        let other = FileHash(path: "/r/requirements.txt", size: 14, modified: 1, inode: 3, sha256: "bb")
        try await store.saveFileHashes([first, other])
        var changed = first
        changed.size = 11
        changed.sha256 = "cc"
        try await store.saveFileHashes([changed])
        let hashes = try await store.fileHashes()
        #expect(hashes == ["/r/app.py": changed, "/r/requirements.txt": other])
    }

    @Test func theDatabaseUsesWriteAheadLogging() async throws {
        try await BuildStore(path: databasePath).insert(sample())
        #expect(try query("PRAGMA journal_mode", on: databasePath) == "wal")
    }

    /// A writer killed in the middle of a transaction leaves a sound file without its half-done rows.
    @Test func aWriterKilledMidTransactionLosesOnlyItsOwnTransaction() async throws {
        let store = try BuildStore(path: databasePath)
        let kept = try await store.insert(sample())

        let writer = Process()
        writer.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        writer.arguments = ["python3", "-c", Self.slowWriter, databasePath]
        let ready = Pipe()
        writer.standardOutput = ready
        try writer.run()
        // The writer prints once its transaction holds uncommitted rows.
        let line = ready.fileHandleForReading.availableData
        #expect(String(decoding: line, as: UTF8.self).contains("writing"))
        kill(writer.processIdentifier, SIGKILL)
        writer.waitUntilExit()
        #expect(writer.terminationReason == .uncaughtSignal)

        let reopened = try BuildStore(path: databasePath)
        #expect(try await reopened.integrityCheck() == "ok")
        #expect(try await reopened.builds(limit: 1000).map(\.id) == [kept])
        try await reopened.insert(sample("after"))
        #expect(try await reopened.builds(limit: 1000).count == 2)
    }

    private static let slowWriter = """
        import sqlite3, sys, time
        db = sqlite3.connect(sys.argv[1], isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        for i in range(2000):
            db.execute("INSERT INTO builds (recipe, status, trigger, reasons, input_digest, input_parts, base_images, started_at) VALUES ('half', 'running', 'manual', '[]', '', '{}', '{}', 0)")
        print("writing", flush=True)
        while True:
            db.execute("INSERT INTO builds (recipe, status, trigger, reasons, input_digest, input_parts, base_images, started_at) VALUES ('half', 'running', 'manual', '[]', '', '{}', '{}', 0)")
        """

    // MARK: raw SQLite access for setting up damaged or foreign files

    @Test func aVersionOneFileIsMigratedKeepingItsBuilds() async throws {
        // A history written by the first schema, row and all, as an older harden left it.
        try execute(
            """
            CREATE TABLE builds (
                id INTEGER PRIMARY KEY AUTOINCREMENT, recipe TEXT NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('planned','skipped','running','succeeded','failed','interrupted')),
                trigger TEXT NOT NULL, reasons TEXT NOT NULL, input_digest TEXT NOT NULL, input_parts TEXT NOT NULL,
                base_images TEXT NOT NULL, builder_image TEXT, runtime_image TEXT, image_archive TEXT,
                builder_log TEXT, runtime_log TEXT, builder_seconds REAL, runtime_seconds REAL,
                started_at REAL NOT NULL, finished_at REAL, exit_status INTEGER, error TEXT, pid INTEGER);
            CREATE TABLE file_hashes (path TEXT PRIMARY KEY, size INTEGER NOT NULL, modified INTEGER NOT NULL,
                inode INTEGER NOT NULL, sha256 TEXT NOT NULL);
            INSERT INTO builds (recipe, status, trigger, reasons, input_digest, input_parts, base_images, runtime_image, started_at)
                VALUES ('flask', 'succeeded', 'manual', '["new recipe"]', 'sha256:in', '{}', '{}', 'sha256:05', 1700000000);
            PRAGMA user_version = 1;
            """, on: databasePath)
        let store = try BuildStore(path: databasePath)
        let old = try #require(try await store.builds().first)
        #expect(old.recipe == "flask" && old.runtimeImage == "sha256:05" && old.reasons == ["new recipe"])
        #expect(old.baseDigests.isEmpty && old.verification == nil && old.vulnerabilities == nil)
        #expect(try query("PRAGMA user_version", on: databasePath) == String(BuildStore.schemaVersion))
        #expect(try await store.integrityCheck() == "ok")
        #expect(try await store.latestSucceeded()["flask"]?.runtimeImage == "sha256:05")
    }

    /// The queries every run makes read an index, not every build of the history; a file made
    /// before the indexes gets them when it is opened, and keeps its schema version.
    @Test func everyRunsQueriesUseTheirIndexes() throws {
        _ = try BuildStore(path: databasePath)
        try execute("DROP INDEX builds_succeeded; DROP INDEX builds_unfinished", on: databasePath)
        _ = try BuildStore(path: databasePath)
        #expect(try query("PRAGMA user_version", on: databasePath) == String(BuildStore.schemaVersion))
        let succeeded = try queryPlan(BuildStore.lastSuccesses, on: databasePath)
        #expect(succeeded.contains("builds_succeeded"), "\(succeeded)")
        let unfinished = try queryPlan(BuildStore.unfinishedBuilds, on: databasePath)
        #expect(unfinished.contains("builds_unfinished"), "\(unfinished)")
    }

    /// Pushes are kept with their build, newest first, and can be asked for by registry.
    @Test(arguments: Backend.allCases) func pushesAreKeptWithTheirBuild(_ backend: Backend) async throws {
        let store = try await open(backend)
        let build = try await store.insert(sample())
        let first = PushRecord(
            build: build, recipe: "flask", registry: "127.0.0.1:5000", repository: "team/flask", tag: "1",
            digest: "sha256:" + String(repeating: "a", count: 64), pushedAt: Date(timeIntervalSince1970: 1_700_000_000))
        var second = first
        (second.build, second.recipe, second.repository, second.pushedAt) = (
            nil, nil, "team/other", Date(timeIntervalSince1970: 1_700_000_100)
        )
        var elsewhere = first
        elsewhere.registry = "registry.example"
        for push in [first, second, elsewhere] { try await store.recordPush(push) }
        #expect(try await store.pushes(registry: "127.0.0.1:5000") == [second, first])
        #expect(try await store.pushes(recipe: "flask") == [elsewhere, first])
        #expect(try await store.pushes().count == 3)
    }

    @Test(arguments: Backend.allCases) func verificationScanAndBaseDigestsRoundTrip(_ backend: Backend) async throws {
        let store = try await open(backend)
        var record = sample()
        record.baseDigests = ["127.0.0.1:5000/base:1": "sha256:" + String(repeating: "c", count: 64)]
        record.verification = .pass
        record.verifyReport = "images/flask/05.verify.json"
        record.scanReport = "images/flask/05.scan.json"
        record.vulnerabilities = VulnerabilityCounts(
            critical: 1, high: 2, medium: 3, low: 4, unknown: 5, fixable: ["CVE-2023-1 zlib"])
        record.id = try await store.insert(record)
        #expect(try await store.build(id: record.id!) == record)
        #expect(record.vulnerabilities?.total == 15)
    }

    @Test(arguments: Backend.allCases) func attemptsGiveTheLastSuccessesAndTheFailuresSinceThen(_ backend: Backend) async throws {
        let store = try await open(backend)
        let first = try await store.insert(sample())
        let second = try await store.insert(sample())
        try await store.insert(sample(status: .skipped))
        try await store.insert(sample(status: .failed))
        let last = try await store.insert(sample(status: .interrupted))
        try await store.insert(sample("other", status: .failed))
        let attempts = try await store.attempts()
        let flask = try #require(attempts["flask"])
        #expect(flask.lastSucceeded?.id == second)
        #expect(flask.previousSucceeded?.id == first)
        #expect(flask.lastAttempt?.id == last)
        #expect(flask.failuresInARow == 2)
        #expect(attempts["other"]?.lastSucceeded == nil)
        #expect(attempts["other"]?.failuresInARow == 1)
    }

    private func execute(_ sql: String, on path: String) throws {
        var handle: OpaquePointer?
        guard sqlite3_open(path, &handle) == SQLITE_OK else { throw StoreError(path: path, message: "open failed") }
        defer { sqlite3_close(handle) }
        guard sqlite3_exec(handle, sql, nil, nil, nil) == SQLITE_OK else {
            throw StoreError(path: path, message: String(cString: sqlite3_errmsg(handle)))
        }
    }

    /// The details of SQLite's plan for `sql`, one step per line.
    private func queryPlan(_ sql: String, on path: String) throws -> String {
        var handle: OpaquePointer?
        guard sqlite3_open(path, &handle) == SQLITE_OK else { throw StoreError(path: path, message: "open failed") }
        defer { sqlite3_close(handle) }
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, "EXPLAIN QUERY PLAN " + sql, -1, &statement, nil) == SQLITE_OK else {
            throw StoreError(path: path, message: "cannot explain \(sql)")
        }
        defer { sqlite3_finalize(statement) }
        var steps: [String] = []
        while sqlite3_step(statement) == SQLITE_ROW {
            steps.append(sqlite3_column_text(statement, 3).map { String(cString: $0) } ?? "")
        }
        return steps.joined(separator: "\n")
    }

    private func query(_ sql: String, on path: String) throws -> String? {
        var handle: OpaquePointer?
        guard sqlite3_open(path, &handle) == SQLITE_OK else { throw StoreError(path: path, message: "open failed") }
        defer { sqlite3_close(handle) }
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK else { return nil }
        defer { sqlite3_finalize(statement) }
        guard sqlite3_step(statement) == SQLITE_ROW else { return nil }
        return sqlite3_column_text(statement, 0).map { String(cString: $0) }
    }
}

/// The defaults the concrete stores give, for tests that hold either.
extension HistoryStore {
    func builds(recipe: String? = nil, limit: Int = 100) async throws(StoreError) -> [BuildRecord] {
        try await builds(recipe: recipe, since: nil, limit: limit)
    }

    func pushes(recipe: String? = nil, registry: String? = nil) async throws(StoreError) -> [PushRecord] {
        try await pushes(recipe: recipe, registry: registry, limit: 100)
    }
}
