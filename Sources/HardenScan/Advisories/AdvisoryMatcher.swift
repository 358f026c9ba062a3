import Foundation
import HardenConcurrency

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
    public var summary: String?
    public var location: String?
    public var layer: Int?
    public var purl: String?
    public var scanners: [String]

    public init(
        id: String, aliases: [String] = [], package: String, version: String, ecosystem: String, fixedVersion: String? = nil,
        severity: Severity, summary: String? = nil, location: String? = nil, layer: Int? = nil, purl: String? = nil,
        scanners: [String]
    ) {
        self.id = id
        self.aliases = aliases
        self.package = package
        self.version = version
        self.ecosystem = ecosystem
        self.fixedVersion = fixedVersion
        self.severity = severity
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

/// OSV advisories indexed by ecosystem and package name, matched against a catalog.
public struct AdvisoryMatcher: Sendable {
    private var byPackage: [String: [OSVAdvisory]] = [:]
    public private(set) var count = 0
    /// Every ecosystem the loaded advisories name (`Debian:12`, `Alpine:v3.22`, `PyPI`).
    public private(set) var ecosystems: Set<String> = []

    public init(_ advisories: [OSVAdvisory] = []) {
        for advisory in advisories { add(advisory) }
    }

    public mutating func add(_ advisory: OSVAdvisory) {
        guard advisory.withdrawn == nil else { return }
        count += 1
        var keys = Set<String>()
        for affected in advisory.affected ?? [] {
            guard let package = affected.package, let family = Self.family(package.ecosystem) else { continue }
            ecosystems.insert(package.ecosystem)
            keys.insert(Self.key(family, family == "PyPI" ? Package.normalizePython(package.name) : package.name))
        }
        for key in keys { byPackage[key, default: []].append(advisory) }
    }

    /// `Debian:12` → `Debian`; only the ecosystems harden orders.
    static func family(_ ecosystem: String) -> String? {
        let name = ecosystem.split(separator: ":", maxSplits: 1).first.map(String.init) ?? ecosystem
        return ["Debian", "Alpine", "PyPI"].contains(name) ? name : nil
    }

    static func key(_ family: String, _ name: String) -> String { family + "\u{0}" + name }

    /// Every advisory affecting a package of the image running `os`, in package order.
    public func match(_ packages: [Package], os: OperatingSystem?) -> [Vulnerability] {
        concurrentMap(packages.count) { index in match(packages[index], os: os) }.flatMap { $0 }
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
        ecosystems.contains { Self.ecosystemApplies($0, to: image) }
    }

    private func match(_ package: Package, os: OperatingSystem?) -> [Vulnerability] {
        let family: String
        let ecosystem: String?
        switch package.kind {
        case .python:
            family = "PyPI"
            ecosystem = "PyPI"
        case .deb:
            family = "Debian"
            ecosystem = os?.id == "debian" ? os?.osvEcosystem : nil
        case .apk:
            family = "Alpine"
            ecosystem = os?.id == "alpine" ? os?.osvEcosystem : nil
        }
        // Debian and Alpine advisories name source packages.
        let name = package.kind == .python ? package.normalizedName : (package.sourceName ?? package.name)
        let version = package.kind == .python ? package.version : (package.sourceVersion ?? package.version)
        guard let candidates = byPackage[Self.key(family, name)] else { return [] }
        let scheme = VersionScheme(package.kind)
        let parsed = scheme.parse(version)
        let purl = package.purl(os: os)
        var found: [Vulnerability] = []
        for advisory in candidates {
            for affected in advisory.affected ?? [] {
                guard let target = affected.package, Self.family(target.ecosystem) == family,
                    (family == "PyPI" ? Package.normalizePython(target.name) : target.name) == name,
                    Self.ecosystemApplies(target.ecosystem, to: ecosystem)
                else { continue }
                guard let fixed = Self.affects(affected, version: version, parsed: parsed, scheme: scheme) else { continue }
                found.append(
                    Vulnerability(
                        id: advisory.id, aliases: advisory.aliases ?? [], package: package.name, version: package.version,
                        ecosystem: package.kind.rawValue, fixedVersion: fixed.isEmpty ? nil : fixed,
                        severity: Self.severity(advisory, affected), summary: advisory.summary, location: package.location,
                        layer: package.layer, purl: purl, scanners: ["builtin"]))
                break
            }
        }
        return found
    }

    /// `Debian` applies to every release; `Debian:12` only to 12.
    static func ecosystemApplies(_ advisory: String, to image: String?) -> Bool {
        if advisory == "PyPI" { return image == "PyPI" }
        guard let image else { return false }
        if !advisory.contains(":") { return image.hasPrefix(advisory) }
        return advisory == image
    }

    /// Whether `version` is affected; returns the fixed version ("" when none is known), or nil.
    static func affects(_ affected: OSVAffected, version: String, scheme: VersionScheme) -> String? {
        affects(affected, version: version, parsed: scheme.parse(version), scheme: scheme)
    }

    static func affects(_ affected: OSVAffected, version: String, parsed: ParsedVersion?, scheme: VersionScheme) -> String? {
        if affected.versions?.contains(version) == true {
            return parsed.flatMap { fixedAbove(affected, version: $0, scheme: scheme) } ?? ""
        }
        // A version the ecosystem can't order can't be placed in a range.
        guard let parsed else { return nil }
        for range in affected.ranges ?? [] where range.type == "ECOSYSTEM" || range.type == "SEMVER" {
            if inRange(range, version: parsed, scheme: scheme) {
                return fixedAbove(affected, version: parsed, scheme: scheme) ?? ""
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

        init?(_ event: OSVEvent, scheme: VersionScheme) {
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
            version = text == "0" || text == "*" ? nil : scheme.parse(text)
        }
    }

    /// The OSV evaluation: walk the events in version order; `introduced` opens, `fixed` and
    /// `limit` close at that version, `last_affected` closes just after it.
    static func inRange(_ range: OSVRange, version: ParsedVersion, scheme: VersionScheme) -> Bool {
        var points: [Point] = []
        points.reserveCapacity(range.events.count)
        for event in range.events {
            if let point = Point(event, scheme: scheme) { points.append(point) }
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

    static func fixedAbove(_ affected: OSVAffected, version: ParsedVersion, scheme: VersionScheme) -> String? {
        var best: (text: String, version: ParsedVersion)?
        for range in affected.ranges ?? [] {
            for event in range.events {
                guard let text = event.fixed, let fixed = scheme.parse(text), (fixed.compare(version) ?? -1) > 0 else { continue }
                if let current = best, (fixed.compare(current.version) ?? 0) >= 0 { continue }
                best = (text, fixed)
            }
        }
        return best?.text
    }

    /// The advisory's own severity: a CVSS v3 vector, else a severity word the database gives.
    static func severity(_ advisory: OSVAdvisory, _ affected: OSVAffected) -> Severity {
        for entry in (affected.severity ?? []) + (advisory.severity ?? []) where entry.type.hasPrefix("CVSS_V3") {
            if let score = CVSS3.baseScore(entry.score) { return Severity(score: score) }
        }
        for word in [
            affected.ecosystemSpecific?.severity, affected.databaseSpecific?.severity, advisory.databaseSpecific?.severity,
        ] {
            if let word, Severity(word: word) != .unknown { return Severity(word: word) }
        }
        return .unknown
    }
}
