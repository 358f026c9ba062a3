import Foundation

/// An advisory in the OSV schema (https://ossf.github.io/osv-schema/): the fields matching needs.
public struct OSVAdvisory: Sendable, Codable, Equatable {
    public var id: String
    public var aliases: [String]?
    public var summary: String?
    public var modified: String?
    public var withdrawn: String?
    public var severity: [OSVSeverity]?
    public var affected: [OSVAffected]?
    public var databaseSpecific: OSVSpecific?

    enum CodingKeys: String, CodingKey {
        case id, aliases, summary, modified, withdrawn, severity, affected
        case databaseSpecific = "database_specific"
    }
}

public struct OSVSeverity: Sendable, Codable, Equatable {
    /// `CVSS_V2`, `CVSS_V3`, `CVSS_V4`, `Ubuntu`.
    public var type: String
    public var score: String
}

public struct OSVAffected: Sendable, Codable, Equatable {
    public struct Package: Sendable, Codable, Equatable {
        public var ecosystem: String
        public var name: String
        public var purl: String?
    }
    public var package: Package?
    public var ranges: [OSVRange]?
    public var versions: [String]?
    public var severity: [OSVSeverity]?
    public var ecosystemSpecific: OSVSpecific?
    public var databaseSpecific: OSVSpecific?

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
}

/// One range event: exactly one of the four keys is set.
public struct OSVEvent: Sendable, Codable, Equatable {
    public var introduced: String?
    public var fixed: String?
    public var lastAffected: String?
    public var limit: String?

    enum CodingKeys: String, CodingKey {
        case introduced, fixed, limit
        case lastAffected = "last_affected"
    }
}

/// The free-form `database_specific` / `ecosystem_specific` objects: only `severity` is read.
public struct OSVSpecific: Sendable, Codable, Equatable {
    public var severity: String?

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        severity = try? container.decodeIfPresent(String.self, forKey: .severity)
    }

    enum Key: String, CodingKey { case severity }
}
