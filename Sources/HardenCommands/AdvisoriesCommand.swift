import ArgumentParser
import Foundation
import HardenAdvisories
import HardenBuild
import HardenHistory
import HardenScan

/// `harden advisories sync|import|status`: the advisory database the built-in scanner reads.
struct AdvisoriesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "advisories",
        abstract: "Keep the OSV advisory database the builtin scanner matches against.",
        discussion: """
            The database is one file, <state>/advisories.db unless --db names another. Every change \
            builds a new file beside it and replaces the old one only when the new one is complete \
            and checked, so scans keep working meanwhile and a failed sync changes nothing.
            """,
        subcommands: [AdvisoriesSync.self, AdvisoriesImport.self, AdvisoriesStatus.self]
    )
}

struct DatabaseOptions: ParsableArguments {
    @Option(name: .long, help: "The advisory database file (default: <state>/advisories.db).")
    var db: String?

    @Option(name: .long, help: "harden's state directory.")
    var state: String = ".harden"

    @Option(name: .long, help: HistoryLocation.help)
    var history: String?

    var path: String { db ?? StateDirectory(root: URL(fileURLWithPath: state)).advisories.path }
}

struct AdvisoriesSync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Fetch OSV's advisory archives and import them.",
        discussion: """
            Fetches <base>/<ecosystem>/all.zip for each ecosystem, with conditional requests; once an \
            ecosystem has been fetched, later syncs fetch only the records its modified_id.csv lists \
            as changed. Without --ecosystem: the ecosystems already in the database, those the images \
            of the last builds need (from their scan reports), and PyPI. \
            Exit status: 0 synced; 2 a fetch or import failed (the database is unchanged).
            """)

    @Option(name: .long, help: "The base URL of the OSV export (an internal mirror, for example).")
    var from: String = AdvisorySync.defaultBase

    @Option(name: .customLong("ecosystem"), help: "An OSV ecosystem to fetch: Debian:12, Alpine:v3.22, PyPI (repeatable).")
    var ecosystems: [String] = []

    @Option(name: .long, help: "Seconds without any data before a request fails.")
    var stallTimeout: Double = 60

    @Option(name: .long, help: "Output format: text or json.")
    var format: OutputFormat = .text

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        guard let base = URL(string: from), base.scheme == "http" || base.scheme == "https" else {
            Output.error("--from \(from): not an http(s) URL")
            throw ExitCode(Exit.badInput)
        }
        let wanted = ecosystems.isEmpty ? await defaultEcosystems() : ecosystems
        var sync = AdvisorySync(base: base, database: database.path)
        sync.stallSeconds = stallTimeout
        sync.progress = { Output.note("advisories: " + $0) }
        let outcomes: [SyncOutcome]
        do {
            outcomes = try await sync.run(ecosystems: wanted)
        } catch {
            Output.error(error.description)
            throw ExitCode(Exit.badInput)
        }
        switch format {
        case .json:
            print(Output.json(outcomes))
        default:
            for outcome in outcomes {
                let what =
                    switch outcome.action {
                    case .unchanged: "unchanged"
                    case .downloaded: "downloaded \(outcome.bytes) bytes"
                    case .updated: "\(outcome.changed) records updated"
                    }
                let skipped = outcome.skipped > 0 ? ", \(outcome.skipped) skipped" : ""
                print("\(outcome.ecosystem): \(what); \(outcome.records) records\(skipped)")
                for record in outcome.skippedRecords { print("  skipped \(record.entry): \(record.problem)") }
            }
            print("database: \(database.path)")
        }
    }

    /// What the database already has, what the last builds' images need, and PyPI.
    private func defaultEcosystems() async -> [String] {
        var wanted: Set<String> = ["PyPI"]
        if FileManager.default.fileExists(atPath: database.path), let known = try? AdvisoryDatabase(path: database.path).sources()
        {
            for source in known where source.name.hasPrefix("osv:") { wanted.insert(String(source.name.dropFirst(4))) }
        }
        let state = StateDirectory(root: URL(fileURLWithPath: database.state))
        if let store = try? await HistoryLocation.open(database.history, state: state, onlyIfPresent: true),
            let builds = try? await store.latestSucceeded()
        {
            for record in builds.values {
                guard let path = record.scanReport, let report = try? ScanReport.read(path: path) else { continue }
                wanted.formUnion(report.ecosystems)
            }
        }
        if wanted == ["PyPI"] {
            Output.note(
                "advisories: no build has told harden its images' OS releases yet; fetching PyPI only "
                    + "(add --ecosystem Debian:12 or --ecosystem Alpine:v3.22 for OS packages)")
        }
        return wanted.sorted()
    }
}

