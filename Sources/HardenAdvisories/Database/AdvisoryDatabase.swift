import Foundation
import HardenConcurrency
import HardenSQLite

/// A failure to read, import or fetch advisories: what (a file, an archive entry, a URL), what
/// is wrong, and what to do.
public struct AdvisoryError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var message: String
    public var hint: String?

    public init(file: String, message: String, hint: String? = nil) {
        self.file = file
        self.message = message
        self.hint = hint
    }

    public var description: String { "\(file): \(message)" + (hint.map { "\n  hint: \($0)" } ?? "") }

    init(_ error: StoreError) {
        self.init(file: error.path, message: error.message, hint: error.hint)
    }
}

/// One package entry of one advisory, as matching reads it from the database: only what
/// deciding a match needs; `details` gives the rest for the entries that match.
public struct AdvisoryCandidate: Sendable {
    /// The database's key for the record and the entry's place in its `affected` list.
    public var record: Int64
    public var entry: Int64
    var family: String
    var name: String
    /// `Debian:12`, `Debian`, `Alpine:v3.22`, `PyPI`.
    public var ecosystem: String
    /// The ranges and listed versions in the database's compact form.
    let ranges: String
    let versions: String

    /// Ranges and listed versions (decoded on each access: matching reads them once).
    public var affected: OSVAffected { AffectedRanges.decode(ranges: ranges, versions: versions) }
}

/// What a report shows of a matched entry.
public struct AdvisoryDetails: Sendable {
    public var id: String
    public var aliases: [String]
    public var summary: String?
    public var severity: SeverityVerdict
}

/// One source of the database (a synced URL or an imported file) as `advisories status` shows it.
public struct AdvisorySourceStatus: Sendable, Codable, Equatable {
    public var name: String
    public var location: String
    public var syncedAt: Date
    public var records: Int
    public var skipped: Int
    public var newestModified: String?
    public var etag: String?
    public var lastModified: String?
}

/// The packed advisory database: one SQLite file, built whole by `AdvisoryDatabaseWriter` and
/// only read here. Lookups go by ecosystem family + package name (PEP 503 names for PyPI,
/// source package names for Debian and Alpine); IDs and aliases are indexed too.
public final class AdvisoryDatabase: @unchecked Sendable {
    static let format = "harden-advisories"
    static let schemaVersion = 1
    static let damagedHint = "move it aside, then sync or import again (`harden advisories import --replace PATH…` starts empty)"

    let connection: SQLiteConnection
    public let path: String
    private let lock = NSLock()
    private lazy var lookup = try? Self.prepareLookup(connection)
    /// Statements on extra connections to the same file, one per extra core (see `openLanes`).
    private var lanes: [Lane] = []
    private lazy var detailsLookup = try? connection.prepare(
        """
        SELECT r.id, r.aliases, r.summary, a.severity, a.severity_source, a.alias_score, a.alias_of
        FROM affected a JOIN records r ON r.rowid = a.record
        WHERE a.family = ? AND a.name = ? AND a.record = ? AND a.entry = ?
        """)

    /// Opens a database file read-only, refusing one that is not a harden advisory database or
    /// has a newer schema.
    public convenience init(path: String) throws(AdvisoryError) {
        guard FileManager.default.fileExists(atPath: path) else {
            throw AdvisoryError(
                file: path, message: "no such advisory database",
                hint: "`harden advisories sync` or `harden advisories import PATH…` makes one")
        }
        let connection: SQLiteConnection
        do {
            connection = try SQLiteConnection(path: path, readOnly: true, damagedHint: Self.damagedHint)
        } catch {
            throw AdvisoryError(error)
        }
        try self.init(connection: connection)
        lanes = Self.openLanes(path: path, matching: connection)
    }

    /// Extra read-only connections for parallel lookups, opened now, so they read the same file
    /// as the main connection even if a sync replaces it later; any that opened a newer file
    /// (its build token differs) is dropped.
    private static func openLanes(path: String, matching main: SQLiteConnection) -> [Lane] {
        let count = min(ProcessInfo.processInfo.activeProcessorCount, 4) - 1
        guard count > 0, let token = try? main.query("SELECT value FROM meta WHERE key = 'build'").first?.first?.text
        else { return [] }
        var lanes: [Lane] = []
        for _ in 0..<count {
            guard let connection = try? SQLiteConnection(path: path, readOnly: true, damagedHint: damagedHint),
                (try? connection.query("SELECT value FROM meta WHERE key = 'build'").first?.first?.text) == token,
                let statement = try? prepareLookup(connection)
            else { break }
            lanes.append(Lane(statement))
        }
        return lanes
    }

