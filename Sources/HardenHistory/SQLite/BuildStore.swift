import Foundation
import HardenSQLite

/// The build history: an SQLite file (WAL) in the state directory, the default ``HistoryStore``.
///
/// Every change is one transaction. A build left `running` by a process that
/// no longer exists is marked `interrupted` when the store is opened. The per-recipe
/// build lock is a `flock` on a file in `locks/` beside the database: one machine only.
public actor BuildStore: HistoryStore {
    /// The schema this version of harden writes; a newer file is refused.
    public static let schemaVersion = 3

    private let connection: SQLiteConnection
    public nonisolated let path: String
    /// The directory of the recipes' lock files.
    public nonisolated let locks: URL
    /// Builds found abandoned (their process is gone) and marked interrupted by this open.
    public nonisolated let recovered: [(recipe: String, id: Int64)]

    public nonisolated var location: String { path }

    /// Opens (creating or migrating) the history file at `path`; the recipe locks are kept in
    /// `locks` (default: `locks/` beside the file).
    public init(path: String, locks: URL? = nil) throws(StoreError) {
        self.path = path
        self.locks = locks ?? URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("locks")
        let directory = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw StoreError(path: directory, message: "cannot create the state directory: \(error.localizedDescription)")
        }
        let connection = try SQLiteConnection(
            path: path, damagedHint: "move it aside (harden keeps no other copy of the history) and run again to start a new one")
        try Self.migrate(connection)
        self.connection = connection
        recovered = try Self.markAbandoned(connection)
    }

    private static func migrate(_ db: SQLiteConnection) throws(StoreError) {
        // The log is kept between runs (keepWriteAheadLog); after a checkpoint it shrinks back to 4 MiB.
        try db.execute(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA journal_size_limit=4194304")
        db.keepWriteAheadLog()
        let version = Int(try db.query("PRAGMA user_version").first?.first?.integer ?? 0)
        if version > schemaVersion {
            throw StoreError(
                path: db.path, message: "the database has schema version \(version); this harden knows up to \(schemaVersion)",
                hint: "use a newer harden, or point --state at another directory; the file was not changed")
        }
        if version < schemaVersion {
            try db.transaction { () throws(StoreError) in
                for step in migrations.dropFirst(version) { try db.execute(step) }
                try db.execute("PRAGMA user_version = \(schemaVersion)")
            }
        }
        try addIndexes(db)
    }

    /// Schema steps; step N brings a file from version N to N+1.
    private static let migrations = [
        """
        CREATE TABLE IF NOT EXISTS builds (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            recipe TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('planned','skipped','running','succeeded','failed','interrupted')),
            trigger TEXT NOT NULL,
            reasons TEXT NOT NULL,
            input_digest TEXT NOT NULL,
            input_parts TEXT NOT NULL,
            base_images TEXT NOT NULL,
            builder_image TEXT, runtime_image TEXT, image_archive TEXT,
            builder_log TEXT, runtime_log TEXT,
            builder_seconds REAL, runtime_seconds REAL,
            started_at REAL NOT NULL, finished_at REAL,
            exit_status INTEGER, error TEXT, pid INTEGER
        );
        CREATE INDEX IF NOT EXISTS builds_by_recipe ON builds (recipe, id);
        CREATE TABLE IF NOT EXISTS file_hashes (
            path TEXT PRIMARY KEY, size INTEGER NOT NULL, modified INTEGER NOT NULL,
            inode INTEGER NOT NULL, sha256 TEXT NOT NULL
        );
        """,
        """
        ALTER TABLE builds ADD COLUMN base_digests TEXT NOT NULL DEFAULT '{}';
        ALTER TABLE builds ADD COLUMN verification TEXT;
        ALTER TABLE builds ADD COLUMN verify_report TEXT;
        ALTER TABLE builds ADD COLUMN scan_report TEXT;
        ALTER TABLE builds ADD COLUMN vulnerabilities TEXT;
        """,
        """
        CREATE TABLE IF NOT EXISTS pushes (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            build INTEGER REFERENCES builds (id),
            recipe TEXT,
            registry TEXT NOT NULL, repository TEXT NOT NULL, tag TEXT NOT NULL,
            digest TEXT NOT NULL, pushed_at REAL NOT NULL
        );
        CREATE INDEX IF NOT EXISTS pushes_by_registry ON pushes (registry, id);
        """,
    ]

    /// Every run asks for each recipe's last success and for builds left unfinished: without
    /// these, both read every row of the history (about 7 µs a build, every plan). Indexes only,
    /// so not a schema version: an older harden still opens the file.
    private static let indexes = """
        CREATE INDEX IF NOT EXISTS builds_succeeded ON builds (recipe, id) WHERE status = 'succeeded';
        CREATE INDEX IF NOT EXISTS builds_unfinished ON builds (id) WHERE status IN ('running', 'planned');
        """

    /// The two queries the indexes are for.
    static let lastSuccesses = "SELECT max(id) FROM builds WHERE status = 'succeeded' GROUP BY recipe"
    static let unfinishedBuilds = "SELECT id, pid, recipe FROM builds WHERE status IN ('running', 'planned')"

    /// Creates the indexes when the file lacks them (a read, not a write, when it has them).
    private static func addIndexes(_ db: SQLiteConnection) throws(StoreError) {
        let present = try db.query(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN ('builds_succeeded', 'builds_unfinished')")
        if present.first?.first?.integer != 2 { try db.execute(indexes) }
    }

    private static func markAbandoned(_ db: SQLiteConnection) throws(StoreError) -> [(recipe: String, id: Int64)] {
        let running = try db.query(unfinishedBuilds)
        let dead = running.compactMap { row -> (recipe: String, id: Int64)? in
            guard let id = row[0].integer, let recipe = row[2].text else { return nil }
            if let pid = row[1].integer, pid > 0, processIsAlive(pid_t(pid)) { return nil }
            return (recipe, id)
        }
        guard !dead.isEmpty else { return [] }
        try db.transaction { () throws(StoreError) in
            for (_, id) in dead {
                try db.query(
                    """
                    UPDATE builds SET status = 'interrupted', finished_at = ?,
                        error = coalesce(error, 'harden stopped before the build finished (killed or crashed)')
                    WHERE id = ? AND status IN ('running', 'planned')
                    """, [.real(Date().timeIntervalSince1970), .integer(id)])
            }
        }
        return dead
    }

    private static func processIsAlive(_ pid: pid_t) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }

    // MARK: locks

    /// A `flock` on `locks/RECIPE.lock`: held against other harden processes of this machine.
    public func lockRecipe(_ recipe: String) throws(StoreError) -> RecipeLockAttempt {
        guard let lock = try FileRecipeLock(file: locks.appendingPathComponent("\(recipe).lock")) else {
            return .busy("another harden process is building \(recipe) right now")
        }
        return .acquired(lock)
    }

    // MARK: pushes

    /// Records that an image (of build `build` of `recipe`, when it came from one) now is in a registry.
    public func recordPush(_ push: PushRecord) throws(StoreError) {
        try connection.query(
            """
            INSERT INTO pushes (build, recipe, registry, repository, tag, digest, pushed_at) VALUES (?, ?, ?, ?, ?, ?, ?)
            """,
            [
                push.build.map(SQLValue.integer) ?? .null, push.recipe.map(SQLValue.text) ?? .null, .text(push.registry),
                .text(push.repository), .text(push.tag), .text(push.digest), .real(push.pushedAt.timeIntervalSince1970),
            ])
    }

    /// Pushes, newest first: all of them, or those of one recipe, or those to one registry.
    public func pushes(recipe: String? = nil, registry: String? = nil, limit: Int = 100) throws(StoreError) -> [PushRecord] {
        var conditions: [String] = []
        var values: [SQLValue] = []
        if let recipe {
            conditions.append("recipe = ?")
            values.append(.text(recipe))
        }
        if let registry {
            conditions.append("registry = ?")
            values.append(.text(registry))
        }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        return try connection.query(
            """
            SELECT build, recipe, registry, repository, tag, digest, pushed_at FROM pushes \(filter) ORDER BY id DESC LIMIT \(limit)
            """, values
        ).map { row in
            PushRecord(
                build: row[0].integer, recipe: row[1].text, registry: row[2].text ?? "", repository: row[3].text ?? "",
                tag: row[4].text ?? "", digest: row[5].text ?? "", pushedAt: Date(timeIntervalSince1970: row[6].real ?? 0))
        }
    }

    // MARK: builds

    /// Inserts a record and returns its id.
    @discardableResult
    public func insert(_ record: BuildRecord) throws(StoreError) -> Int64 {
        try connection.transaction { () throws(StoreError) in
            try connection.query(
                """
                INSERT INTO builds (recipe, status, trigger, reasons, input_digest, input_parts, base_images,
                    builder_image, runtime_image, image_archive, builder_log, runtime_log, builder_seconds,
                    runtime_seconds, started_at, finished_at, exit_status, error, pid, base_digests, verification,
                    verify_report, scan_report, vulnerabilities)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, BuildRows.columns(record))
            return connection.lastInsertRowID
        }
    }

    /// Replaces a record's fields (matched by `record.id`).
    public func update(_ record: BuildRecord) throws(StoreError) {
        guard let id = record.id else {
            throw StoreError(path: path, message: "cannot update a build record that was never inserted")
        }
        try connection.transaction { () throws(StoreError) in
            try connection.query(
                """
                UPDATE builds SET recipe = ?, status = ?, trigger = ?, reasons = ?, input_digest = ?, input_parts = ?,
                    base_images = ?, builder_image = ?, runtime_image = ?, image_archive = ?, builder_log = ?,
                    runtime_log = ?, builder_seconds = ?, runtime_seconds = ?, started_at = ?, finished_at = ?,
                    exit_status = ?, error = ?, pid = ?, base_digests = ?, verification = ?, verify_report = ?,
                    scan_report = ?, vulnerabilities = ?
                WHERE id = ?
                """, BuildRows.columns(record) + [.integer(id)])
        }
    }

    /// The newest succeeded build of each recipe.
    public func latestSucceeded() throws(StoreError) -> [String: BuildRecord] {
        let rows = try connection.query(
            """
            SELECT \(BuildRows.selectList) FROM builds WHERE id IN (\(Self.lastSuccesses))
            """)
        var result: [String: BuildRecord] = [:]
        for row in rows {
            let record = try BuildRows.record(row, path: path)
            result[record.recipe] = record
        }
        return result
    }

    /// Builds, newest first, optionally for one recipe and from a date on.
    public func builds(recipe: String? = nil, since: Date? = nil, limit: Int = 100) throws(StoreError) -> [BuildRecord] {
        var conditions: [String] = []
        var values: [SQLValue] = []
        if let recipe {
            conditions.append("recipe = ?")
            values.append(.text(recipe))
        }
        if let since {
            conditions.append("started_at >= ?")
            values.append(.real(since.timeIntervalSince1970))
        }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let rows = try connection.query(
            "SELECT \(BuildRows.selectList) FROM builds \(filter) ORDER BY id DESC LIMIT ?", values + [.integer(Int64(limit))])
        var records: [BuildRecord] = []
        for row in rows { records.append(try BuildRows.record(row, path: path)) }
        return records
    }

    /// Per recipe: the two newest succeeded builds, the newest attempt (not skipped) and the
    /// failed or interrupted attempts since the last success — what a rebuild decision needs.
    public func attempts() throws(StoreError) -> [String: RecentAttempts] {
        let rows = try connection.query(
            """
            SELECT \(BuildRows.selectList) FROM builds WHERE id IN (
                SELECT id FROM (
                    SELECT id, status,
                        row_number() OVER (PARTITION BY recipe, status = 'succeeded' ORDER BY id DESC) AS n
                    FROM builds WHERE status IN ('succeeded', 'failed', 'interrupted')
                ) WHERE status = 'succeeded' AND n <= 2 OR status != 'succeeded' AND n <= 64
            )
            ORDER BY id DESC
            """)
        var result: [String: RecentAttempts] = [:]
        for row in rows {
            let record = try BuildRows.record(row, path: path)
            result[record.recipe, default: RecentAttempts()].add(record)
        }
        return result
    }

    public func build(id: Int64) throws(StoreError) -> BuildRecord? {
        guard let row = try connection.query("SELECT \(BuildRows.selectList) FROM builds WHERE id = ?", [.integer(id)]).first
        else { return nil }
        return try BuildRows.record(row, path: path)
    }

    /// `PRAGMA integrity_check`: "ok" when the file is sound.
    public func integrityCheck() throws(StoreError) -> String {
        try connection.query("PRAGMA integrity_check").first?.first?.text ?? "no answer"
    }

    // MARK: context file hashes

    public func fileHashes() throws(StoreError) -> [String: FileHash] {
        var result: [String: FileHash] = [:]
        for row in try connection.query("SELECT path, size, modified, inode, sha256 FROM file_hashes") {
            guard let path = row[0].text, let size = row[1].integer, let modified = row[2].integer,
                let inode = row[3].integer, let sha = row[4].text
            else { continue }
            result[path] = FileHash(path: path, size: size, modified: modified, inode: inode, sha256: sha)
        }
        return result
    }

    public func saveFileHashes(_ hashes: [FileHash]) throws(StoreError) {
        guard !hashes.isEmpty else { return }
        try connection.transaction { () throws(StoreError) in
            for hash in hashes {
                try connection.query(
                    "INSERT OR REPLACE INTO file_hashes (path, size, modified, inode, sha256) VALUES (?, ?, ?, ?, ?)",
                    [.text(hash.path), .integer(hash.size), .integer(hash.modified), .integer(hash.inode), .text(hash.sha256)])
            }
        }
    }
}
