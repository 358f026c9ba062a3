import Foundation
import HardenAdvisories
import HardenVersions

/// A vulnerability found in one package, by one or more scanners.
public struct Vulnerability: Sendable, Codable, Equatable {
    public var id: String
    public var aliases: [String]
    public var package: String
    public var version: String
    /// The package's ecosystem as scanners name it: `deb`, `apk`, `python`, `gobinary`…
    public var ecosystem: String
    /// The lowest fixed version above the installed one, when the advisory gives one.
    public var fixedVersion: String?
    public var severity: Severity
    /// Where the severity came from (`CVSS v3 7.5 of this record`, `Debian urgency low for …`).
    public var severitySource: String?
    public var summary: String?
    public var location: String?
    public var layer: Int?
    public var purl: String?
    public var scanners: [String]

    public init(
        id: String, aliases: [String] = [], package: String, version: String, ecosystem: String, fixedVersion: String? = nil,
        severity: Severity, severitySource: String? = nil, summary: String? = nil, location: String? = nil, layer: Int? = nil, purl: String? = nil,
        scanners: [String]
    ) {
        self.id = id
        self.aliases = aliases
        self.package = package
        self.version = version
        self.ecosystem = ecosystem
        self.fixedVersion = fixedVersion
        self.severity = severity
        self.severitySource = severitySource
        self.summary = summary
        self.location = location
        self.layer = layer
        self.purl = purl
        self.scanners = scanners
    }

    /// The name reports and ignores use: the CVE when the advisory has one, else its own ID.
    public var primaryID: String {
        id.hasPrefix("CVE-") ? id : (aliases.first { $0.hasPrefix("CVE-") } ?? id)
    }
}

/// Ordering of versions in one ecosystem.
public enum VersionScheme: Sendable {
    case debian, alpine, python

    public init(_ kind: Package.Kind) {
        switch kind {
        case .deb: self = .debian
        case .apk: self = .alpine
        case .python: self = .python
        }
    }

    /// -1, 0, 1; nil when either version can't be parsed in this scheme.
    public func compare(_ a: String, _ b: String) -> Int? {
        guard let x = parse(a), let y = parse(b) else { return nil }
        return x.compare(y)
    }

    public func parse(_ text: String) -> ParsedVersion? {
        switch self {
        case .debian: DebianVersion(text).map(ParsedVersion.debian)
        case .alpine: AlpineVersion(text).map(ParsedVersion.alpine)
        case .python: PythonVersion(text).map(ParsedVersion.python)
        }
    }
}

/// A version parsed once in its ecosystem's scheme, to be compared many times.
public enum ParsedVersion: Sendable {
    case debian(DebianVersion), alpine(AlpineVersion), python(PythonVersion)

    /// -1, 0, 1; nil across schemes.
    public func compare(_ other: ParsedVersion) -> Int? {
        switch (self, other) {
        case (.debian(let a), .debian(let b)): DebianVersion.compare(a, b)
        case (.alpine(let a), .alpine(let b)): AlpineVersion.compare(a, b)
        case (.python(let a), .python(let b)): PythonVersion.compare(a, b)
        default: nil
        }
    }
}

/// OSV advisories from an advisory database, matched against a catalog.
public struct AdvisoryMatcher: Sendable {
    public let database: AdvisoryDatabase
    /// Records in the database.
    public let count: Int
    /// Every ecosystem the loaded advisories name (`Debian:12`, `Alpine:v3.22`, `PyPI`).
    public let ecosystems: Set<String>

    public init(database: AdvisoryDatabase) throws(AdvisoryError) {
        self.database = database
        count = database.recordCount
        ecosystems = Set(try database.recordsByEcosystem().keys)
    }

    /// Advisories held in memory (tests, and records given one by one).
    public init(_ advisories: [OSVAdvisory] = []) throws(AdvisoryError) {
        let writer = try AdvisoryDatabaseWriter.inMemory()
        for advisory in advisories { try writer.add(advisory, source: "memory") }
        try self.init(database: try writer.commit())
    }