    /// One extra connection's lookup statement, used by one thread at a time.
    private final class Lane: @unchecked Sendable {
        let statement: SQLiteStatement
        let lock = NSLock()
        init(_ statement: SQLiteStatement) { self.statement = statement }
    }

    init(connection: SQLiteConnection) throws(AdvisoryError) {
        self.connection = connection
        path = connection.path
        let format: String?
        do {
            format = try connection.query("SELECT value FROM meta WHERE key = 'format'").first?.first?.text
        } catch where error.message.contains("no such table") {
            format = nil
        } catch {
            throw AdvisoryError(error)
        }
        guard format == Self.format else {
            throw AdvisoryError(
                file: path, message: "not a harden advisory database",
                hint: "give --advisories a database from `harden advisories import`, an OSV zip, or a folder of OSV JSON")
        }
        let version: Int
        do {
            version = Int(try connection.query("PRAGMA user_version").first?.first?.integer ?? 0)
        } catch {
            throw AdvisoryError(error)
        }
        guard version <= Self.schemaVersion else {
            throw AdvisoryError(
                file: path, message: "made by a newer harden (schema \(version); this harden reads up to \(Self.schemaVersion))",
                hint: "use that harden, or sync again with this one into another file (--db)")
        }
    }

    private static func prepareLookup(_ connection: SQLiteConnection) throws(StoreError) -> SQLiteStatement {
        // Pages are read into SQLite's small cache, not mapped: a scan touches most of a large
        // database once, and mapped pages counted 35 MiB of its resident memory (80 instead of 46
        // MiB at 150,000 records) for no measurable gain in matching time (14 ms either way).
        try connection.execute("PRAGMA mmap_size = 0")
        return try connection.prepare("SELECT record, entry, ecosystem, ranges, versions FROM affected WHERE family = ? AND name = ?")
    }

    /// Every advisory entry naming `name` in `family` (`Debian`, `Alpine`, `PyPI`).
    public func candidates(family: String, name: String) throws(AdvisoryError) -> [AdvisoryCandidate] {
        lock.lock()
        defer { lock.unlock() }
        guard let lookup else { throw AdvisoryError(file: path, message: "cannot be queried (damaged?)") }
        return try Self.read(lookup, family: family, name: name, path: path)
    }

    /// Reads the entries of each key and hands them to `evaluate` on the thread that read them,
    /// so only what `evaluate` returns is kept (a scan's packages can have 150,000 entries).
    /// Keys are spread over several connections at once when the database is a file; the
    /// results come back in key order.
    public func evaluateCandidates<Result: Sendable>(
        _ keys: [(family: String, name: String)], _ evaluate: @Sendable (Int, [AdvisoryCandidate]) -> Result
    ) throws(AdvisoryError) -> [Result] {
        guard !lanes.isEmpty, keys.count >= 32 else {
            var results: [Result] = []
            for (index, key) in keys.enumerated() {
                results.append(evaluate(index, try candidates(family: key.family, name: key.name)))
            }
            return results
        }
        let statements = lanes
        let count = statements.count + 1
        let path = self.path
        let laneResults = concurrentMap(count) { lane -> Swift.Result<[Result], AdvisoryError> in
            Swift.Result { () throws(AdvisoryError) in
                var results: [Result] = []
                let own = lane == 0 ? nil : statements[lane - 1]
                own?.lock.lock()
                defer { own?.lock.unlock() }
                for index in stride(from: lane, to: keys.count, by: count) {
                    let key = keys[index]
                    let entries =
                        if let own {
                            try Self.read(own.statement, family: key.family, name: key.name, path: path)
                        } else {
                            try candidates(family: key.family, name: key.name)
                        }
                    results.append(evaluate(index, entries))
                }
                return results
            }
        }
        var ordered = [Result?](repeating: nil, count: keys.count)
        for (lane, outcome) in laneResults.enumerated() {
            for (offset, result) in try outcome.get().enumerated() { ordered[lane + offset * count] = result }
        }
        return ordered.compactMap { $0 }
    }

    private static func read(
        _ statement: SQLiteStatement, family: String, name: String, path: String
    ) throws(AdvisoryError) -> [AdvisoryCandidate] {
        var found: [AdvisoryCandidate] = []
        do {
            try statement.each([.text(family), .text(name)]) { row throws(StoreError) in
                found.append(
                    AdvisoryCandidate(
                        record: row.integer(0), entry: row.integer(1), family: family, name: name,
                        ecosystem: row.text(2) ?? "", ranges: row.text(3) ?? "", versions: row.text(4) ?? ""))
            }
        } catch {
            throw AdvisoryError(error)
        }
        return found
    }

