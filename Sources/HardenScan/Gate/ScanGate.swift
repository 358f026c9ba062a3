import Foundation
import HardenAdvisories

/// Findings of several scanners as one list: the same vulnerability in the same package
/// version counts once, with every scanner that saw it.
public enum FindingMerger {
    public static func merge(_ lists: [[Vulnerability]]) -> [Vulnerability] {
        var merged: [String: Vulnerability] = [:]
        var order: [String] = []
        for finding in lists.joined() {
            let key = [finding.primaryID, finding.ecosystem, Package.normalizePython(finding.package), finding.version].joined(
                separator: "\u{0}")
            guard var existing = merged[key] else {
                merged[key] = finding
                order.append(key)
                continue
            }
            existing.scanners = Array(Set(existing.scanners + finding.scanners)).sorted()
            existing.aliases = Array(Set(existing.aliases + finding.aliases + [finding.id]).subtracting([existing.id])).sorted()
            existing.severity = max(existing.severity, finding.severity)
            existing.fixedVersion = existing.fixedVersion ?? finding.fixedVersion
            existing.summary = existing.summary ?? finding.summary
            existing.layer = existing.layer ?? finding.layer
            existing.purl = existing.purl ?? finding.purl
            merged[key] = existing
        }
        return order.compactMap { merged[$0] }.sorted { a, b in
            a.severity != b.severity ? a.severity > b.severity : (a.primaryID, a.package) < (b.primaryID, b.package)
        }
    }
}

/// How the gate judged one finding.
public struct JudgedFinding: Sendable, Codable, Equatable {
    public enum Verdict: String, Sendable, Codable {
        /// At a `fail-on` severity and not ignored: fails the gate.
        case fails
        /// Below the `fail-on` severities: reported only.
        case reported
        /// No fix exists and `ignore-unfixed` is on.
        case unfixed
        /// Accepted by an ignore (see `ignoredBy`).
        case ignored
    }
    public var vulnerability: Vulnerability
    public var verdict: Verdict
    /// Where the ignore that accepted it was written (`scan.ignores[0]`, `.trivyignore:3`).
    public var ignoredBy: String?
    /// Why that ignore accepts it, when it says.
    public var reason: String?
    /// The OpenVEX justification the ignore names.
    public var justification: OpenVEX.Justification?
    /// When a VEX statement accepted it (not an ignore): its status, `not_affected` or `fixed`.
    public var vexStatus: OpenVEX.Status?

    public init(
        vulnerability: Vulnerability, verdict: Verdict, ignoredBy: String? = nil, reason: String? = nil,
        justification: OpenVEX.Justification? = nil, vexStatus: OpenVEX.Status? = nil
    ) {
        self.vulnerability = vulnerability
        self.verdict = verdict
        self.ignoredBy = ignoredBy
        self.reason = reason
        self.justification = justification
        self.vexStatus = vexStatus
    }
}

