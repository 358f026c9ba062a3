import Foundation

/// `.dockerignore` rules, matched the way Docker matches them: patterns are
/// cleaned paths relative to the context, `*` and `?` stay within one path
/// element, `**` spans any number of them, `!` re-includes, the last matching
/// rule wins, and a rule that matches a directory matches everything in it.
public struct DockerIgnore {
    struct Rule {
        var regex: Regex<Substring>
        var exclude: Bool
        var pattern: String
    }

    private var rules: [Rule]

    public var isEmpty: Bool { rules.isEmpty }
    /// Whether any rule re-includes, so excluded directories must still be walked.
    public var hasExceptions: Bool { rules.contains { !$0.exclude } }

    public init(text: String) {
        rules = []
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            var line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            var exclude = true
            if line.hasPrefix("!") {
                exclude = false
                line = String(line.dropFirst()).trimmingCharacters(in: .whitespaces)
            }
            let cleaned = Self.clean(line)
            if cleaned.isEmpty || cleaned == "." { continue }
            guard let regex = try? Regex<Substring>(Self.regexSource(cleaned)) else { continue }
            rules.append(Rule(regex: regex, exclude: exclude, pattern: cleaned))
        }
    }

    /// Loads `<context>/.dockerignore`, or no rules when there is none.
    public init(contextDirectory: URL) {
        let file = contextDirectory.appendingPathComponent(".dockerignore")
        self.init(text: (try? String(contentsOf: file, encoding: .utf8)) ?? "")
    }

    /// Whether `path` (relative to the context, `/`-separated) is left out of the context.
    public func excludes(_ path: String) -> Bool {
        var excluded = false
        let parents = Self.parentPaths(of: path)
        for rule in rules {
            let matched =
                (try? rule.regex.wholeMatch(in: path)) != nil
                || parents.contains { (try? rule.regex.wholeMatch(in: $0)) != nil }
            if matched { excluded = rule.exclude }
        }
        return excluded
    }

    private static func parentPaths(of path: String) -> [String] {
        var parents: [String] = []
        var current = ""
        for component in path.split(separator: "/").dropLast() {
            current = current.isEmpty ? String(component) : current + "/" + component
            parents.append(current)
        }
        return parents
    }

    /// filepath.Clean, plus dropping a leading `/` (patterns are relative to the context root).
    static func clean(_ pattern: String) -> String {
        var parts: [Substring] = []
        for part in pattern.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                if !parts.isEmpty { parts.removeLast() }
                continue
            }
            parts.append(part)
        }
        return parts.joined(separator: "/")
    }

    static func regexSource(_ pattern: String) -> String {
        var out = "^"
        let characters = Array(pattern)
        var index = 0
        while index < characters.count {
            let character = characters[index]
            switch character {
            case "*":
                if index + 1 < characters.count, characters[index + 1] == "*" {
                    index += 1
                    if index + 1 < characters.count, characters[index + 1] == "/" {
                        index += 1
                        out += "(?:.*/)?"
                    } else {
                        out += ".*"
                    }
                } else {
                    out += "[^/]*"
                }
            case "?":
                out += "[^/]"
            case "[":
                if let close = characters[(index + 1)...].firstIndex(of: "]") {
                    var body = String(characters[(index + 1)..<close])
                    if body.hasPrefix("^") || body.hasPrefix("!") { body = "^" + body.dropFirst() }
                    out += "[" + body.replacingOccurrences(of: "\\", with: "\\\\") + "]"
                    index = close
                } else {
                    out += "\\["
                }
            case "\\":
                index += 1
                if index < characters.count { out += NSRegularExpression.escapedPattern(for: String(characters[index])) }
            default:
                out += NSRegularExpression.escapedPattern(for: String(character))
            }
            index += 1
        }
        return out + "$"
    }
}