    /// ID, aliases, summary and severity (with its source) of an entry `candidates` returned.
    public func details(of candidate: AdvisoryCandidate) throws(AdvisoryError) -> AdvisoryDetails {
        lock.lock()
        defer { lock.unlock() }
        guard let detailsLookup else { throw AdvisoryError(file: path, message: "cannot be queried (damaged?)") }
        do throws(StoreError) {
            guard
                let row = try detailsLookup.rows([
                    .text(candidate.family), .text(candidate.name), .integer(candidate.record), .integer(candidate.entry),
                ]).first
            else { throw StoreError(path: path, message: "lost record \(candidate.record) while reading it") }
            let severity: SeverityVerdict
            if let word = row[3].text, let stored = Severity(rawValue: word) {
                severity = SeverityVerdict(stored, source: row[4].text ?? "")
            } else if let score = row[5].real, let of = row[6].text {
                severity = RecordSeverity.fromAlias(score: score, of: of)
            } else {
                severity = SeverityVerdict(.unknown, source: "none: no CVSS v3 or severity in this record or its aliases")
            }
            return AdvisoryDetails(
                id: row[0].text ?? "", aliases: (row[1].text ?? "").split(separator: " ").map(String.init),
                summary: row[2].text, severity: severity)
        } catch {
            throw AdvisoryError(error)
        }
    }

    /// Records per ecosystem (`Debian:12` → 3,120), each record counted once per ecosystem.
    public func recordsByEcosystem() throws(AdvisoryError) -> [String: Int] {
        try counted("SELECT ecosystem, records FROM ecosystem_counts")
    }

    /// Records of ecosystems harden does not match, counted at import.
    public func otherEcosystems() throws(AdvisoryError) -> [String: Int] {
        try counted("SELECT ecosystem, SUM(records) FROM other_ecosystems GROUP BY ecosystem")
    }

    public var recordCount: Int {
        lock.withLock {
            Int((try? connection.query("SELECT value FROM meta WHERE key = 'records'").first?.first?.text).flatMap { Int($0) } ?? 0)
        }
    }

    public func sources() throws(AdvisoryError) -> [AdvisorySourceStatus] {
        lock.lock()
        defer { lock.unlock() }
        return try Self.sources(of: connection)
    }

    static func sources(of connection: SQLiteConnection) throws(AdvisoryError) -> [AdvisorySourceStatus] {
        do {
            return try connection.query(
                "SELECT name, location, synced_at, records, skipped, newest_modified, etag, last_modified FROM sources ORDER BY name"
            ).map { row in
                AdvisorySourceStatus(
                    name: row[0].text ?? "", location: row[1].text ?? "",
                    syncedAt: Date(timeIntervalSince1970: row[2].real ?? 0), records: Int(row[3].integer ?? 0),
                    skipped: Int(row[4].integer ?? 0), newestModified: row[5].text, etag: row[6].text, lastModified: row[7].text)
            }
        } catch {
            throw AdvisoryError(error)
        }
    }

    /// SQLite's full integrity check: "ok" or the damage found.
    public func integrityCheck() -> String {
        lock.withLock {
            (try? connection.query("PRAGMA integrity_check").map { $0.first?.text ?? "" }.joined(separator: "; ")) ?? "no answer"
        }
    }

    private func counted(_ sql: String) throws(AdvisoryError) -> [String: Int] {
        lock.lock()
        defer { lock.unlock() }
        do {
            var counts: [String: Int] = [:]
            for row in try connection.query(sql) { counts[row[0].text ?? ""] = Int(row[1].integer ?? 0) }
            return counts
        } catch {
            throw AdvisoryError(error)
        }
    }
}

extension AdvisoryDatabase {
    /// What `--advisories` names: a database file as it is; an OSV zip, a folder of OSV JSON
    /// or one JSON file imported into memory first (slower for large sets: import them once).
    public static func open(_ location: String) throws(AdvisoryError) -> AdvisoryDatabase {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: location, isDirectory: &isDirectory) else {
            throw AdvisoryError(
                file: location, message: "no such file or directory",
                hint: "give --advisories an advisory database, an OSV zip or a folder of OSV JSON files")
        }
        if !isDirectory.boolValue, try AdvisoryImporter.kind(of: location) == .database {
            return try AdvisoryDatabase(path: location)
        }
        let writer = try AdvisoryDatabaseWriter.inMemory()
        let summary = try AdvisoryImporter.load(location, as: location, into: writer)
        try writer.setSource(name: location, location: location, syncedAt: Date(), skipped: summary.skippedCount)
        for skipped in summary.skipped {
            FileHandle.standardError.write(Data("harden: skipped \(skipped.entry): \(skipped.problem)\n".utf8))
        }
        if summary.skippedCount > summary.skipped.count {
            FileHandle.standardError.write(Data("harden: … and \(summary.skippedCount - summary.skipped.count) more skipped\n".utf8))
        }
        return try writer.commit()
    }
}
