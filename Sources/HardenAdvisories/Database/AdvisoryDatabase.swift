import Foundation
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

/// One package entry of one advisory, as matching reads it from the database.
public struct AdvisoryCandidate: Sendable {
    /// The database's key for the record, to fetch its details for a match.
    public var record: Int64
    public var id: String
    /// `Debian:12`, `Debian`, `Alpine:v3.22`, `PyPI`.
    public var ecosystem: String
    /// Ranges and listed versions only.
    public var affected: OSVAffected
    public var severity: SeverityVerdict
}

/// What a report shows of a matched record.
public struct AdvisoryDetails: Sendable {
    public var aliases: [String]
    public var summary: String?
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
    static let damagedHint = "import or sync again: `harden advisories sync` builds a new database beside it"

    let connection: SQLiteConnection
    public let path: String
    private let lock = NSLock()
    private lazy var lookup = try? connection.prepare(
        """
        SELECT a.record, r.id, a.ecosystem, a.ranges, a.versions, a.severity, a.severity_source, r.alias_score, r.alias_of
        FROM affected a JOIN records r ON r.rowid = a.record WHERE a.family = ? AND a.name = ?
        """)
    private lazy var details = try? connection.prepare("SELECT aliases, summary FROM records WHERE rowid = ?")

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
    }

    init(connection: SQLiteConnection) throws(AdvisoryError) {
        self.connection = connection
        path = connection.path
        do {
            let format = try connection.query("SELECT value FROM meta WHERE key = 'format'").first?.first?.text
            guard format == Self.format else { throw StoreError(path: path, message: "") }
        } catch {
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

    /// Every advisory entry naming `name` in `family` (`Debian`, `Alpine`, `PyPI`).
    public func candidates(family: String, name: String) throws(AdvisoryError) -> [AdvisoryCandidate] {
        lock.lock()
        defer { lock.unlock() }
        guard let lookup else { throw AdvisoryError(file: path, message: "cannot be queried (damaged?)") }
        var found: [AdvisoryCandidate] = []
        do {
            try lookup.each([.text(family), .text(name)]) { row throws(StoreError) in
                let severity: SeverityVerdict
                if let word = row.text(5), let stored = Severity(rawValue: word) {
                    severity = SeverityVerdict(stored, source: row.text(6) ?? "")
                } else if let score = row.real(7), let from = row.text(8) {
                    severity = RecordSeverity.fromAlias(score: score, of: from)
                } else {
                    severity = SeverityVerdict(.unknown, source: "none: no CVSS v3 or severity in this record or its aliases")
                }
                found.append(
                    AdvisoryCandidate(
                        record: row.integer(0), id: row.text(1) ?? "", ecosystem: row.text(2) ?? "",
                        affected: AffectedRanges.decode(ranges: row.text(3) ?? "", versions: row.text(4) ?? ""),
                        severity: severity))
            }
        } catch {
            throw AdvisoryError(error)
        }
        return found
    }

    /// Aliases and summary of a record `candidates` returned.
    public func details(of record: Int64) throws(AdvisoryError) -> AdvisoryDetails {
        lock.lock()
        defer { lock.unlock() }
        guard let details else { throw AdvisoryError(file: path, message: "cannot be queried (damaged?)") }
        do {
            guard let row = try details.rows([.integer(record)]).first else { return AdvisoryDetails(aliases: []) }
            return AdvisoryDetails(
                aliases: (row[0].text ?? "").split(separator: " ").map(String.init), summary: row[1].text)
        } catch {
            throw AdvisoryError(error)
        }
    }

    /// Records per ecosystem (`Debian:12` → 3,120), each record counted once per ecosystem.
    public func recordsByEcosystem() throws(AdvisoryError) -> [String: Int] {
        try counted("SELECT ecosystem, COUNT(DISTINCT record) FROM affected GROUP BY ecosystem")
    }

    /// Records of ecosystems harden does not match, counted at import.
    public func otherEcosystems() throws(AdvisoryError) -> [String: Int] {
        try counted("SELECT ecosystem, SUM(records) FROM other_ecosystems GROUP BY ecosystem")
    }

    public var recordCount: Int {
        lock.withLock { Int((try? connection.query("SELECT COUNT(*) FROM records").first?.first?.integer) ?? 0) }
    }

    public func sources() throws(AdvisoryError) -> [AdvisorySourceStatus] {
        lock.lock()
        defer { lock.unlock() }
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
