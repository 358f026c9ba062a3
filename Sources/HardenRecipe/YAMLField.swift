import Foundation
import Yams

/// A YAML node with the key path and file position it came from, so every
/// conversion error can say where it happened.
struct YAMLField {
    let node: Node
    let path: String
    let file: String

    var location: SourceLocation {
        let mark = node.mark
        return SourceLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    func error(_ message: String, hint: String? = nil) -> RecipeError {
        RecipeError(location, message, hint: hint)
    }

    var isNull: Bool {
        guard case .scalar(let scalar) = node else { return false }
        return scalar.tag.description == Tag.Name.null.rawValue
            || (scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string))
    }

    private var kind: String {
        switch node {
        case .scalar: "a single value"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }

    /// A scalar, checked by `validate` (which returns a problem or nil).
    func string(_ validate: (String) -> String? = Validate.text) throws(RecipeError) -> String {
        guard case .scalar(let scalar) = node else {
            throw error("\(path) must be a single value, not \(kind)")
        }
        if let problem = validate(scalar.string) {
            throw error("\(path): \(problem)")
        }
        return scalar.string
    }

    func bool() throws(RecipeError) -> Bool {
        let value = try string()
        switch value {
        case "true": return true
        case "false": return false
        default: throw error("\(path) must be true or false, not '\(value)'")
        }
    }

    func int(in range: ClosedRange<Int>) throws(RecipeError) -> Int {
        let value = try string()
        guard let number = Int(value), range.contains(number) else {
            throw error("\(path) must be a whole number from \(range.lowerBound) to \(range.upperBound), not '\(value)'")
        }
        return number
    }

    /// A list; a single scalar is accepted as a list of one when `allowScalar`.
    func sequence(allowScalar: Bool = false) throws(RecipeError) -> [YAMLField] {
        switch node {
        case .sequence(let sequence):
            return sequence.enumerated().map { YAMLField(node: $1, path: "\(path)[\($0)]", file: file) }
        case .scalar where allowScalar:
            return [self]
        default:
            throw error("\(path) must be a list, not \(kind)")
        }
    }

    func strings(allowScalar: Bool = false, _ validate: (String) -> String? = Validate.text) throws(RecipeError) -> [String] {
        var result: [String] = []
        for item in try sequence(allowScalar: allowScalar) {
            result.append(try item.string(validate))
        }
        return result
    }

    /// A mapping whose keys must all be in `allowed`; unknown keys get a suggestion.
    func mapping(allowed: [String]) throws(RecipeError) -> YAMLMapping {
        guard case .mapping(let mapping) = node else {
            throw error("\(path) must be a mapping (key: value), not \(kind)")
        }
        var fields: [(String, YAMLField)] = []
        for (keyNode, valueNode) in mapping {
            let keyField = YAMLField(node: keyNode, path: path, file: file)
            let key = try keyField.string()
            let child = YAMLField(node: valueNode, path: path.isEmpty ? key : "\(path).\(key)", file: file)
            if !allowed.contains(key) {
                let suggestion = Suggest.closest(to: key, among: allowed)
                throw keyField.error(
                    "unknown key '\(key)'" + (path.isEmpty ? "" : " in \(path)")
                        + (suggestion.map { "; did you mean '\($0)'?" } ?? ""),
                    hint: "allowed keys: \(allowed.joined(separator: ", "))")
            }
            if fields.contains(where: { $0.0 == key }) {
                throw keyField.error("duplicate key '\(key)'" + (path.isEmpty ? "" : " in \(path)"))
            }
            fields.append((key, child))
        }
        return YAMLMapping(owner: self, fields: fields)
    }

    /// A mapping of names to scalar values, in file order.
    func keyValues(key validateKey: (String) -> String?, value validateValue: (String) -> String? = Validate.text)
        throws(RecipeError) -> [KeyValue]
    {
        guard case .mapping(let mapping) = node else {
            throw error("\(path) must be a mapping (NAME: value), not \(kind)")
        }
        var result: [KeyValue] = []
        for (keyNode, valueNode) in mapping {
            let keyField = YAMLField(node: keyNode, path: path, file: file)
            let key = try keyField.string { validateKey($0).map { "key '\($0)'" } }
            if result.contains(where: { $0.key == key }) {
                throw keyField.error("duplicate key '\(key)' in \(path)")
            }
            let value = try YAMLField(node: valueNode, path: "\(path).\(key)", file: file).string(validateValue)
            result.append(KeyValue(key, value))
        }
        return result
    }
}

/// The checked entries of one mapping.
struct YAMLMapping {
    let owner: YAMLField
    let fields: [(String, YAMLField)]

    /// The field, or nil when absent or explicitly null.
    subscript(key: String) -> YAMLField? {
        guard let field = fields.first(where: { $0.0 == key })?.1, !field.isNull else { return nil }
        return field
    }

    func required(_ key: String, hint: String? = nil) throws(RecipeError) -> YAMLField {
        guard let field = self[key] else {
            let where_ = owner.path.isEmpty ? "the recipe" : owner.path
            throw owner.error("\(where_) is missing required key '\(key)'", hint: hint)
        }
        return field
    }
}

enum Suggest {
    /// The allowed word nearest to `word`, if it is close enough to be a typo.
    static func closest(to word: String, among candidates: [String]) -> String? {
        let scored = candidates.map { ($0, distance(word.lowercased(), $0)) }
        guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
        return best.1 <= max(2, word.count / 3) ? best.0 : nil
    }

    /// Levenshtein distance.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = previous
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
