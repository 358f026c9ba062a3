import Foundation
import HardenVersions

/// A version bound in a relation (Debian Policy §7.1): `(>= 2.36)`.
public struct VersionBound: Sendable, Hashable, CustomStringConvertible {
    public enum Operator: String, Sendable, Hashable {
        case earlier = "<<", earlierOrEqual = "<=", equal = "=", laterOrEqual = ">=", later = ">>"
    }
    public var op: Operator
    public var version: DebianVersion

    public func admits(_ candidate: DebianVersion) -> Bool {
        let order = DebianVersion.compare(candidate, version)
        switch op {
        case .earlier: return order < 0
        case .earlierOrEqual: return order <= 0
        case .equal: return order == 0
        case .laterOrEqual: return order >= 0
        case .later: return order > 0
        }
    }

    public var description: String { "\(op.rawValue) \(version)" }
}

/// One package named in a relation field: `libc6:any (>= 2.34)`.
public struct Relation: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    /// The architecture qualifier after `:` (`any`, `native`, or an architecture).
    public var qualifier: String?
    public var bound: VersionBound?

    public var description: String {
        name + (qualifier.map { ":" + $0 } ?? "") + (bound.map { " (\($0))" } ?? "")
    }
}

/// One comma-separated entry of `Depends`: alternatives joined by `|`.
public struct RelationGroup: Sendable, Hashable, CustomStringConvertible {
    public var alternatives: [Relation]
    public var description: String { alternatives.map(\.description).joined(separator: " | ") }
}

extension RelationGroup {
    /// Parses a `Depends`-style field (`Depends`, `Pre-Depends`, `Provides`). Architecture
    /// lists (`[amd64]`) and build profiles (`<!nocheck>`), which binary indexes do not use,
    /// are skipped. `context` names the field in errors (`Depends of libfoo 1.0`).
    public static func parseField(_ text: String, context: String) throws(DebianError) -> [RelationGroup] {
        var groups: [RelationGroup] = []
        for entry in text.split(separator: ",") {
            var alternatives: [Relation] = []
            for option in entry.split(separator: "|") {
                let relation = try parseRelation(option, context: context)
                alternatives.append(relation)
            }
            if !alternatives.isEmpty { groups.append(RelationGroup(alternatives: alternatives)) }
        }
        return groups
    }

    private static func parseRelation(_ text: Substring, context: String) throws(DebianError) -> Relation {
        func fail(_ why: String) -> DebianError {
            DebianError(.syntax, "\(context): '\(text.trimmingCharacters(in: .whitespaces))' \(why)")
        }
        var rest = text.drop(while: \.isSpace)
        let nameEnd = rest.firstIndex(where: { " \t\n(:[<".contains($0) }) ?? rest.endIndex
        let name = String(rest[..<nameEnd])
        guard !name.isEmpty else { throw fail("names no package") }
        rest = rest[nameEnd...]
        var qualifier: String?
        if rest.first == ":" {
            rest = rest.dropFirst()
            let end = rest.firstIndex(where: { " \t\n([<".contains($0) }) ?? rest.endIndex
            qualifier = String(rest[..<end])
            rest = rest[end...]
        }
        rest = rest.drop(while: \.isSpace)
        var bound: VersionBound?
        if rest.first == "(" {
            guard let close = rest.firstIndex(of: ")") else { throw fail("has no ')'") }
            var inside = rest[rest.index(after: rest.startIndex)..<close].drop(while: { $0 == " " })
            let opEnd = inside.firstIndex(where: { $0.isLetter || $0.isNumber || $0 == " " }) ?? inside.endIndex
            let opText = String(inside[..<opEnd])
            // `<` and `>` are the obsolete spellings of `<=` and `>=` (Policy §7.1).
            let op: VersionBound.Operator? =
                opText == "<" ? .earlierOrEqual : opText == ">" ? .laterOrEqual : VersionBound.Operator(rawValue: opText)
            guard let op else { throw fail("has the unknown operator '\(opText)'") }
            inside = inside[opEnd...]
            guard let version = DebianVersion(String(inside.trimmed)) else {
                throw fail("has no valid version after '\(opText)'")
            }
            bound = VersionBound(op: op, version: version)
            rest = rest[rest.index(after: close)...]
        }
        return Relation(name: name, qualifier: qualifier, bound: bound)
    }
}

extension Character {
    fileprivate var isSpace: Bool { self == " " || self == "\t" || self == "\n" }
}

extension Substring {
    /// Without spaces, tabs and newlines at either end (cheaper than Foundation's trimming).
    var trimmed: Substring {
        guard let first = firstIndex(where: { !$0.isSpace }), let last = lastIndex(where: { !$0.isSpace }) else { return "" }
        return self[first...last]
    }
}
