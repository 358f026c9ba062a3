import Foundation
import HardenHistory
import HardenSQLite
import PostgresNIO

/// The build history in a PostgreSQL database that several machines share.
///
/// The same records as the SQLite file, in tables named `harden_*`, with a schema version
/// in `harden_schema`. Every state change is one statement, so one transaction; migrations
/// run in one transaction under a transaction advisory lock, so two machines never migrate
/// at once.
///
/// One connection per process. It holds the per-recipe build locks (session advisory locks,
/// `pg_try_advisory_lock`), so the server lets them go when the process dies, and it beats the
/// heart of this process's unfinished builds (`heartbeat_at`, every `Heartbeat.interval`). A
/// `running` or `planned` build whose heartbeat is older than `Heartbeat.staleAfter` is marked
/// interrupted by the next harden that opens the history, on whichever machine, unless the
/// advisory lock its process holds for its whole session (on its owner id) is still held: that
/// process is alive, only late.
public actor PostgresHistory: HistoryStore {
    /// The schema this version of harden writes; a newer database is refused.
    public static let schemaVersion = 1

    /// How often a running build's heartbeat is written, and how old one may get before its
    /// build counts as abandoned.
    public struct Heartbeat: Sendable, Equatable {
        public var interval: Duration
        public var staleAfter: Duration

        public init(interval: Duration = .seconds(5), staleAfter: Duration? = nil) {
            self.interval = interval
            self.staleAfter = staleAfter ?? interval * 3
        }

        /// From `$HARDEN_HISTORY_HEARTBEAT` and `$HARDEN_HISTORY_STALE_AFTER` (seconds), else 5 s and 3 × that.
        public init(environment: [String: String]) throws(StoreError) {
            func seconds(_ name: String) throws(StoreError) -> Duration? {
                guard let text = environment[name], !text.isEmpty else { return nil }
                guard let value = Double(text), value > 0, value < 86_400 else {
                    throw StoreError(
                        path: "$\(name)", message: "'\(text)' is not a number of seconds above 0 and below a day",
                        hint: "set it to seconds (e.g. 5), or unset it for the default")
                }
                return .milliseconds(Int64(value * 1000))
            }
            self.init(
                interval: try seconds("HARDEN_HISTORY_HEARTBEAT") ?? .seconds(5),
                staleAfter: try seconds("HARDEN_HISTORY_STALE_AFTER"))
        }
    }

    public nonisolated let url: PostgresURL
    public nonisolated let recovered: [(recipe: String, id: Int64)]
    public nonisolated var location: String { url.description }
    public nonisolated let heartbeat: Heartbeat

    private let connection: PostgresConnection
    private let logger: Logger
    /// Marks this process's records: the heartbeat and the owner lock keep them alive.
    private let owner: String
    /// This machine's name: whose context file hashes are whose, and where a build ran.
    private let machine: String
    private var beating: Task<Void, Never>?
    /// Advisory lock keys this session holds (a session may take its own lock again: this refuses).
    private var held: Set<Int64> = []

    private init(
        url: PostgresURL, connection: PostgresConnection, logger: Logger, heartbeat: Heartbeat,
        recovered: [(recipe: String, id: Int64)], machine: String, owner: String
    ) {
        self.owner = owner
        self.url = url
        self.connection = connection
        self.logger = logger
        self.heartbeat = heartbeat
        self.recovered = recovered
        self.machine = machine
    }

    /// Connects (within the URL's `connect_timeout`), migrates the schema, and marks builds whose
    /// heartbeat stopped interrupted.
    public static func open(_ url: PostgresURL, heartbeat: Heartbeat = Heartbeat()) async throws(StoreError)
        -> PostgresHistory
    {
        try await open(url, heartbeat: heartbeat, owner: UUID().uuidString)
    }

    /// `owner`: the id this process's records carry (a test names one to know its lock key).
    static func open(_ url: PostgresURL, heartbeat: Heartbeat, owner: String) async throws(StoreError) -> PostgresHistory {
        var logger = Logger(label: "harden.history.postgres")
        logger.logLevel = .critical
        let connection = try await connect(url, logger: logger)
        do {
            let session = Session(connection: connection, logger: logger, location: url.description)
            try await migrate(session)
            try await session.run("SELECT pg_advisory_lock($1)", [.integer(ownerLockKey(owner))])
            let recovered = try await markAbandoned(session, staleAfter: heartbeat.staleAfter)
            return PostgresHistory(
                url: url, connection: connection, logger: logger, heartbeat: heartbeat, recovered: recovered,
                machine: ProcessInfo.processInfo.hostName, owner: owner)
        } catch {
            try? await connection.close()
            throw error
        }
    }

    /// Opens `text`, a `postgres://` URL, with the heartbeat settings of `environment`.
    public static func open(
        _ text: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws(StoreError) -> PostgresHistory {
        try await open(PostgresURL(text, environment: environment), heartbeat: Heartbeat(environment: environment))
    }

    /// Stops the heartbeat and closes the connection (which lets every lock it holds go).
    public func close() async {
        beating?.cancel()
        beating = nil
        try? await connection.close()
    }

    deinit {
        beating?.cancel()
        // The connection must be closed before it goes (postgres-nio checks): the callback
        // keeps it until the close is done. A no-op after close().
        let connection = self.connection
        let closing: EventLoopFuture<Void> = connection.close()
        closing.whenComplete { _ in withExtendedLifetime(connection) {} }
    }

    private var session: Session { Session(connection: connection, logger: logger, location: url.description) }

    // MARK: connecting

    private static func connect(_ url: PostgresURL, logger: Logger) async throws(StoreError) -> PostgresConnection {
        var configuration: PostgresConnection.Configuration
        if let socket = url.socketPath {
            configuration = .init(unixSocketPath: socket, username: url.user, password: url.password, database: url.database)
        } else {
            let tls: PostgresConnection.Configuration.TLS
            do {
                var settings = TLSConfiguration.makeClientConfiguration()
                switch url.sslMode {
                case .disable: tls = .disable
                case .prefer:
                    settings.certificateVerification = .none
                    tls = .prefer(try NIOSSLContext(configuration: settings))
                case .require:
                    settings.certificateVerification = .none
                    tls = .require(try NIOSSLContext(configuration: settings))
                case .verifyFull:
                    tls = .require(try NIOSSLContext(configuration: settings))
                }
            } catch {
                throw StoreError(
                    path: url.description, message: "cannot set up TLS: \(error)",
                    hint: "check the system's CA certificates, or use sslmode=disable on a trusted network")
            }
            configuration = .init(
                host: url.host ?? "localhost", port: url.port, username: url.user, password: url.password,
                database: url.database, tls: tls)
            if url.sslMode == .verifyFull { configuration.options.tlsServerName = url.host }
        }
        configuration.options.connectTimeout = .nanoseconds(Int64(url.connectTimeout.components.seconds) * 1_000_000_000)
        let settings = configuration
        let timeout = url.connectTimeout
        // The whole login, not only the TCP connect, must end within the timeout: a server that
        // accepts and never answers would otherwise hang harden.
        let result: Result<PostgresConnection, any Error> = await withTaskGroup(of: Result<PostgresConnection, any Error>?.self) {
            group in
            group.addTask {
                do {
                    return .success(try await PostgresConnection.connect(configuration: settings, id: 1, logger: logger))
                } catch {
                    return .failure(error)
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            if let first { return first }
            // Timed out: a connection made as the timeout struck is closed, not leaked.
            for await late in group { if case .success(let connection)? = late { try? await connection.close() } }
            return .failure(ConnectTimeout())
        }
        switch result {
        case .success(let connection): return connection
        case .failure(let error): throw Session.storeError(error, location: url.description, doing: "cannot connect", url: url)
        }
    }

    struct ConnectTimeout: Error {}

    // MARK: schema

    /// Schema steps, one statement each; step N brings a database from version N to N+1.
    private static let migrations: [[String]] = [
        [
            """
            CREATE TABLE harden_builds (
                id BIGSERIAL PRIMARY KEY,
                recipe TEXT NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('planned','skipped','running','succeeded','failed','interrupted')),
                trigger TEXT NOT NULL,
                reasons TEXT NOT NULL,
                input_digest TEXT NOT NULL,
                input_parts TEXT NOT NULL,
                base_images TEXT NOT NULL,
                builder_image TEXT, runtime_image TEXT, image_archive TEXT,
                builder_log TEXT, runtime_log TEXT,
                builder_seconds DOUBLE PRECISION, runtime_seconds DOUBLE PRECISION,
                started_at DOUBLE PRECISION NOT NULL, finished_at DOUBLE PRECISION,
                exit_status BIGINT, error TEXT, pid BIGINT,
                base_digests TEXT NOT NULL DEFAULT '{}',
                verification TEXT, verify_report TEXT, scan_report TEXT, vulnerabilities TEXT,
                machine TEXT, owner TEXT, heartbeat_at TIMESTAMPTZ
            )
            """,
            "CREATE INDEX harden_builds_by_recipe ON harden_builds (recipe, id)",
            "CREATE INDEX harden_builds_succeeded ON harden_builds (recipe, id) WHERE status = 'succeeded'",
            "CREATE INDEX harden_builds_unfinished ON harden_builds (id) WHERE status IN ('running', 'planned')",
            """
            CREATE TABLE harden_file_hashes (
                machine TEXT NOT NULL, path TEXT NOT NULL, size BIGINT NOT NULL, modified BIGINT NOT NULL,
                inode BIGINT NOT NULL, sha256 TEXT NOT NULL, PRIMARY KEY (machine, path)
            )
            """,
            """
            CREATE TABLE harden_pushes (
                id BIGSERIAL PRIMARY KEY,
                build BIGINT REFERENCES harden_builds (id),
                recipe TEXT,
                registry TEXT NOT NULL, repository TEXT NOT NULL, tag TEXT NOT NULL,
                digest TEXT NOT NULL, pushed_at DOUBLE PRECISION NOT NULL
            )
            """,
            "CREATE INDEX harden_pushes_by_registry ON harden_pushes (registry, id)",
        ]
    ]

    /// The key of the transaction advisory lock migrations take.
    static let migrationLock = lockKey("harden schema migration")

    private static func migrate(_ db: Session) async throws(StoreError) {
        // An up-to-date database costs one read; the rest only when a migration may be needed.
        if let version = try? await db.schemaVersion(), version == schemaVersion { return }
        try await db.run("BEGIN")
        do throws(StoreError) {
            try await db.run("SELECT pg_advisory_xact_lock($1)", [.integer(migrationLock)])
            try await db.run(
                "CREATE TABLE IF NOT EXISTS harden_schema (version INTEGER NOT NULL, migrated_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            let version = try await db.schemaVersion()
            if version > schemaVersion {
                throw StoreError(
                    path: db.location,
                    message: "the history database has schema version \(version); this harden knows up to \(schemaVersion)",
                    hint: "use a newer harden (one that knows schema \(version)), or point --history or $HARDEN_HISTORY "
                        + "at another database; nothing was changed")
            }
            for step in migrations.dropFirst(version) {
                for statement in step { try await db.run(statement) }
            }
            if version < schemaVersion {
                try await db.run("INSERT INTO harden_schema (version) VALUES ($1)", [.integer(Int64(schemaVersion))])
            }
            try await db.run("COMMIT")
        } catch {
            _ = try? await db.run("ROLLBACK")
            throw error
        }
    }

    /// Marks interrupted the unfinished builds whose heartbeat is older than `staleAfter`, but
    /// not those whose owner lock is held: their process's session is alive, and a process whose
    /// threads were all busy for a while beats late without having died.
    private static func markAbandoned(_ db: Session, staleAfter: Duration) async throws(StoreError) -> [(
        recipe: String, id: Int64
    )] {
        let seconds = Double(staleAfter.components.seconds) + Double(staleAfter.components.attoseconds) / 1e18
        let stale =
            "status IN ('running', 'planned') AND (heartbeat_at IS NULL OR heartbeat_at < now() - make_interval(secs => $1))"
        let candidates = try await db.run("SELECT id, owner FROM harden_builds WHERE \(stale)", [.real(seconds)])
        if candidates.isEmpty { return [] }
        let locked = try await heldLockKeys(db)
        var marked: [(recipe: String, id: Int64)] = []
        for row in candidates {
            guard let id = row[0].integer else { continue }
            if let owner = row[1].text, locked.contains(ownerLockKey(owner)) { continue }
            let rows = try await db.run(
                """
                UPDATE harden_builds SET status = 'interrupted', finished_at = $2,
                    error = coalesce(error, 'harden stopped before the build finished (killed, crashed or cut off: no heartbeat from '
                        || coalesce(machine, 'its machine') || ' for ' || $3 || ')')
                WHERE id = $4 AND \(stale)
                RETURNING recipe, id
                """,
                [.real(seconds), .real(Date().timeIntervalSince1970), .text(Self.format(seconds)), .integer(id)])
            if let row = rows.first, let recipe = row[0].text, let id = row[1].integer { marked.append((recipe, id)) }
        }
        return marked.sorted { $0.id < $1.id }
    }

    /// The keys of the session advisory locks any session holds in this database. A bigint key
    /// shows in `pg_locks` as its high half in `classid` and its low half in `objid`.
    private static func heldLockKeys(_ db: Session) async throws(StoreError) -> Set<Int64> {
        let rows = try await db.run(
            """
            SELECT (classid::int8 << 32) | objid::int8 FROM pg_locks
            WHERE locktype = 'advisory' AND objsubid = 1 AND granted
                AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
            """)
        return Set(rows.compactMap { $0.first?.integer })
    }

    static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? "\(Int(seconds)) s" : String(format: "%.1f s", seconds)
    }

    // MARK: locks

    /// A stable 64-bit key for an advisory lock: FNV-1a of the name (the same on every machine and run).
    public static func lockKey(_ name: String) -> Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return Int64(bitPattern: hash)
    }

    /// The key of the lock a process holds for its whole session, on the owner id of its records.
    static func ownerLockKey(_ owner: String) -> Int64 { lockKey("harden owner " + owner) }

    /// `pg_try_advisory_lock` on the recipe's key, held by this process's session. Once held, a
    /// `running` build of the recipe by another harden is known dead (it would hold the lock):
    /// it is marked interrupted at once.
    public func lockRecipe(_ recipe: String) async throws(StoreError) -> RecipeLockAttempt {
        let key = Self.lockKey("harden recipe " + recipe)
        let busy = RecipeLockAttempt.busy(
            "\(recipe) is being built elsewhere: another harden sharing the history \(location) holds its lock")
        guard held.insert(key).inserted else { return busy }
        let rows: [[SQLValue]]
        do {
            rows = try await session.run("SELECT pg_try_advisory_lock($1)", [.integer(key)])
        } catch {
            held.remove(key)
            throw error
        }
        guard rows.first?.first == .integer(1) else {
            held.remove(key)
            return busy
        }
        try await session.run(
            """
            UPDATE harden_builds SET status = 'interrupted', finished_at = $1,
                error = coalesce(error, 'harden stopped before the build finished (killed or crashed: its lock was free)')
            WHERE recipe = $2 AND status = 'running' AND owner IS DISTINCT FROM $3
            """, [.real(Date().timeIntervalSince1970), .text(recipe), .text(owner)])
        return .acquired(PostgresRecipeLock(store: self, key: key))
    }

    func unlock(_ key: Int64) async {
        guard held.remove(key) != nil else { return }
        _ = try? await session.run("SELECT pg_advisory_unlock($1)", [.integer(key)])
    }

    // MARK: heartbeat

    /// Starts beating once this process has an unfinished build; one task for all of them.
    private func startBeating() {
        guard beating == nil else { return }
        let interval = heartbeat.interval
        beating = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard let self, !Task.isCancelled else { return }
                await self.beat()
            }
        }
    }

    private func beat() async {
        _ = try? await session.run(
            "UPDATE harden_builds SET heartbeat_at = now() WHERE owner = $1 AND status IN ('running', 'planned')",
            [.text(owner)])
    }

    // MARK: builds

    private static let insertColumns = BuildRows.insertList.split(separator: ",").map {
        $0.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @discardableResult
    public func insert(_ record: BuildRecord) async throws(StoreError) -> Int64 {
        let values = BuildRows.columns(record) + [.text(machine), .text(owner)]
        let placeholders = (1...values.count).map { "$\($0)" }.joined(separator: ", ")
        let rows = try await session.run(
            """
            INSERT INTO harden_builds (\(BuildRows.insertList), machine, owner, heartbeat_at)
            VALUES (\(placeholders), now()) RETURNING id
            """, values)
        guard let id = rows.first?.first?.integer else {
            throw StoreError(path: location, message: "the server gave no id for a new build record")
        }
        if record.status == .running || record.status == .planned { startBeating() }
        return id
    }

    public func update(_ record: BuildRecord) async throws(StoreError) {
        guard let id = record.id else {
            throw StoreError(path: location, message: "cannot update a build record that was never inserted")
        }
        let names = Self.insertColumns + ["machine", "owner"]
        let assignments = names.enumerated().map { "\($1) = $\($0 + 1)" }.joined(separator: ", ")
        try await session.run(
            "UPDATE harden_builds SET \(assignments), heartbeat_at = now() WHERE id = $\(names.count + 1)",
            BuildRows.columns(record) + [.text(machine), .text(owner), .integer(id)])
        if record.status == .running || record.status == .planned { startBeating() }
    }

    public func latestSucceeded() async throws(StoreError) -> [String: BuildRecord] {
        let rows = try await session.run(
            """
            SELECT \(BuildRows.selectList) FROM harden_builds WHERE id IN (
                SELECT max(id) FROM harden_builds WHERE status = 'succeeded' GROUP BY recipe)
            """)
        var result: [String: BuildRecord] = [:]
        for row in rows {
            let record = try BuildRows.record(row, path: location)
            result[record.recipe] = record
        }
        return result
    }

    public func builds(recipe: String? = nil, since: Date? = nil, limit: Int = 100) async throws(StoreError)
        -> [BuildRecord]
    {
        var conditions: [String] = []
        var values: [SQLValue] = []
        if let recipe {
            values.append(.text(recipe))
            conditions.append("recipe = $\(values.count)")
        }
        if let since {
            values.append(.real(since.timeIntervalSince1970))
            conditions.append("started_at >= $\(values.count)")
        }
        values.append(.integer(Int64(limit)))
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let rows = try await session.run(
            "SELECT \(BuildRows.selectList) FROM harden_builds \(filter) ORDER BY id DESC LIMIT $\(values.count)", values)
        var records: [BuildRecord] = []
        for row in rows { records.append(try BuildRows.record(row, path: location)) }
        return records
    }

    public func attempts() async throws(StoreError) -> [String: RecentAttempts] {
        let rows = try await session.run(
            """
            SELECT \(BuildRows.selectList) FROM harden_builds WHERE id IN (
                SELECT id FROM (
                    SELECT id, status,
                        row_number() OVER (PARTITION BY recipe, status = 'succeeded' ORDER BY id DESC) AS n
                    FROM harden_builds WHERE status IN ('succeeded', 'failed', 'interrupted')
                ) AS ranked WHERE status = 'succeeded' AND n <= 2 OR status != 'succeeded' AND n <= 64
            )
            ORDER BY id DESC
            """)
        var result: [String: RecentAttempts] = [:]
        for row in rows {
            let record = try BuildRows.record(row, path: location)
            result[record.recipe, default: RecentAttempts()].add(record)
        }
        return result
    }

    public func build(id: Int64) async throws(StoreError) -> BuildRecord? {
        guard
            let row = try await session.run(
                "SELECT \(BuildRows.selectList) FROM harden_builds WHERE id = $1", [.integer(id)]
            ).first
        else { return nil }
        return try BuildRows.record(row, path: location)
    }

    /// "ok" when the schema is this harden's and every table answers; else what is wrong.
    public func integrityCheck() async throws(StoreError) -> String {
        let version = try await session.schemaVersion()
        guard version == Self.schemaVersion else { return "schema version \(version), expected \(Self.schemaVersion)" }
        for table in ["harden_builds", "harden_file_hashes", "harden_pushes"] {
            try await session.run("SELECT count(*) FROM \(table)")
        }
        let bad = try await session.run(
            "SELECT count(*) FROM harden_builds WHERE status IN ('running', 'planned') AND owner IS NULL")
        if let count = bad.first?.first?.integer, count > 0 { return "\(count) unfinished builds without an owner" }
        return "ok"
    }

    // MARK: context file hashes (per machine: paths, inodes and times mean nothing elsewhere)

    public func fileHashes() async throws(StoreError) -> [String: FileHash] {
        var result: [String: FileHash] = [:]
        for row in try await session.run(
            "SELECT path, size, modified, inode, sha256 FROM harden_file_hashes WHERE machine = $1", [.text(machine)])
        {
            guard let path = row[0].text, let size = row[1].integer, let modified = row[2].integer,
                let inode = row[3].integer, let sha = row[4].text
            else { continue }
            result[path] = FileHash(path: path, size: size, modified: modified, inode: inode, sha256: sha)
        }
        return result
    }

    public func saveFileHashes(_ hashes: [FileHash]) async throws(StoreError) {
        guard !hashes.isEmpty else { return }
        // One statement for the lot; the last hash of a path wins, as with the SQLite file.
        var latest: [String: FileHash] = [:]
        for hash in hashes { latest[hash.path] = hash }
        let unique = latest.values.sorted { $0.path < $1.path }
        var binds = PostgresBindings(capacity: 6)
        binds.append(machine)
        binds.append(unique.map(\.path))
        binds.append(unique.map(\.size))
        binds.append(unique.map(\.modified))
        binds.append(unique.map(\.inode))
        binds.append(unique.map(\.sha256))
        try await session.run(
            PostgresQuery(
                unsafeSQL: """
                    INSERT INTO harden_file_hashes (machine, path, size, modified, inode, sha256)
                    SELECT $1, * FROM unnest($2::text[], $3::int8[], $4::int8[], $5::int8[], $6::text[])
                    ON CONFLICT (machine, path) DO UPDATE SET size = excluded.size, modified = excluded.modified,
                        inode = excluded.inode, sha256 = excluded.sha256
                    """, binds: binds))
    }

    // MARK: pushes

    public func recordPush(_ push: PushRecord) async throws(StoreError) {
        try await session.run(
            """
            INSERT INTO harden_pushes (build, recipe, registry, repository, tag, digest, pushed_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            """,
            [
                push.build.map(SQLValue.integer) ?? .null, push.recipe.map(SQLValue.text) ?? .null, .text(push.registry),
                .text(push.repository), .text(push.tag), .text(push.digest), .real(push.pushedAt.timeIntervalSince1970),
            ])
    }

    public func pushes(recipe: String? = nil, registry: String? = nil, limit: Int = 100) async throws(StoreError)
        -> [PushRecord]
    {
        var conditions: [String] = []
        var values: [SQLValue] = []
        if let recipe {
            values.append(.text(recipe))
            conditions.append("recipe = $\(values.count)")
        }
        if let registry {
            values.append(.text(registry))
            conditions.append("registry = $\(values.count)")
        }
        values.append(.integer(Int64(limit)))
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        return try await session.run(
            """
            SELECT build, recipe, registry, repository, tag, digest, pushed_at FROM harden_pushes \(filter)
            ORDER BY id DESC LIMIT $\(values.count)
            """, values
        ).map { row in
            PushRecord(
                build: row[0].integer, recipe: row[1].text, registry: row[2].text ?? "", repository: row[3].text ?? "",
                tag: row[4].text ?? "", digest: row[5].text ?? "", pushedAt: Date(timeIntervalSince1970: row[6].real ?? 0))
        }
    }
}

/// A recipe's advisory lock, held by the history's session until released.
struct PostgresRecipeLock: RecipeLock {
    let store: PostgresHistory
    let key: Int64

    func release() async { await store.unlock(key) }
}