struct AdvisoriesImport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import OSV advisories from local zips, folders or JSON files.",
        discussion: """
            For sites without network access: copy OSV's all.zip files in and import them. A path \
            imported again replaces what it brought the last time; other sources stay. Records that \
            fail the OSV schema are skipped and counted. \
            Exit status: 0 imported; 2 a path could not be read (the database is unchanged).
            """)

    @Argument(help: "OSV zips, folders of OSV .json files, or .json files.")
    var paths: [String]

    @Flag(name: .long, help: "Start from an empty database instead of keeping the other sources.")
    var replace = false

    @Option(name: .long, help: "Output format: text or json.")
    var format: OutputFormat = .text

    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        guard !paths.isEmpty else { throw ValidationError("import needs at least one path") }
    }

    func run() async throws {
        var summaries: [ImportSummary] = []
        let started = ContinuousClock.now
        do throws(AdvisoryError) {
            let writer = try AdvisoryDatabaseWriter(target: database.path, keepCurrent: !replace)
            do {
                for path in paths {
                    let name = "file:" + URL(fileURLWithPath: path).standardizedFileURL.path
                    Output.note("advisories: importing \(path)")
                    try writer.removeSource(name)
                    let summary = try AdvisoryImporter.load(path, as: name, into: writer)
                    try writer.setSource(name: name, location: path, syncedAt: Date(), skipped: summary.skippedCount)
                    summaries.append(summary)
                }
                _ = try writer.commit()
            } catch {
                writer.abandon()
                throw error
            }
        } catch {
            Output.error(error.description)
            throw ExitCode(Exit.badInput)
        }
        let seconds = (ContinuousClock.now - started).inSeconds
        switch format {
        case .json:
            print(Output.json(summaries))
        default:
            for summary in summaries {
                var parts = ["\(summary.records) records"]
                if summary.withdrawn > 0 { parts.append("\(summary.withdrawn) withdrawn") }
                if summary.otherEcosystems > 0 { parts.append("\(summary.otherEcosystems) of other ecosystems") }
                if summary.older > 0 { parts.append("\(summary.older) older copies") }
                if summary.skippedCount > 0 { parts.append("\(summary.skippedCount) skipped") }
                print("\(summary.source.dropFirst(5)): " + parts.joined(separator: ", "))
                for record in summary.skipped { print("  skipped \(record.entry): \(record.problem)") }
            }
            print(String(format: "database: %@ (%.1f s)", database.path, seconds))
        }
    }
}

