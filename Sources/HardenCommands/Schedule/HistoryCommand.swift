import ArgumentParser
import Foundation
import HardenBuild
import HardenHistory

struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Every build: when, why, what it produced, what verification and scanning found.",
        discussion: """
            For one recipe it also shows the trend: vulnerabilities before and after each rebuild, and \
            whether a rebuild removed the fixable ones. Exit status: 0; 2 bad input or an unreadable history.
            """)

    @Argument(help: "Only this recipe (and show its trend).")
    var recipe: String?

    @Option(name: .long, help: "Only builds started on or after this day (YYYY-MM-DD, UTC) or instant (ISO 8601).")
    var since: String?

    @Option(name: .long, help: "At most this many builds, newest first.")
    var limit: Int = 100

    @Option(name: .long, help: "text or json")
    var format: OutputFormat = .text

    @Option(name: .long, help: "harden's state directory.")
    var state: String = ".harden"

    @Option(name: .long, help: HistoryLocation.help)
    var history: String?

    func run() async throws {
        let sinceDate = try since.map(Self.parseDate)
        let records: [BuildRecord]
        do {
            let store = try await HistoryLocation.open(history, state: StateDirectory(root: URL(fileURLWithPath: state)))
            let builds = try await store?.builds(recipe: recipe, since: sinceDate, limit: limit) ?? []
            records = builds.filter { $0.status != .skipped }
        } catch {
            Output.error("cannot read the build history: \(error.description)")
            throw ExitCode(Exit.badInput)
        }
        let entries = records.map(HistoryEntry.init)
        let trend = recipe == nil ? nil : Trend.of(records)
        switch format {
        case .json:
            print(Output.json(HistoryReport(builds: entries, trend: trend)))
        case .text:
            if entries.isEmpty {
                print(recipe.map { "no builds of \($0)" } ?? "no builds")
                return
            }
            printTable(entries)
            if let trend, !trend.isEmpty {
                print("")
                print("trend of \(recipe ?? ""):")
                for step in trend { print("  " + step.line) }
            }
        }
    }

    static func parseDate(_ text: String) throws -> Date {
        if let date = ISO8601DateFormatter().date(from: text) { return date }
        let day = ISO8601DateFormatter()
        day.formatOptions = [.withFullDate]
        if let date = day.date(from: text) { return date }
        throw ValidationError("--since '\(text)' is not a date: give YYYY-MM-DD or an ISO 8601 instant (2026-11-23T09:00:00Z)")
    }

    private func printTable(_ entries: [HistoryEntry]) {
        let header = ["build", "recipe", "started (UTC)", "status", "trigger", "image", "verify", "C/H/M/L/U", "fixable", "time"]
        let rows = entries.map { entry -> [String] in
            let counts = entry.vulnerabilities.map { "\($0.critical)/\($0.high)/\($0.medium)/\($0.low)/\($0.unknown)" } ?? "-"
            return [
                "#\(entry.id)", entry.recipe, String(entry.started.prefix(16)).replacingOccurrences(of: "T", with: " "),
                entry.status, entry.trigger, entry.image.map { String($0.dropFirst(7).prefix(12)) } ?? "-",
                entry.verification ?? "-", counts, entry.vulnerabilities.map { String($0.fixable.count) } ?? "-",
                entry.seconds.map { String(format: "%.1fs", $0) } ?? "-",
            ]
        }
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        for row in [header] + rows {
            print(row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  "))
        }
        for entry in entries where entry.status != "succeeded" {
            if let error = entry.error { print("#\(entry.id): \(error.split(separator: "\n").first ?? "")") }
        }
    }
}

struct HistoryReport: Codable {
    var builds: [HistoryEntry]
    var trend: [Trend]?
}

/// One build as `harden history` shows it.
struct HistoryEntry: Codable {
    var id: Int64
    var recipe: String
    var started: String
    var status: String
    var trigger: String
    var reasons: [String]
    var inputDigest: String
    var image: String?
    /// Base → its image ID, and → its registry digest for bases pulled from a registry.
    var baseImages: [String: String]
    var baseDigests: [String: String]
    var verification: String?
    var verifyReport: String?
    var vulnerabilities: VulnerabilityCounts?
    var scanReport: String?
    var imageArchive: String?
    var seconds: Double?
    var error: String?

    init(_ record: BuildRecord) {
        id = record.id ?? 0
        recipe = record.recipe
        started = ISO8601DateFormatter().string(from: record.startedAt)
        status = record.status.rawValue
        trigger = record.trigger
        reasons = record.reasons
        inputDigest = record.inputDigest
        image = record.runtimeImage
        baseImages = record.baseImages
        baseDigests = record.baseDigests
        verification = record.verification?.rawValue
        verifyReport = record.verifyReport
        vulnerabilities = record.vulnerabilities
        scanReport = record.scanReport
        imageArchive = record.imageArchive
        seconds = record.finishedAt.map { $0.timeIntervalSince(record.startedAt) }
        error = record.error
    }
}

/// What one succeeded build changed against the succeeded build before it.
struct Trend: Codable {
    var build: Int64
    var previous: Int64
    var trigger: String
    var totalBefore: Int
    var totalAfter: Int
    var fixableBefore: Int
    var fixableRemoved: Int
    var fixableRemaining: Int

    var line: String {
        let change = totalAfter - totalBefore
        let sign = change > 0 ? "+\(change)" : "\(change)"
        var text = "#\(previous) → #\(build) (\(trigger)): vulnerabilities \(totalBefore) → \(totalAfter) (\(sign))"
        if fixableBefore > 0 {
            text +=
                fixableRemaining == 0
                ? ", removed all \(fixableBefore) fixable"
                : ", removed \(fixableRemoved) of \(fixableBefore) fixable, \(fixableRemaining) remain"
        }
        return text
    }

    /// Pairs of consecutive succeeded builds that both have scan results, oldest first.
    static func of(_ records: [BuildRecord]) -> [Trend] {
        let scanned = records.filter { $0.status == .succeeded && $0.vulnerabilities != nil }.reversed()
        return zip(scanned, scanned.dropFirst()).compactMap { before, after in
            guard let old = before.vulnerabilities, let new = after.vulnerabilities else { return nil }
            let remaining = Set(old.fixable).intersection(new.fixable).count
            return Trend(
                build: after.id ?? 0, previous: before.id ?? 0, trigger: after.trigger, totalBefore: old.total,
                totalAfter: new.total, fixableBefore: old.fixable.count, fixableRemoved: old.fixable.count - remaining,
                fixableRemaining: remaining)
        }
    }
}
