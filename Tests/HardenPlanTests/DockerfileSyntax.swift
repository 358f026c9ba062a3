import Foundation

/// An independent reader of the Dockerfiles harden renders, following Docker's
/// rules closely enough to notice any structural change a value could cause:
/// line continuations, heredocs, parser directives, a broken quote or JSON array.
struct ParsedInstruction: Equatable {
    var keyword: String
    var rest: String
}

enum DockerfileSyntax {
    struct Problem: Error, CustomStringConvertible {
        var description: String
    }

    static func parse(_ text: String) throws -> [ParsedInstruction] {
        var instructions: [ParsedInstruction] = []
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        for (number, rawLine) in lines.enumerated() {
            let line = String(rawLine)
            if line.contains("\r") { throw Problem(description: "line \(number + 1) contains a carriage return") }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            if trimmed.hasPrefix("#") {
                if trimmed.firstMatch(of: /^#\s*[A-Za-z][A-Za-z0-9]*\s*=/) != nil {
                    throw Problem(description: "line \(number + 1) is a parser directive: \(trimmed)")
                }
                continue
            }
            if trimmed.hasSuffix("\\") { throw Problem(description: "line \(number + 1) continues onto the next line") }
            guard let space = trimmed.firstIndex(of: " ") else {
                throw Problem(description: "line \(number + 1) has no arguments")
            }
            let keyword = String(trimmed[..<space])
            let rest = String(trimmed[trimmed.index(after: space)...])
            if rest.contains("<<") && !rest.hasPrefix("[") && keyword == "RUN" {
                throw Problem(description: "line \(number + 1) may start a heredoc")
            }
            instructions.append(ParsedInstruction(keyword: keyword, rest: rest))
        }
        return instructions
    }

    /// Decodes an exec-form JSON array.
    static func jsonArray(_ text: String) throws -> [String] {
        guard let array = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String] else {
            throw Problem(description: "not a JSON array of strings: \(text)")
        }
        return array
    }

    /// Splits `"key"="value"` / `KEY="value"` the way Docker reads a double-quoted word:
    /// inside quotes a backslash escapes `"`, `\` and `$`. Throws if anything is left over.
    static func keyValue(_ text: String) throws -> (String, String) {
        var characters = Array(text)[...]
        func word() throws -> String {
            var out = ""
            if characters.first == "\"" {
                characters = characters.dropFirst()
                while let character = characters.first {
                    characters = characters.dropFirst()
                    if character == "\"" { return out }
                    if character == "\\", let next = characters.first, "\"\\$".contains(next) {
                        out.append(next)
                        characters = characters.dropFirst()
                    } else if character == "$" {
                        throw Problem(description: "unescaped $ in \(text)")
                    } else {
                        out.append(character)
                    }
                }
                throw Problem(description: "unterminated quote in \(text)")
            }
            while let character = characters.first, character != "=" {
                if " \"'\\$".contains(character) { throw Problem(description: "bad unquoted key in \(text)") }
                out.append(character)
                characters = characters.dropFirst()
            }
            return out
        }
        let key = try word()
        guard characters.first == "=" else { throw Problem(description: "no '=' in \(text)") }
        characters = characters.dropFirst()
        let value = try word()
        guard characters.isEmpty else { throw Problem(description: "text after the value in \(text)") }
        return (key, value)
    }
}
