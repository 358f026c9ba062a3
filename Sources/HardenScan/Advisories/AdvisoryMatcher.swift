import Foundation

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
        switch self {
        case .debian:
            guard let x = DebianVersion(a), let y = DebianVersion(b) else { return nil }
            return DebianVersion.compare(x, y)
        case .alpine:
            guard let x = AlpineVersion(a), let y = AlpineVersion(b) else { return nil }
            return AlpineVersion.compare(x, y)
        case .python:
            guard let x = PythonVersion(a), let y = PythonVersion(b) else { return nil }
            return PythonVersion.compare(x, y)
        }
    }
}

/// OSV advisories indexed by ecosystem and package name, matched against a catalog.
public struct AdvisoryMatcher: Sendable {
    private var byPackage: [String: [OSVAdvisory]] = [:]
    public private(set) var count = 0

    public init(_ advisories: [OSVAdvisory] = []) {
        for advisory in advisories { add(advisory) }
    }

    public mutating func add(_ advisory: OSVAdvisory) {
        guard advisory.withdrawn == nil else { return }
        count += 1
        var keys = Set<String>()
        for affected in advisory.affected ?? [] {
            guard let package = affected.package, let family = Self.family(package.ecosystem) else { continue }
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

    /// Every advisory affecting a package of the image running `os`.
    public func match(_ packages: [Package], os: OperatingSystem?) -> [Vulnerability] {
        var found: [Vulnerability] = []
        for package in packages {
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
            let scheme = VersionScheme(package.kind)
            for advisory in byPackage[Self.key(family, name)] ?? [] {
                for affected in advisory.affected ?? [] {
                    guard let target = affected.package, Self.family(target.ecosystem) == family,
                        (family == "PyPI" ? Package.normalizePython(target.name) : target.name) == name,
                        Self.ecosystemApplies(target.ecosystem, to: ecosystem)
                    else { continue }
                    guard let fixed = Self.affects(affected, version: version, scheme: scheme) else { continue }
                    found.append(Vulnerability(
                        id: advisory.id, aliases: advisory.aliases ?? [], package: package.name, version: package.version,
                        ecosystem: package.kind.rawValue, fixedVersion: fixed.isEmpty ? nil : fixed,
                        severity: Self.severity(advisory, affected), summary: advisory.summary, location: package.location,
                        layer: package.layer, purl: package.purl(os: os), scanners: ["builtin"]))
                    break
                }
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
        if affected.versions?.contains(version) == true {
            return fixedAbove(affected, version: version, scheme: scheme) ?? ""
        }
        // A version the ecosystem can't order can't be placed in a range.
        guard scheme.compare(version, version) != nil else { return nil }
        for range in affected.ranges ?? [] where range.type == "ECOSYSTEM" || range.type == "SEMVER" {
            if inRange(range, version: version, scheme: scheme) {
                return fixedAbove(affected, version: version, scheme: scheme) ?? ""
            }
        }
        return nil
    }

    /// The OSV evaluation: walk the events in version order; `introduced` opens, `fixed` and
    /// `limit` close at that version, `last_affected` closes just after it.
    static func inRange(_ range: OSVRange, version: String, scheme: VersionScheme) -> Bool {
        func order(_ event: OSVEvent) -> String? { event.introduced ?? event.fixed ?? event.lastAffected ?? event.limit }
        let events = range.events.compactMap { event -> (OSVEvent, String)? in order(event).map { (event, $0) } }
        let sorted = events.sorted { a, b in
            if a.1 == "0" { return b.1 != "0" }
            if b.1 == "0" { return false }
            return (scheme.compare(a.1, b.1) ?? 0) < 0
        }
        var affected = false
        for (event, at) in sorted {
            if let introduced = event.introduced {
                if introduced == "0" || (scheme.compare(version, introduced) ?? -1) >= 0 { affected = true }
            } else if let fixed = event.fixed {
                if (scheme.compare(version, fixed) ?? -1) >= 0 { affected = false }
            } else if let last = event.lastAffected {
                if (scheme.compare(version, last) ?? -1) > 0 { affected = false }
            } else if event.limit != nil, at != "*" {
                if (scheme.compare(version, at) ?? -1) >= 0 { affected = false }
            }
        }
        return affected
    }

    static func fixedAbove(_ affected: OSVAffected, version: String, scheme: VersionScheme) -> String? {
        let fixes = (affected.ranges ?? []).flatMap { $0.events.compactMap(\.fixed) }
            .filter { (scheme.compare($0, version) ?? -1) > 0 }
        return fixes.min { (scheme.compare($0, $1) ?? 0) < 0 }
    }

    /// The advisory's own severity: a CVSS v3 vector, else a severity word the database gives.
    static func severity(_ advisory: OSVAdvisory, _ affected: OSVAffected) -> Severity {
        for entry in (affected.severity ?? []) + (advisory.severity ?? []) where entry.type.hasPrefix("CVSS_V3") {
            if let score = CVSS3.baseScore(entry.score) { return Severity(score: score) }
        }
        for word in [affected.ecosystemSpecific?.severity, affected.databaseSpecific?.severity, advisory.databaseSpecific?.severity] {
            if let word, Severity(word: word) != .unknown { return Severity(word: word) }
        }
        return .unknown
    }
}