    /// Every advisory affecting a package of the image running `os`, in package order. Each
    /// lookup key (family and name) is read once and evaluated where it was read: on up to four
    /// threads for a database file, on one for a database in memory; binary packages of one
    /// source at one version are evaluated once.
    public func match(_ packages: [Package], os: OperatingSystem?) throws(AdvisoryError) -> [Vulnerability] {
        var keys: [(family: String, name: String)] = []
        var keyIndex: [String: Int] = [:]
        // Per key, one package for each version that advisories are matched against.
        var versionsOfKey: [[Package]] = []
        var slot: [(key: Int, version: Int)] = []
        for package in packages {
            let (family, name) = Self.lookupKey(package)
            let key = family + "\u{0}" + name
            let index: Int
            if let known = keyIndex[key] {
                index = known
            } else {
                index = keys.count
                keyIndex[key] = index
                keys.append((family, name))
                versionsOfKey.append([])
            }
            let version = Self.matchedVersion(package)
            if let known = versionsOfKey[index].firstIndex(where: { Self.matchedVersion($0) == version }) {
                slot.append((index, known))
            } else {
                slot.append((index, versionsOfKey[index].count))
                versionsOfKey[index].append(package)
            }
        }
        let versions = versionsOfKey
        let evaluated = try database.evaluateCandidates(keys) { index, candidates in
            versions[index].map { Self.evaluate($0, candidates, os: os) }
        }
        var found: [Vulnerability] = []
        var details: [String: AdvisoryDetails] = [:]
        for (index, package) in packages.enumerated() {
            let (key, version) = slot[index]
            let packageHits = evaluated[key][version]
            guard !packageHits.isEmpty else { continue }
            let purl = package.purl(os: os)
            for (candidate, fixed) in packageHits {
                let detail: AdvisoryDetails
                let detailKey = "\(candidate.record) \(candidate.entry) \(key)"
                if let known = details[detailKey] {
                    detail = known
                } else {
                    detail = try database.details(of: candidate)
                    details[detailKey] = detail
                }
                found.append(
                    Vulnerability(
                        id: detail.id, aliases: detail.aliases, package: package.name, version: package.version,
                        ecosystem: package.kind.rawValue, fixedVersion: fixed.isEmpty ? nil : fixed,
                        severity: detail.severity.severity, severitySource: detail.severity.source,
                        summary: detail.summary, location: package.location, layer: package.layer, purl: purl,
                        scanners: ["builtin"]))
            }
        }
        return found
    }

    /// The version advisories speak of: the source package's for Debian and Alpine.
    private static func matchedVersion(_ package: Package) -> String {
        package.kind == .python ? package.version : (package.sourceVersion ?? package.version)
    }

    /// Debian and Alpine advisories name source packages; PyPI ones PEP 503 names.
    private static func lookupKey(_ package: Package) -> (family: String, name: String) {
        switch package.kind {
        case .python: ("PyPI", package.normalizedName)
        case .deb: ("Debian", package.sourceName ?? package.name)
        case .apk: ("Alpine", package.sourceName ?? package.name)
        }
    }

    /// The candidates that affect the package's version on `os`, each once, with the fixed version.
    private static func evaluate(
        _ package: Package, _ candidates: [AdvisoryCandidate], os: OperatingSystem?
    ) -> [(AdvisoryCandidate, String)] {
        guard !candidates.isEmpty else { return [] }
        let ecosystem: String? =
            switch package.kind {
            case .python: "PyPI"
            case .deb: os?.id == "debian" ? os?.osvEcosystem : nil
            case .apk: os?.id == "alpine" ? os?.osvEcosystem : nil
            }
        let version = matchedVersion(package)
        let scheme = VersionScheme(package.kind)
        let parsed = scheme.parse(version)
        let versions = VersionCache(scheme)
        var seen: Set<Int64> = []
        var hits: [(AdvisoryCandidate, String)] = []
        for candidate in candidates where !seen.contains(candidate.record) {
            guard AdvisoryKey.applies(candidate.ecosystem, to: ecosystem),
                let fixed = affects(candidate.affected, version: version, parsed: parsed, versions: versions)
            else { continue }
            seen.insert(candidate.record)
            hits.append((candidate, fixed))
        }
        return hits
    }

    /// The packages `match` cannot check on an image running `os`, grouped by kind and reason:
    /// no os-release, another OS, no VERSION_ID, or no advisories loaded for that release.
    public func unmatched(_ packages: [Package], os: OperatingSystem?) -> [UnmatchedPackages] {
        var groups: [UnmatchedPackages] = []
        for package in packages {
            guard let reason = whyUnmatched(package.kind, os: os) else { continue }
            if let index = groups.firstIndex(where: { $0.ecosystem == package.kind.rawValue && $0.reason == reason }) {
                groups[index].count += 1
                if groups[index].examples.count < 5 { groups[index].examples.append(package.name) }
            } else {
                groups.append(
                    UnmatchedPackages(ecosystem: package.kind.rawValue, reason: reason, count: 1, examples: [package.name]))
            }
        }
        return groups
    }