/// One scan's result under the policy gate.
public struct ScanReport: Sendable, Codable {
    /// A report as `harden scan --format json` and the build kept it.
    public static func read(path: String) throws -> ScanReport {
        try JSONDecoder().decode(ScanReport.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    public var image: String
    public var scanners: [String]
    public var findings: [JudgedFinding]
    /// Ignores past their date: they no longer apply.
    public var expiredIgnores: [VulnerabilityIgnore]
    /// Ignores that matched no finding: candidates for removal.
    public var staleIgnores: [VulnerabilityIgnore]
    public var failOn: [Severity]
    /// Packages no scanner could check (the built-in matcher says which and why).
    public var unmatched: [UnmatchedPackages] = []
    /// Whether unmatched packages fail the gate.
    public var failOnUnmatched = false
    /// The OSV ecosystems of the image's packages (`Debian:12`, `PyPI`): what a sync must fetch.
    public var ecosystems: [String] = []
    /// The OS release matching used when the image's os-release does not give one, and why.
    public var inferredRelease: String?
    /// The image scanned, by name and digests (what VEX statements are matched against).
    public var subject: ImageIdentity?
    /// VEX statements that applied to no finding: about another image or vulnerabilities this
    /// one does not have. (A `fixed` statement about this image agrees with the scan: not stale.)
    /// Nil when no VEX document was given.
    public var staleStatements: [VEXStatement]?
    /// VEX statements older than the gate's `vexNotBefore`: they no longer apply.
    public var expiredStatements: [VEXStatement]?
    public var passed: Bool

    public var unmatchedCount: Int { unmatched.reduce(0) { $0 + $1.count } }

    /// Findings by severity (every verdict), critical first.
    public var counts: [Severity: Int] {
        Dictionary(grouping: findings, by: \.vulnerability.severity).mapValues(\.count)
    }
}

/// The one policy gate every scanner's findings go through.
public struct ScanGate: Sendable {
    public var failOn: Set<Severity>
    public var ignoreUnfixed: Bool
    public var ignores: [VulnerabilityIgnore]
    /// YYYY-MM-DD (UTC): ignores whose last day is before it have expired.
    public var today: String
    /// Packages that could not be checked fail the gate.
    public var failOnUnmatched: Bool
    /// OpenVEX statements (`OpenVEX.load`): `not_affected` and `fixed` ones accept the findings
    /// they speak of, like ignores; of several about one finding the newest decides.
    public var vex: [VEXStatement]
    /// Statements known true only before this date have expired (`--vex-max-age`).
    public var vexNotBefore: Date?

    public init(
        failOn: Set<Severity>, ignoreUnfixed: Bool = false, ignores: [VulnerabilityIgnore] = [],
        today: String = IgnoreFiles.today(), failOnUnmatched: Bool = false, vex: [VEXStatement] = [],
        vexNotBefore: Date? = nil
    ) {
        self.failOn = failOn
        self.ignoreUnfixed = ignoreUnfixed
        self.failOnUnmatched = failOnUnmatched
        self.ignores = ignores
        self.today = today
        self.vex = vex
        self.vexNotBefore = vexNotBefore
    }

    /// Judges `findings` of the image `subject` (needed for VEX statements about the image).
    /// An ignore comes first; then the newest VEX statement that applies, which accepts the
    /// finding when it says `not_affected` or `fixed` (and not when `affected` or `under_investigation`).
    public func judge(
        _ findings: [Vulnerability], image: String, scanners: [String], unmatched: [UnmatchedPackages] = [],
        subject: ImageIdentity? = nil
    ) -> ScanReport {
        let active = ignores.filter { !$0.isExpired(today: today) }
        let expiredVEX = vex.filter { statement in vexNotBefore.map { statement.date < $0 } ?? false }
        let activeVEX = vex.filter { !expiredVEX.contains($0) }
        var used = Set<Int>()
        var usedVEX = Set<Int>()
        var judged: [JudgedFinding] = []
        for finding in findings {
            let applying = activeVEX.indices.filter { activeVEX[$0].applies(to: finding, in: subject) }
            usedVEX.formUnion(applying)
            let newest = applying.map { activeVEX[$0] }.max { ($0.date, $0.position) < ($1.date, $1.position) }
            if let index = active.firstIndex(where: { $0.matches(finding) }) {
                used.insert(index)
                let ignore = active[index]
                judged.append(
                    JudgedFinding(
                        vulnerability: finding, verdict: .ignored, ignoredBy: ignore.source, reason: ignore.reason,
                        justification: ignore.justification))
            } else if let newest, newest.status == .notAffected || newest.status == .fixed {
                judged.append(
                    JudgedFinding(
                        vulnerability: finding, verdict: .ignored, ignoredBy: newest.source, reason: newest.reason,
                        justification: newest.justification, vexStatus: newest.status))
            } else if ignoreUnfixed, finding.fixedVersion == nil {
                judged.append(JudgedFinding(vulnerability: finding, verdict: .unfixed))
            } else {
                judged.append(
                    JudgedFinding(vulnerability: finding, verdict: failOn.contains(finding.severity) ? .fails : .reported))
            }
        }
        let stale = active.enumerated().filter { !used.contains($0.offset) }.map(\.element)
        let staleVEX = activeVEX.enumerated().filter { position, statement in
            !usedVEX.contains(position) && !(statement.status == .fixed && statement.isAbout(subject))
        }.map(\.element)
        return ScanReport(
            image: image, scanners: scanners, findings: judged, expiredIgnores: ignores.filter { $0.isExpired(today: today) },
            staleIgnores: stale, failOn: Severity.allCases.filter(failOn.contains), unmatched: unmatched,
            failOnUnmatched: failOnUnmatched, subject: subject, staleStatements: vex.isEmpty ? nil : staleVEX,
            expiredStatements: vex.isEmpty ? nil : expiredVEX,
            passed: !judged.contains { $0.verdict == .fails } && !(failOnUnmatched && !unmatched.isEmpty))
    }
}
