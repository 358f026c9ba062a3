import Foundation

/// An advisory in the OSV schema (https://ossf.github.io/osv-schema/): the fields matching needs.
public struct OSVAdvisory: Sendable, Codable, Equatable {
    public var id: String
    public var aliases: [String]?
    /// IDs this record derives from (a `DEBIAN-CVE-…` names its `CVE-…` here).
    public var upstream: [String]?
    public var summary: String?
    public var modified: String?
    public var withdrawn: String?
    public var severity: [OSVSeverity]?
    public var affected: [OSVAffected]?
    public var databaseSpecific: OSVSpecific?

    public init(
        id: String, aliases: [String]? = nil, upstream: [String]? = nil, summary: String? = nil, modified: String? = nil,
        withdrawn: String? = nil, severity: [OSVSeverity]? = nil, affected: [OSVAffected]? = nil,
        databaseSpecific: OSVSpecific? = nil
    ) {
        self.id = id
        self.aliases = aliases
        self.upstream = upstream
        self.summary = summary
        self.modified = modified
        self.withdrawn = withdrawn
        self.severity = severity
        self.affected = affected
        self.databaseSpecific = databaseSpecific
    }

    enum CodingKeys: String, CodingKey {
        case id, aliases, upstream, summary, modified, withdrawn, severity, affected
        case databaseSpecific = "database_specific"
    }
}

public struct OSVSeverity: Sendable, Codable, Equatable {
    /// `CVSS_V2`, `CVSS_V3`, `CVSS_V4`, `Ubuntu`.
    public var type: String
    public var score: String

    public init(type: String, score: String) {
        self.type = type
        self.score = score
    }
}

public struct OSVAffected: Sendable, Codable, Equatable {
    public struct Package: Sendable, Codable, Equatable {
        public var ecosystem: String
        public var name: String
        public var purl: String?

        public init(ecosystem: String, name: String, purl: String? = nil) {
            self.ecosystem = ecosystem
            self.name = name
            self.purl = purl
        }
    }
    public var package: Package?
    public var ranges: [OSVRange]?
    public var versions: [String]?
    public var severity: [OSVSeverity]?
    public var ecosystemSpecific: OSVSpecific?
    public var databaseSpecific: OSVSpecific?

    public init(
        package: Package? = nil, ranges: [OSVRange]? = nil, versions: [String]? = nil, severity: [OSVSeverity]? = nil,
        ecosystemSpecific: OSVSpecific? = nil, databaseSpecific: OSVSpecific? = nil
    ) {
        self.package = package
        self.ranges = ranges
        self.versions = versions
        self.severity = severity
        self.ecosystemSpecific = ecosystemSpecific
        self.databaseSpecific = databaseSpecific
    }

    enum CodingKeys: String, CodingKey {
        case package, ranges, versions, severity
        case ecosystemSpecific = "ecosystem_specific"
        case databaseSpecific = "database_specific"
    }
}

public struct OSVRange: Sendable, Codable, Equatable {
    /// `ECOSYSTEM`, `SEMVER` or `GIT` (harden evaluates the first two with the ecosystem's order).
    public var type: String
    public var events: [OSVEvent]

    public init(type: String, events: [OSVEvent]) {
        self.type = type
        self.events = events
    }
}

/// One range event: exactly one of the four keys is set.
public struct OSVEvent: Sendable, Codable, Equatable {
    public var introduced: String?
    public var fixed: String?
    public var lastAffected: String?
    public var limit: String?

    public init(introduced: String? = nil, fixed: String? = nil, lastAffected: String? = nil, limit: String? = nil) {
        self.introduced = introduced
        self.fixed = fixed
        self.lastAffected = lastAffected
        self.limit = limit
    }

    enum CodingKeys: String, CodingKey {
        case introduced, fixed, limit
        case lastAffected = "last_affected"
    }
}

/// The free-form `database_specific` / `ecosystem_specific` objects: only `severity` (GHSA's
/// word) and `urgency` (the Debian security tracker's, per package and release) are read.
public struct OSVSpecific: Sendable, Codable, Equatable {
    public var severity: String?
    public var urgency: String?

    public init(severity: String? = nil, urgency: String? = nil) {
        self.severity = severity
        self.urgency = urgency
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        severity = try? container.decodeIfPresent(String.self, forKey: .severity)
        urgency = try? container.decodeIfPresent(String.self, forKey: .urgency)
    }

    enum Key: String, CodingKey { case severity, urgency }
}