    private func whyUnmatched(_ kind: Package.Kind, os: OperatingSystem?) -> String? {
        let (id, name) = kind == .deb ? ("debian", "Debian") : ("alpine", "Alpine")
        switch kind {
        case .python:
            return hasAdvisories(for: "PyPI") ? nil : "no PyPI advisories are loaded"
        case .deb, .apk:
            guard let os else { return "the image has no /etc/os-release, so its \(name) release is unknown" }
            guard os.id == id else {
                return "the image's os-release says ID=\(os.id), which has no \(name) advisories to match"
            }
            guard os.versionID != nil, let ecosystem = os.osvEcosystem else {
                return "the image's os-release has no VERSION_ID, so its \(name) release is unknown"
            }
            return hasAdvisories(for: ecosystem) ? nil : "no \(ecosystem) advisories are loaded"
        }
    }

    private func hasAdvisories(for image: String) -> Bool {
        ecosystems.contains { AdvisoryKey.applies($0, to: image) }
    }

    /// Whether `version` is affected; returns the fixed version ("" when none is known), or nil.
    static func affects(_ affected: OSVAffected, version: String, scheme: VersionScheme) -> String? {
        affects(affected, version: version, parsed: scheme.parse(version), versions: VersionCache(scheme))
    }

    static func affects(_ affected: OSVAffected, version: String, parsed: ParsedVersion?, versions: VersionCache) -> String? {
        if affected.versions?.contains(version) == true {
            return parsed.flatMap { fixedAbove(affected, version: $0, versions: versions) } ?? ""
        }
        // A version the ecosystem can't order can't be placed in a range.
        guard let parsed else { return nil }
        for range in affected.ranges ?? [] where range.type == "ECOSYSTEM" || range.type == "SEMVER" {
            if inRange(range, version: parsed, versions: versions) {
                return fixedAbove(affected, version: parsed, versions: versions) ?? ""
            }
        }
        return nil
    }

    /// One range event with its version parsed once; "0" and a limit of "*" stay unparsed (the ends).
    private struct Point {
        enum Kind { case introduced, fixed, lastAffected, limit }
        var kind: Kind
        var text: String
        var version: ParsedVersion?

        init?(_ event: OSVEvent, versions: VersionCache) {
            if let text = event.introduced {
                (kind, self.text) = (.introduced, text)
            } else if let text = event.fixed {
                (kind, self.text) = (.fixed, text)
            } else if let text = event.lastAffected {
                (kind, self.text) = (.lastAffected, text)
            } else if let text = event.limit {
                (kind, self.text) = (.limit, text)
            } else {
                return nil
            }
            version = text == "0" || text == "*" ? nil : versions.parse(text)
        }
    }

    /// The OSV evaluation: walk the events in version order; `introduced` opens, `fixed` and
    /// `limit` close at that version, `last_affected` closes just after it.
    static func inRange(_ range: OSVRange, version: ParsedVersion, scheme: VersionScheme) -> Bool {
        inRange(range, version: version, versions: VersionCache(scheme))
    }

    static func inRange(_ range: OSVRange, version: ParsedVersion, versions: VersionCache) -> Bool {
        var points: [Point] = []
        points.reserveCapacity(range.events.count)
        for event in range.events {
            if let point = Point(event, versions: versions) { points.append(point) }
        }
        points.sort { a, b in
            if a.text == "0" { return b.text != "0" }
            if b.text == "0" { return false }
            guard let x = a.version, let y = b.version else { return false }
            return (x.compare(y) ?? 0) < 0
        }
        var affected = false
        for point in points {
            let order = point.version.flatMap { version.compare($0) } ?? -1
            switch point.kind {
            case .introduced: if point.text == "0" || order >= 0 { affected = true }
            case .fixed: if order >= 0 { affected = false }
            case .lastAffected: if order > 0 { affected = false }
            case .limit: if point.text != "*", order >= 0 { affected = false }
            }
        }
        return affected
    }

    static func fixedAbove(_ affected: OSVAffected, version: ParsedVersion, versions: VersionCache) -> String? {
        var best: (text: String, version: ParsedVersion)?
        for range in affected.ranges ?? [] {
            for event in range.events {
                guard let text = event.fixed, let fixed = versions.parse(text), (fixed.compare(version) ?? -1) > 0 else { continue }
                if let current = best, (fixed.compare(current.version) ?? 0) >= 0 { continue }
                best = (text, fixed)
            }
        }
        return best?.text
    }
}

/// Versions parsed once per evaluation: a package's advisories name the same fixed versions
/// again and again (one security update fixes many CVEs).
final class VersionCache {
    let scheme: VersionScheme
    private var parsed: [String: ParsedVersion?] = [:]

    init(_ scheme: VersionScheme) { self.scheme = scheme }

    func parse(_ text: String) -> ParsedVersion? {
        if let known = parsed[text] { return known }
        let version = scheme.parse(text)
        parsed[text] = version
        return version
    }
}