struct AdvisoriesStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the advisory database: sources, records per ecosystem, and their age.",
        discussion: "Exit status: 0 shown; 2 no database or a damaged one.")

    @Option(name: .long, help: "Output format: text or json.")
    var format: OutputFormat = .text

    @OptionGroup var database: DatabaseOptions

    struct Status: Encodable {
        var database: String
        var records: Int
        var ecosystems: [String: Int]
        var otherEcosystems: [String: Int]
        var sources: [Source]
    }

    struct Source: Encodable {
        var name: String
        var location: String
        var syncedAt: Date
        var ageDays: Double
        var records: Int
        var skipped: Int
        var newestModified: String?
    }

    func run() async throws {
        let status: Status
        do {
            let db = try AdvisoryDatabase(path: database.path)
            let now = Date()
            status = Status(
                database: database.path, records: db.recordCount, ecosystems: try db.recordsByEcosystem(),
                otherEcosystems: try db.otherEcosystems(),
                sources: try db.sources().map {
                    Source(
                        name: $0.name, location: $0.location, syncedAt: $0.syncedAt,
                        ageDays: (now.timeIntervalSince($0.syncedAt) / 86_400 * 10).rounded() / 10, records: $0.records,
                        skipped: $0.skipped, newestModified: $0.newestModified)
                })
        } catch {
            Output.error(error.description)
            throw ExitCode(Exit.badInput)
        }
        switch format {
        case .json:
            print(Output.json(status))
        default:
            print("database: \(status.database) (\(status.records) records)")
            print("sources:")
            for source in status.sources {
                let skipped = source.skipped > 0 ? ", \(source.skipped) skipped" : ""
                print(
                    "  \(source.name)  \(source.records) records\(skipped), synced \(Advisories.age(source.ageDays)) ago"
                        + (source.newestModified.map { ", newest record \($0)" } ?? ""))
            }
            print("records by ecosystem:")
            for (ecosystem, count) in status.ecosystems.sorted(by: { $0.key < $1.key }) {
                print("  \(ecosystem)  \(count)")
            }
            if !status.otherEcosystems.isEmpty {
                let others = status.otherEcosystems.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
                print("not matched by harden (kept for their CVSS): " + others.joined(separator: ", "))
            }
        }
    }
}

/// The advisories a scanning command uses: `--advisories` (a database, an OSV zip, a folder or
/// a JSON file), else $HARDEN_ADVISORIES, else the state directory's database when it exists.
enum Advisories {
    static let optionHelp: ArgumentHelp =
        "OSV advisories for the builtin scanner: an advisory database, an OSV zip or a folder of OSV JSON files (default: $HARDEN_ADVISORIES, else <state>/advisories.db)."

    /// Data older than this many days gets a warning ($HARDEN_ADVISORIES_MAX_AGE; `off` for none).
    static var maxAgeDays: Double? {
        let raw = ProcessInfo.processInfo.environment["HARDEN_ADVISORIES_MAX_AGE"] ?? "7"
        return raw == "off" ? nil : Double(raw) ?? 7
    }

    static func load(_ option: String?, state: String) throws -> AdvisoryMatcher? {
        let environment = ProcessInfo.processInfo.environment["HARDEN_ADVISORIES"].flatMap { $0.isEmpty ? nil : $0 }
        let stateDatabase = StateDirectory(root: URL(fileURLWithPath: state)).advisories.path
        guard
            let location = option ?? environment
                ?? (FileManager.default.fileExists(atPath: stateDatabase) ? stateDatabase : nil)
        else { return nil }
        do {
            let database = try AdvisoryDatabase.open(location)
            warnIfOld(database)
            return try AdvisoryMatcher(database: database)
        } catch {
            Output.error(error.description)
            throw ExitCode(Exit.badInput)
        }
    }

    /// One line on stderr when the oldest source was synced longer ago than the limit.
    private static func warnIfOld(_ database: AdvisoryDatabase) {
        guard let limit = maxAgeDays, let sources = try? database.sources(),
            let oldest = sources.min(by: { $0.syncedAt < $1.syncedAt })
        else { return }
        let days = Date().timeIntervalSince(oldest.syncedAt) / 86_400
        guard days > limit else { return }
        Output.error(
            "warning: the advisories in \(database.path) are \(age(days)) old (\(oldest.name)); "
                + "run `harden advisories sync` to refresh them (HARDEN_ADVISORIES_MAX_AGE=\(Int(limit)) days)")
    }

    static func age(_ days: Double) -> String {
        if days >= 1 { return String(format: "%.1f days", days) }
        let hours = days * 24
        if hours >= 1 { return String(format: "%.1f hours", hours) }
        return "\(Int((hours * 60).rounded())) minutes"
    }
}
