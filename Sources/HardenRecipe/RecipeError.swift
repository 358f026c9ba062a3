import Foundation

/// A place in a recipe file; lines and columns count from 1.
public struct SourceLocation: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// A recipe that can't be used: what is wrong, where, and what to do about it.
public struct RecipeError: Error, Sendable, Equatable, CustomStringConvertible {
    public var location: SourceLocation
    public var message: String
    public var hint: String?

    public init(_ location: SourceLocation, _ message: String, hint: String? = nil) {
        self.location = location
        self.message = message
        self.hint = hint
    }

    public var description: String {
        "\(location): error: \(message)" + (hint.map { "\n  hint: \($0)" } ?? "")
    }
}

/// Several recipe errors, reported together so a user fixes them in one pass.
public struct RecipeErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [RecipeError]
    public init(_ errors: [RecipeError]) { self.errors = errors }
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
