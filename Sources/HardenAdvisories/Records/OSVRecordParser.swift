import Foundation

/// Why one record was not taken: where in the record (a JSON path) and what is wrong.
public struct RecordProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var message: String
    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// Reads one OSV record from JSON and checks it against the OSV schema's structure: required
/// `id` and `modified`, RFC 3339 UTC timestamps, the types of every field harden reads, range
/// types, events with exactly one of introduced/fixed/last_affected/limit and an `introduced`
/// in each range, `fixed` and `last_affected` never in one range, GIT ranges with a repo,
/// severity in the record or in its packages but not both. The schema's lists of ecosystems
/// and ID prefixes are not enforced, so records of databases newer than this harden still load.
public enum OSVRecordParser {
    public static func parse(_ data: Data) throws(RecordProblem) -> OSVAdvisory {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw RecordProblem(path: "", message: "not valid JSON")
        }
        return try record(object)
    }

    static func record(_ value: Any) throws(RecordProblem) -> OSVAdvisory {
        let record = try object(value, "")
        let id = try string(record["id"], "id")
        guard !id.isEmpty else { throw RecordProblem(path: "id", message: "is empty") }
        let modified = try timestamp(record["modified"], "modified")
        let withdrawn = try record["withdrawn"].map { v throws(RecordProblem) in try timestamp(v, "withdrawn") }
        if let published = record["published"] { _ = try timestamp(published, "published") }
        let severity = try severities(record["severity"], "severity")
        var affected: [OSVAffected]?
        if let list = try nullableArray(record["affected"], "affected") {
            var entries: [OSVAffected] = []
            for (index, item) in list.enumerated() {
                let entry = try affectedEntry(item, "affected[\(index)]")
                if severity != nil, entry.severity != nil {
                    throw RecordProblem(
                        path: "affected[\(index)].severity", message: "is set while the record has a severity of its own")
                }
                entries.append(entry)
            }
            affected = entries
        }
        return OSVAdvisory(
            id: id, aliases: try strings(record["aliases"], "aliases"), upstream: try strings(record["upstream"], "upstream"),
            summary: try optionalString(record["summary"], "summary"), modified: modified, withdrawn: withdrawn,
            severity: severity, affected: affected, databaseSpecific: try specific(record["database_specific"], "database_specific"))
    }

    private static func affectedEntry(_ value: Any, _ path: String) throws(RecordProblem) -> OSVAffected {
        let entry = try object(value, path)
        var package: OSVAffected.Package?
        if let raw = entry["package"] {
            let fields = try object(raw, path + ".package")
            package = OSVAffected.Package(
                ecosystem: try string(fields["ecosystem"], path + ".package.ecosystem"),
                name: try string(fields["name"], path + ".package.name"),
                purl: try optionalString(fields["purl"], path + ".package.purl"))
        }
        var ranges: [OSVRange]?
        if let list = try array(entry["ranges"], path + ".ranges") {
            var parsed: [OSVRange] = []
            for (index, item) in list.enumerated() { parsed.append(try range(item, path + ".ranges[\(index)]")) }
            ranges = parsed
        }
        var versions: [String]?
        if let list = try array(entry["versions"], path + ".versions") {
            var parsed: [String] = []
            for (index, item) in list.enumerated() { parsed.append(try versionString(item, path + ".versions[\(index)]")) }
            versions = parsed
        }
        return OSVAffected(
            package: package, ranges: ranges, versions: versions, severity: try severities(entry["severity"], path + ".severity"),
            ecosystemSpecific: try specific(entry["ecosystem_specific"], path + ".ecosystem_specific"),
            databaseSpecific: try specific(entry["database_specific"], path + ".database_specific"))
    }

    private static let rangeTypes: Set<String> = ["GIT", "SEMVER", "ECOSYSTEM"]
    private static let eventKeys = ["introduced", "fixed", "last_affected", "limit"]

    private static func range(_ value: Any, _ path: String) throws(RecordProblem) -> OSVRange {
        let fields = try object(value, path)
        let type = try string(fields["type"], path + ".type")
        guard rangeTypes.contains(type) else {
            throw RecordProblem(path: path + ".type", message: "is \(type), not one of GIT, SEMVER, ECOSYSTEM")
        }
        if type == "GIT" { _ = try string(fields["repo"], path + ".repo") }
        guard let list = try array(fields["events"], path + ".events"), !list.isEmpty else {
            throw RecordProblem(path: path + ".events", message: "is missing or empty")
        }
        var events: [OSVEvent] = []
        for (index, item) in list.enumerated() {
            let at = path + ".events[\(index)]"
            let event = try object(item, at)
            let keys = eventKeys.filter { event[$0] != nil }
            guard keys.count == 1, let key = keys.first else {
                throw RecordProblem(
                    path: at, message: "needs exactly one of introduced, fixed, last_affected, limit (has \(keys.count))")
            }
            let version = try versionString(event[key], at + "." + key)
            switch key {
            case "introduced": events.append(OSVEvent(introduced: version))
            case "fixed": events.append(OSVEvent(fixed: version))
            case "last_affected": events.append(OSVEvent(lastAffected: version))
            default: events.append(OSVEvent(limit: version))
            }
        }
        guard events.contains(where: { $0.introduced != nil }) else {
            throw RecordProblem(path: path + ".events", message: "has no introduced event")
        }
        if events.contains(where: { $0.fixed != nil }), events.contains(where: { $0.lastAffected != nil }) {
            throw RecordProblem(path: path + ".events", message: "has both fixed and last_affected events")
        }
        return OSVRange(type: type, events: events)
    }

    private static let severityTypes: Set<String> = ["CVSS_V2", "CVSS_V3", "CVSS_V4", "Ubuntu"]

    private static func severities(_ value: Any?, _ path: String) throws(RecordProblem) -> [OSVSeverity]? {
        guard let list = try nullableArray(value, path) else { return nil }
        var parsed: [OSVSeverity] = []
        for (index, item) in list.enumerated() {
            let at = path + "[\(index)]"
            let fields = try object(item, at)
            let type = try string(fields["type"], at + ".type")
            guard severityTypes.contains(type) else {
                throw RecordProblem(path: at + ".type", message: "is \(type), not one of CVSS_V2, CVSS_V3, CVSS_V4, Ubuntu")
            }
            let score = try string(fields["score"], at + ".score")
            if type == "CVSS_V3", !(score.hasPrefix("CVSS:3.0/") || score.hasPrefix("CVSS:3.1/")) {
                throw RecordProblem(path: at + ".score", message: "is not a CVSS v3 vector")
            }
            parsed.append(OSVSeverity(type: type, score: score))
        }
        return parsed
    }

    private static func specific(_ value: Any?, _ path: String) throws(RecordProblem) -> OSVSpecific? {
        guard let value else { return nil }
        let fields = try object(value, path)
        let severity = fields["severity"] as? String
        let urgency = fields["urgency"] as? String
        return severity == nil && urgency == nil ? nil : OSVSpecific(severity: severity, urgency: urgency)
    }

    // MARK: JSON types

    private static func object(_ value: Any, _ path: String) throws(RecordProblem) -> [String: Any] {
        guard let fields = value as? [String: Any] else { throw RecordProblem(path: path, message: "is not an object") }
        return fields
    }

    private static func string(_ value: Any?, _ path: String) throws(RecordProblem) -> String {
        guard let value else { throw RecordProblem(path: path, message: "is missing") }
        guard let text = value as? String else { throw RecordProblem(path: path, message: "is not a string") }
        return text
    }

    /// A version: a string without control characters.
    private static func versionString(_ value: Any?, _ path: String) throws(RecordProblem) -> String {
        let text = try string(value, path)
        if text.utf8.contains(where: { $0 < 0x20 }) { throw RecordProblem(path: path, message: "holds control characters") }
        return text
    }

    private static func optionalString(_ value: Any?, _ path: String) throws(RecordProblem) -> String? {
        guard let value else { return nil }
        return try string(value, path)
    }

    private static func array(_ value: Any?, _ path: String) throws(RecordProblem) -> [Any]? {
        guard let value else { return nil }
        guard let list = value as? [Any] else { throw RecordProblem(path: path, message: "is not an array") }
        return list
    }

    /// An array the schema also allows as null.
    private static func nullableArray(_ value: Any?, _ path: String) throws(RecordProblem) -> [Any]? {
        if value is NSNull { return nil }
        return try array(value, path)
    }

    private static func strings(_ value: Any?, _ path: String) throws(RecordProblem) -> [String]? {
        guard let list = try nullableArray(value, path) else { return nil }
        var parsed: [String] = []
        for (index, item) in list.enumerated() { parsed.append(try string(item, path + "[\(index)]")) }
        return parsed
    }

    /// `2024-10-10T12:00:00Z`, with optional fractions: the schema's timestamp pattern.
    private static func timestamp(_ value: Any?, _ path: String) throws(RecordProblem) -> String {
        let text = try string(value, path)
        let bytes = Array(text.utf8)
        func digits(_ range: Range<Int>) -> Bool { range.allSatisfy { $0 < bytes.count && (48...57).contains(bytes[$0]) } }
        let shape =
            bytes.count >= 20 && digits(0..<4) && bytes[4] == 45 && digits(5..<7) && bytes[7] == 45 && digits(8..<10)
            && bytes[10] == 84 && digits(11..<13) && bytes[13] == 58 && digits(14..<16) && bytes[16] == 58 && digits(17..<19)
        let rest = bytes.count >= 20 ? bytes[19...] : []
        let tail = rest.last == 90 && (rest.count == 1 || (rest.first == 46 && rest.count > 2 && digits(20..<(bytes.count - 1))))
        guard shape, tail else { throw RecordProblem(path: path, message: "is not an RFC 3339 UTC timestamp (\(text))") }
        return text
    }
}
