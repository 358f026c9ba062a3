import Foundation

/// A severity and where it came from, as reports show it.
public struct SeverityVerdict: Sendable, Codable, Equatable {
    public var severity: Severity
    public var source: String

    public init(_ severity: Severity, source: String) {
        self.severity = severity
        self.source = source
    }
}

/// Where a matched package's severity comes from, first that applies:
/// 1. the record's own CVSS v3 vector (the package entry's, then the record's);
/// 2. the record's own severity word (`database_specific.severity`, e.g. GHSA's MODERATE);
/// 3. Debian's urgency for this package in this release (`ecosystem_specific.urgency`): it is
///    the distributor's judgment of its own build, so it applies to that package only;
/// 4. the highest CVSS v3 score among records sharing an ID or alias with this one
///    (DEBIAN-CVE-… ↔ CVE-… ↔ GHSA-…), worked out when the database is built;
/// 5. unknown. An unknown (`not yet assigned`, no vector) never replaces a known one.
public enum RecordSeverity {
    /// Steps 1 and 2 for one package entry.
    public static func own(_ advisory: OSVAdvisory, _ affected: OSVAffected) -> SeverityVerdict? {
        for entry in (affected.severity ?? []) + (advisory.severity ?? []) where entry.type == "CVSS_V3" {
            if let score = CVSS3.baseScore(entry.score), Severity(score: score) != .unknown {
                return SeverityVerdict(Severity(score: score), source: "CVSS v3 \(score) of this record")
            }
        }
        for word in [
            affected.ecosystemSpecific?.severity, affected.databaseSpecific?.severity, advisory.databaseSpecific?.severity,
        ] {
            if let word, Severity(word: word) != .unknown {
                return SeverityVerdict(Severity(word: word), source: "severity \(word) of this record")
            }
        }
        return nil
    }

    /// Step 3: Debian's urgency (`low`, `medium**`, `unimportant`…) for this entry's package.
    public static func urgency(_ affected: OSVAffected) -> SeverityVerdict? {
        guard let raw = affected.ecosystemSpecific?.urgency ?? affected.databaseSpecific?.urgency else { return nil }
        let word = raw.trimmingCharacters(in: CharacterSet(charactersIn: "* "))
        let severity = Severity(word: word)
        guard severity != .unknown, let package = affected.package else { return nil }
        return SeverityVerdict(severity, source: "Debian urgency \(word) for \(package.name) in \(package.ecosystem)")
    }

    /// The record's highest CVSS v3 base score, anywhere in it: what records sharing an alias take.
    public static func bestScore(_ advisory: OSVAdvisory) -> Double? {
        let entries = (advisory.severity ?? []) + (advisory.affected ?? []).flatMap { $0.severity ?? [] }
        return entries.filter { $0.type == "CVSS_V3" }.compactMap { CVSS3.baseScore($0.score) }.filter { $0 > 0 }.max()
    }

    /// Step 4.
    public static func fromAlias(score: Double, of id: String) -> SeverityVerdict {
        SeverityVerdict(Severity(score: score), source: "CVSS v3 \(score) of \(id), which shares an alias")
    }
}
