import Foundation

/// A planning or build failure. `kind` decides the exit status.
public struct BuildError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable {
        /// Bad input or environment (exit 2).
        case input
        /// A build step or policy failed (exit 1).
        case failed
        /// Stopped by a signal.
        case interrupted
    }
    public var kind: Kind
    public var message: String
    public var hint: String?

    public init(_ kind: Kind, _ message: String, hint: String? = nil) {
        self.kind = kind
        self.message = message
        self.hint = hint
    }

    public var description: String { message + (hint.map { "\n  hint: \($0)" } ?? "") }
}
