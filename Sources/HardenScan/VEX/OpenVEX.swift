import Foundation

/// OpenVEX 0.2.0 (github.com/openvex/spec): a document of statements saying how
/// vulnerabilities affect products. Optionals are the schema's optional members.
public enum OpenVEX {
    public static let context = "https://openvex.dev/ns/v0.2.0"

    public struct Document: Sendable, Codable, Equatable {
        public var context: String
        public var id: String
        public var author: String
        public var role: String?
        /// RFC 3339.
        public var timestamp: String
        public var lastUpdated: String?
        public var version: Int
        public var tooling: String?
        public var statements: [Statement]

        enum CodingKeys: String, CodingKey {
            case context = "@context", id = "@id", author, role, timestamp, lastUpdated = "last_updated", version, tooling,
                statements
        }
    }

    public struct Statement: Sendable, Codable, Equatable {
        public var id: String?
        public var version: Int?
        public var vulnerability: Vulnerability
        /// When it was known to be true (RFC 3339); the document's timestamp when absent.
        public var timestamp: String?
        public var lastUpdated: String?
        public var products: [Component]?
        public var status: Status
        public var supplier: String?
        public var statusNotes: String?
        public var justification: Justification?
        public var impactStatement: String?
        public var actionStatement: String?
        public var actionStatementTimestamp: String?

        public init(
            vulnerability: Vulnerability, products: [Component], status: Status, statusNotes: String? = nil,
            justification: Justification? = nil, impactStatement: String? = nil, actionStatement: String? = nil
        ) {
            self.vulnerability = vulnerability
            self.products = products
            self.status = status
            self.statusNotes = statusNotes
            self.justification = justification
            self.impactStatement = impactStatement
            self.actionStatement = actionStatement
        }

        enum CodingKeys: String, CodingKey {
            case id = "@id", version, vulnerability, timestamp, lastUpdated = "last_updated", products, status, supplier,
                statusNotes = "status_notes", justification, impactStatement = "impact_statement",
                actionStatement = "action_statement", actionStatementTimestamp = "action_statement_timestamp"
        }
    }

    public struct Vulnerability: Sendable, Codable, Equatable {
        public var id: String?
        public var name: String
        public var description: String?
        public var aliases: [String]?

        public init(name: String, aliases: [String]? = nil) {
            self.name = name
            self.aliases = aliases
        }

        enum CodingKeys: String, CodingKey {
            case id = "@id", name, description, aliases
        }
    }

    /// A product, or one of its subcomponents (which have no subcomponents of their own).
    public struct Component: Sendable, Codable, Equatable {
        public var id: String?
        public var identifiers: Identifiers?
        /// Algorithm (`sha-256`) → hex.
        public var hashes: [String: String]?
        public var subcomponents: [Component]?

        public init(
            id: String?, identifiers: Identifiers? = nil, hashes: [String: String]? = nil, subcomponents: [Component]? = nil
        ) {
            self.id = id
            self.identifiers = identifiers
            self.hashes = hashes
            self.subcomponents = subcomponents
        }

        enum CodingKeys: String, CodingKey {
            case id = "@id", identifiers, hashes, subcomponents
        }
    }

    public struct Identifiers: Sendable, Codable, Equatable {
        public var purl: String?
        public var cpe22: String?
        public var cpe23: String?

        public init(purl: String?) { self.purl = purl }
    }

    public enum Status: String, Sendable, Codable, CaseIterable {
        case notAffected = "not_affected", affected, fixed, underInvestigation = "under_investigation"

        public init(from decoder: any Decoder) throws {
            self = try OpenVEX.decodeEnum(decoder)
        }
    }

    public enum Justification: String, Sendable, Codable, CaseIterable {
        case componentNotPresent = "component_not_present"
        case vulnerableCodeNotPresent = "vulnerable_code_not_present"
        case vulnerableCodeNotInExecutePath = "vulnerable_code_not_in_execute_path"
        case vulnerableCodeCannotBeControlledByAdversary = "vulnerable_code_cannot_be_controlled_by_adversary"
        case inlineMitigationsAlreadyExist = "inline_mitigations_already_exist"

        public init(from decoder: any Decoder) throws {
            self = try OpenVEX.decodeEnum(decoder)
        }
    }

    /// A raw value of `T`, or an error that lists the allowed ones.
    static func decodeEnum<T: RawRepresentable & CaseIterable>(_ decoder: any Decoder) throws -> T
    where T.RawValue == String {
        let raw = try decoder.singleValueContainer().decode(String.self)
        guard let value = T(rawValue: raw) else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath,
                    debugDescription: "'\(raw)' is not one of \(T.allCases.map(\.rawValue).joined(separator: ", "))"))
        }
        return value
    }
}
