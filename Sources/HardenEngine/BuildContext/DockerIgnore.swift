import Foundation

/// `.dockerignore` rules, matched the way Docker matches them: patterns are
/// cleaned paths relative to the context, `*` and `?` stay within one path
/// element, `**` spans any number of them, `!` re-includes, the last matching
/// rule wins, and a rule that matches a directory matches everything in it.
public struct DockerIgnore {
    struct Rule {
        var glob: GlobPattern
        var exclude: Bool
        var pattern: String
    }

    private var rules: [Rule]

    public var isEmpty: Bool { rules.isEmpty }
    /// Whether any rule re-includes.
    public var hasExceptions: Bool { rules.contains { !$0.exclude } }

    /// Whether an excluded directory must still be walked: as Docker decides it, only when
    /// a `!` pattern starts with the directory's path (`!build/keep.sh` for `build`).
    /// A pattern such as `!**/*.sh` does not reach into an excluded directory.
    public func mayReinclude(inside directory: String) -> Bool {
        let prefix = directory + "/"
        return rules.contains { !$0.exclude && ($0.pattern + "/").hasPrefix(prefix) }
    }

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
            rules.append(Rule(glob: GlobPattern(cleaned), exclude: exclude, pattern: cleaned))
        }
    }

    /// Adds a `!path` rule: the file is sent whatever the rules before say (as the client does
    /// for the Dockerfile and `.dockerignore` itself).
    public mutating func keep(_ path: String) {
        let cleaned = Self.clean(path)
        rules.append(Rule(glob: GlobPattern(cleaned), exclude: false, pattern: cleaned))
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
            let matched = rule.glob.matches(path) || parents.contains { rule.glob.matches($0) }
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
}

/// A `.dockerignore` pattern, matched against a whole `/`-separated path the way Docker's
/// pattern matcher does. Hand-written rather than a regular expression: each build checks
/// every context path against every rule, and building Swift regexes costs milliseconds.
struct GlobPattern {
    enum Token: Equatable {
        case literal(Unicode.Scalar)
        /// `*`: any run of characters within one path element.
        case star
        /// `?`: one character other than `/`.
        case one
        /// `**`: anything, `/` included.
        case anything
        /// `**/`: nothing, or anything that ends with `/`.
        case directories
        /// `[…]`: one character in (or, `negated`, not in) the ranges.
        case set([ClosedRange<Unicode.Scalar>], negated: Bool)
    }

    let tokens: [Token]

    init(_ pattern: String) {
        let characters = Array(pattern.unicodeScalars)
        var tokens: [Token] = []
        var index = 0
        while index < characters.count {
            let character = characters[index]
            switch character {
            case "*":
                if index + 1 < characters.count, characters[index + 1] == "*" {
                    index += 1
                    if index + 1 < characters.count, characters[index + 1] == "/" {
                        index += 1
                        tokens.append(.directories)
                    } else {
                        tokens.append(.anything)
                    }
                } else {
                    tokens.append(.star)
                }
            case "?":
                tokens.append(.one)
            case "[":
                if let close = characters[(index + 1)...].firstIndex(of: "]") {
                    var body = Array(characters[(index + 1)..<close])
                    let negated = body.first == "^" || body.first == "!"
                    if negated { body.removeFirst() }
                    var ranges: [ClosedRange<Unicode.Scalar>] = []
                    var position = 0
                    while position < body.count {
                        if position + 2 < body.count, body[position + 1] == "-", body[position] <= body[position + 2] {
                            ranges.append(body[position]...body[position + 2])
                            position += 3
                        } else {
                            ranges.append(body[position]...body[position])
                            position += 1
                        }
                    }
                    tokens.append(.set(ranges, negated: negated))
                    index = close
                } else {
                    tokens.append(.literal("["))
                }
            case "\\":
                index += 1
                if index < characters.count { tokens.append(.literal(characters[index])) }
            default:
                tokens.append(.literal(character))
            }
            index += 1
        }
        self.tokens = tokens
    }

    func matches(_ path: String) -> Bool {
        Self.match(tokens[...], Array(path.unicodeScalars)[...])
    }

    private static func match(_ tokens: ArraySlice<Token>, _ text: ArraySlice<Unicode.Scalar>) -> Bool {
        guard let token = tokens.first else { return text.isEmpty }
        let rest = tokens.dropFirst()
        switch token {
        case .literal(let character):
            return text.first == character && match(rest, text.dropFirst())
        case .one:
            guard let first = text.first, first != "/" else { return false }
            return match(rest, text.dropFirst())
        case .set(let ranges, let negated):
            guard let first = text.first, ranges.contains(where: { $0.contains(first) }) != negated else { return false }
            return match(rest, text.dropFirst())
        case .star:
            var remaining = text
            while true {
                if match(rest, remaining) { return true }
                guard let first = remaining.first, first != "/" else { return false }
                remaining = remaining.dropFirst()
            }
        case .anything:
            var remaining = text
            while true {
                if match(rest, remaining) { return true }
                guard !remaining.isEmpty else { return false }
                remaining = remaining.dropFirst()
            }
        case .directories:
            if match(rest, text) { return true }
            var remaining = text
            while let first = remaining.first {
                remaining = remaining.dropFirst()
                if first == "/", match(rest, remaining) { return true }
            }
            return false
        }
    }
}
