/// Why a Debian suite could not be read, resolved or fetched. The message says what (package,
/// file, URL), where, and what to do.
public struct DebianError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        /// A URL could not be fetched, or a file not read.
        case fetch
        /// `InRelease` is not signed by a key of the keyring.
        case signature
        /// The Release file is expired, for another suite, or lacks what is asked.
        case release
        /// A file's size or SHA256 differs from what the signed index says.
        case integrity
        /// A `Packages` index, a Release file or a relation cannot be parsed.
        case syntax
        /// A dependency no package satisfies.
        case unsatisfiable
        /// Two relations want versions of one package that no single version satisfies.
        case conflict
        /// The closure holds a shell or a package manager.
        case forbidden
        /// The cache cannot be written.
        case cache
        /// A package's files leave the image root, are device nodes, or cannot be read.
        case unsafeContent
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
