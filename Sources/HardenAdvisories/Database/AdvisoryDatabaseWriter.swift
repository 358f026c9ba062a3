import Foundation
import HardenSQLite

/// Builds a new advisory database beside the one in use and puts it in place only when it is
/// complete and checked: the old file keeps serving scans meanwhile, and a failed, interrupted
/// or killed import leaves it as it was (what is left is a `.new-PID` file the next import
/// removes). Imports into one file take turns (a lock file beside it).
public final class AdvisoryDatabaseWriter {
    public enum Outcome: Sendable, Equatable {
        case added, replaced, olderSkipped, withdrawn, otherEcosystem
    }

    private let connection: SQLiteConnection
    /// Where the database goes; nil for one kept in memory.
    private let target: String?
    private let temporary: String?
    /// The lock file's descriptor; -1 once released.
    private var lockDescriptor: Int32
    private var finished = false
    private var others: [String: [String: Int]] = [:]

    private let findRecord: SQLiteStatement
    private let findWithdrawn: SQLiteStatement
    private let markWithdrawn: SQLiteStatement
    private let insertRecord: SQLiteStatement
    private let insertKey: SQLiteStatement
    private let insertAffected: SQLiteStatement

    /// A writer for the database at `target`; it starts from the current one when `keepCurrent`
    /// (to add sources or change some records), else from empty.
    public convenience init(target: String, keepCurrent: Bool) throws(AdvisoryError) {
        let directory = (target as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: directory.isEmpty ? "." : directory, withIntermediateDirectories: true)
        } catch {
            throw AdvisoryError(file: directory, message: "cannot be created (\(error.localizedDescription))")
        }
        let lockPath = target + ".lock"
        let descriptor = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw AdvisoryError(file: lockPath, message: "cannot be opened: \(String(cString: strerror(errno)))")
        }
        if flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            FileHandle.standardError.write(Data("harden: waiting for another import into \(target)\n".utf8))
            flock(descriptor, LOCK_EX)
        }
        Self.removeAbandoned(beside: target)
        let temporary = target + ".new-\(getpid())"
        unlink(temporary)
        if keepCurrent, FileManager.default.fileExists(atPath: target) {
            // The current file must be sound to build on: a damaged one is not copied forward.
            let check: String
            do {
                check = try AdvisoryDatabase(path: target).integrityCheck()
            } catch {
                close(descriptor)
                throw error
            }
            guard check == "ok" else {
                close(descriptor)
                throw AdvisoryError(
                    file: target, message: "is damaged (\(check))",
                    hint: "move it aside, then sync or import again (`harden advisories import --replace PATH…` starts empty)")
            }
            do {
                try FileManager.default.copyItem(atPath: target, toPath: temporary)
            } catch {
                close(descriptor)
                throw AdvisoryError(file: temporary, message: "cannot be written (\(error.localizedDescription))")
            }
        }
        let connection: SQLiteConnection
        do {
            connection = try SQLiteConnection(path: temporary, damagedHint: AdvisoryDatabase.damagedHint)
        } catch {
            unlink(temporary)
            close(descriptor)
            throw AdvisoryError(error)
        }
        do {
            try self.init(connection: connection, target: target, temporary: temporary, lock: descriptor)
        } catch {
            unlink(temporary)
            close(descriptor)
            throw error
        }
    }

    /// A database in memory, for `--advisories` given an OSV zip or folder.
    public static func inMemory() throws(AdvisoryError) -> AdvisoryDatabaseWriter {
        let connection: SQLiteConnection
        do {
            connection = try SQLiteConnection(path: ":memory:", damagedHint: "")
        } catch {
            throw AdvisoryError(error)
        }
        return try AdvisoryDatabaseWriter(connection: connection, target: nil, temporary: nil, lock: -1)
    }

    private init(connection: SQLiteConnection, target: String?, temporary: String?, lock: Int32) throws(AdvisoryError) {
        self.connection = connection
        self.target = target
        self.temporary = temporary
        lockDescriptor = lock
        do {
            // A file nobody reads until it is renamed: no journal, no syncs until the end.
            try connection.execute("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF")
            try Self.createSchema(connection)
            try connection.execute("BEGIN")
            findRecord = try connection.prepare("SELECT rowid, modified FROM records WHERE id = ?")
            findWithdrawn = try connection.prepare("SELECT modified FROM withdrawn WHERE id = ?")
            markWithdrawn = try connection.prepare(
                "INSERT INTO withdrawn VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET modified = MAX(modified, excluded.modified)")
            insertRecord = try connection.prepare(
                "INSERT INTO records (id, source, modified, summary, aliases, score) VALUES (?, ?, ?, ?, ?, ?)")
            insertKey = try connection.prepare("INSERT INTO record_keys (key, record) VALUES (?, ?)")
            insertAffected = try connection.prepare(
                """
                INSERT INTO affected (family, name, record, entry, id, ecosystem, ranges, versions, severity, severity_source)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        } catch {
            throw AdvisoryError(error)
        }
    }

    deinit {
        if !finished { abandon() }
    }

    private static func createSchema(_ connection: SQLiteConnection) throws(StoreError) {
        let version = Int(try connection.query("PRAGMA user_version").first?.first?.integer ?? 0)
        guard version == 0 else {
            guard version <= AdvisoryDatabase.schemaVersion else {
                throw StoreError(
                    path: connection.path, message: "made by a newer harden (schema \(version))",
                    hint: "sync with that harden, or into another file (--db)")
            }
            return
        }
        try connection.execute(
            """
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            INSERT INTO meta VALUES ('format', '\(AdvisoryDatabase.format)');
            CREATE TABLE sources (
                name TEXT PRIMARY KEY, location TEXT NOT NULL, etag TEXT, last_modified TEXT, synced_at REAL NOT NULL,
                records INTEGER NOT NULL, skipped INTEGER NOT NULL, newest_modified TEXT);
            CREATE TABLE records (
                rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, source TEXT NOT NULL, modified TEXT NOT NULL,
                summary TEXT, aliases TEXT NOT NULL, score REAL, alias_score REAL, alias_of TEXT);
            CREATE INDEX records_by_source ON records (source);
            CREATE TABLE record_keys (key TEXT NOT NULL, record INTEGER NOT NULL);
            CREATE INDEX record_keys_by_key ON record_keys (key);
            CREATE INDEX record_keys_by_record ON record_keys (record);
            CREATE TABLE affected (
                family TEXT NOT NULL, name TEXT NOT NULL, record INTEGER NOT NULL, entry INTEGER NOT NULL,
                id TEXT NOT NULL, ecosystem TEXT NOT NULL, ranges TEXT NOT NULL, versions TEXT NOT NULL,
                severity TEXT, severity_source TEXT, alias_score REAL, alias_of TEXT,
                PRIMARY KEY (family, name, record, entry)) WITHOUT ROWID;
            CREATE INDEX affected_by_record ON affected (record);
            CREATE TABLE withdrawn (id TEXT PRIMARY KEY, modified TEXT NOT NULL);
            CREATE TABLE ecosystem_counts (ecosystem TEXT PRIMARY KEY, records INTEGER NOT NULL);
            CREATE TABLE other_ecosystems (
                source TEXT NOT NULL, ecosystem TEXT NOT NULL, records INTEGER NOT NULL, PRIMARY KEY (source, ecosystem));
            PRAGMA user_version = \(AdvisoryDatabase.schemaVersion);
            """)
    }

    /// Adds one record from `source`; of two records with one ID the later `modified` stays.
    /// A withdrawn record removes the one it replaces and is remembered, so an older copy that
    /// arrives later (from another source, or another sync) stays out.
    @discardableResult
    public func add(_ record: OSVAdvisory, source: String) throws(AdvisoryError) -> Outcome {
        do {
            let modified = record.modified ?? ""
            if record.withdrawn != nil {
                try markWithdrawn.run([.text(record.id), .text(modified)])
            } else if let tombstone = try findWithdrawn.rows([.text(record.id)]).first?.first?.text, tombstone >= modified {
                return .withdrawn
            }
            if let existing = try findRecord.rows([.text(record.id)]).first {
                guard (existing[1].text ?? "") <= modified else { return .olderSkipped }
                try delete(rowid: existing[0].integer ?? 0)
                if record.withdrawn != nil { return .withdrawn }
                return try insert(record, source: source) ? .replaced : .otherEcosystem
            }
            if record.withdrawn != nil { return .withdrawn }
            return try insert(record, source: source) ? .added : .otherEcosystem
        } catch {
            throw AdvisoryError(error)
        }
    }

    /// What the database being written says of each source (after the lock is held, so two
    /// syncs never build on what the other replaced).
    public func sources() throws(AdvisoryError) -> [AdvisorySourceStatus] {
        try AdvisoryDatabase.sources(of: connection)
    }

    /// Inserts the record; false when none of its packages is in an ecosystem harden matches
    /// (it is kept all the same: its CVSS can give severity to records sharing an alias).
    private func insert(_ record: OSVAdvisory, source: String) throws(StoreError) -> Bool {
        var entries: [(family: String, name: String, ecosystem: String, ranges: String, versions: String, SeverityVerdict?)] = []
        var unmatched: Set<String> = []
        for affected in record.affected ?? [] {
            guard let package = affected.package else { continue }
            guard let family = AdvisoryKey.family(package.ecosystem) else {
                unmatched.insert(package.ecosystem.split(separator: ":").first.map(String.init) ?? package.ecosystem)
                continue
            }
            let (ranges, versions) = AffectedRanges.encode(affected)
            let verdict = RecordSeverity.own(record, affected) ?? RecordSeverity.urgency(affected)
            entries.append(
                (family, AdvisoryKey.name(package.name, family: family), package.ecosystem, ranges, versions, verdict))
        }
        let aliases = (record.aliases ?? []).joined(separator: " ")
        try insertRecord.run([
            .text(record.id), .text(source), .text(record.modified ?? ""), record.summary.map(SQLValue.text) ?? .null,
            .text(aliases), RecordSeverity.bestScore(record).map(SQLValue.real) ?? .null,
        ])
        let rowid = connection.lastInsertRowID
        for key in Set([record.id] + (record.aliases ?? []) + (record.upstream ?? [])) {
            try insertKey.run([.text(key), .integer(rowid)])
        }
        for (number, entry) in entries.enumerated() {
            try insertAffected.run([
                .text(entry.family), .text(entry.name), .integer(rowid), .integer(Int64(number)), .text(record.id),
                .text(entry.ecosystem), .text(entry.ranges), .text(entry.versions),
                entry.5.map { .text($0.severity.rawValue) } ?? .null, entry.5.map { .text($0.source) } ?? .null,
            ])
        }
        if entries.isEmpty {
            for ecosystem in unmatched { others[source, default: [:]][ecosystem, default: 0] += 1 }
        }
        return !entries.isEmpty
    }

    private func delete(rowid: Int64) throws(StoreError) {
        for table in ["affected", "record_keys"] {
            try connection.query("DELETE FROM \(table) WHERE record = ?", [.integer(rowid)])
        }
        try connection.query("DELETE FROM records WHERE rowid = ?", [.integer(rowid)])
    }

    /// Removes one record, as a source's list of changes asks.
    public func remove(id: String) throws(AdvisoryError) {
        do {
            if let row = try findRecord.rows([.text(id)]).first { try delete(rowid: row[0].integer ?? 0) }
        } catch {
            throw AdvisoryError(error)
        }
    }

    /// Removes every record a source brought, before it is imported again whole.
    public func removeSource(_ name: String) throws(AdvisoryError) {
        do {
            for table in ["affected", "record_keys"] {
                try connection.query(
                    "DELETE FROM \(table) WHERE record IN (SELECT rowid FROM records WHERE source = ?)", [.text(name)])
            }
            try connection.query("DELETE FROM records WHERE source = ?", [.text(name)])
            try connection.query("DELETE FROM other_ecosystems WHERE source = ?", [.text(name)])
            try connection.query("DELETE FROM sources WHERE name = ?", [.text(name)])
            others[name] = nil
        } catch {
            throw AdvisoryError(error)
        }
    }

    /// Records what a source is and when it was fetched; `records` and `newestModified` are
    /// counted from the database.
    public func setSource(
        name: String, location: String, syncedAt: Date, skipped: Int, etag: String? = nil, lastModified: String? = nil
    ) throws(AdvisoryError) {
        do {
            let counts = try connection.query(
                "SELECT COUNT(*), MAX(modified) FROM records WHERE source = ?", [.text(name)]
            ).first
            try connection.query(
                """
                INSERT OR REPLACE INTO sources (name, location, etag, last_modified, synced_at, records, skipped, newest_modified)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    .text(name), .text(location), etag.map(SQLValue.text) ?? .null, lastModified.map(SQLValue.text) ?? .null,
                    .real(syncedAt.timeIntervalSince1970), .integer(counts?[0].integer ?? 0), .integer(Int64(skipped)),
                    counts?[1].text.map(SQLValue.text) ?? .null,
                ])
        } catch {
            throw AdvisoryError(error)
        }
    }

    /// Records a source has in the new database so far.
    public func sourceRecordCount(_ name: String) throws(AdvisoryError) -> Int {
        do {
            return Int(try connection.query("SELECT COUNT(*) FROM records WHERE source = ?", [.text(name)]).first?[0].integer ?? 0)
        } catch {
            throw AdvisoryError(error)
        }
    }

    /// Works out severity from aliases, checks the whole file, and puts it in place.
    public func commit() throws(AdvisoryError) -> AdvisoryDatabase {
        do {
            for (source, counts) in others {
                for (ecosystem, count) in counts {
                    try connection.query(
                        """
                        INSERT INTO other_ecosystems (source, ecosystem, records) VALUES (?, ?, ?)
                        ON CONFLICT (source, ecosystem) DO UPDATE SET records = records + excluded.records
                        """, [.text(source), .text(ecosystem), .integer(Int64(count))])
                }
            }
            others = [:]
            try Self.shareAliasSeverity(connection)
            // Counted once here, so opening the database for a scan reads two small rows.
            try connection.execute(
                """
                DELETE FROM ecosystem_counts;
                INSERT INTO ecosystem_counts SELECT ecosystem, COUNT(DISTINCT record) FROM affected GROUP BY ecosystem;
                INSERT OR REPLACE INTO meta VALUES ('records', (SELECT COUNT(*) FROM records));
                INSERT OR REPLACE INTO meta VALUES ('build', lower(hex(randomblob(16))));
                """)
            try connection.execute("COMMIT")
        } catch {
            abandon()
            throw AdvisoryError(error)
        }
        guard let target, let temporary else {
            finished = true
            return try AdvisoryDatabase(connection: connection)
        }
        let check = (try? connection.query("PRAGMA integrity_check").first?.first?.text) ?? "no answer"
        guard check == "ok" else {
            abandon()
            throw AdvisoryError(file: temporary, message: "failed its integrity check (\(check)); the database in use is unchanged")
        }
        let descriptor = open(temporary, O_RDONLY | O_CLOEXEC)
        let synced = descriptor >= 0 && fsync(descriptor) == 0
        if descriptor >= 0 { close(descriptor) }
        guard synced, rename(temporary, target) == 0 else {
            let reason = String(cString: strerror(errno))
            abandon()
            throw AdvisoryError(file: target, message: "cannot be replaced: \(reason); the database in use is unchanged")
        }
        let parent = (target as NSString).deletingLastPathComponent
        let directory = open(parent.isEmpty ? "." : parent, O_RDONLY | O_CLOEXEC)
        if directory >= 0 {
            fsync(directory)
            close(directory)
        }
        finished = true
        releaseLock()
        return try AdvisoryDatabase(path: target)
    }

    /// Drops the new file; the database in use stays as it was. Runs once.
    public func abandon() {
        guard !finished else { return releaseLock() }
        finished = true
        if let temporary { unlink(temporary) }
        releaseLock()
    }

    private func releaseLock() {
        if lockDescriptor >= 0 { close(lockDescriptor) }
        lockDescriptor = -1
    }

    /// For each record, the highest CVSS v3 score among the other records sharing an ID or
    /// alias with it, and which record that is (SQLite takes the bare column from the MAX row);
    /// copied to its package rows, so a lookup reads one table.
    private static func shareAliasSeverity(_ connection: SQLiteConnection) throws(StoreError) {
        try connection.execute(
            """
            UPDATE records SET alias_score = NULL, alias_of = NULL WHERE alias_score IS NOT NULL;
            UPDATE records SET alias_score = best.score, alias_of = best.id
            FROM (
                SELECT mine.record AS record, other.id AS id, MAX(other.score) AS score
                FROM record_keys AS mine
                JOIN record_keys AS theirs ON theirs.key = mine.key AND theirs.record != mine.record
                JOIN records AS other ON other.rowid = theirs.record
                WHERE other.score IS NOT NULL
                GROUP BY mine.record
            ) AS best
            WHERE records.rowid = best.record;
            UPDATE affected SET alias_score = records.alias_score, alias_of = records.alias_of
            FROM records WHERE records.rowid = affected.record
                AND (affected.alias_of IS NOT records.alias_of OR affected.alias_score IS NOT records.alias_score);
            """)
    }

    /// Files a killed import left behind: with the lock held, no other import is writing one.
    private static func removeAbandoned(beside target: String) {
        let directory = (target as NSString).deletingLastPathComponent
        let prefix = (target as NSString).lastPathComponent + ".new-"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory.isEmpty ? "." : directory)) ?? []
        where name.hasPrefix(prefix) {
            unlink((directory.isEmpty ? "." : directory) + "/" + name)
        }
    }
}
