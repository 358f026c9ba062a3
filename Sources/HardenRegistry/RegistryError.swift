/// Why a reference could not be read or a registry could not answer: what went wrong, where, and what to do.
public struct RegistryError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The kind of failure, for callers that act on it.
    public enum Code: Sendable, Equatable {
        /// The image reference does not follow the reference grammar.
        case invalidReference
        /// The docker config file could not be read.
        case invalidCredentialsFile
        /// The registry has no such repository or tag.
        case notFound
        /// The registry asks for credentials and none are configured.
        case credentialsMissing
        /// The registry or its token service refused the credentials given.
        case credentialsRefused
        /// The registry could not be reached: connection refused, unknown host, TLS failure.
        case unreachable
        /// The registry did not answer in time.
        case timedOut
        /// The registry answered something this client does not understand.
        case unexpectedResponse
        /// A file to be sent could not be read.
        case localFile
    }

    public let code: Code
    /// What went wrong and where: the reference and the host.
    public let message: String
    /// What to do about it, when there is something to say.
    public let hint: String?

    public init(_ code: Code, _ message: String, hint: String? = nil) {
        self.code = code
        self.message = message
        self.hint = hint
    }

    public var description: String {
        guard let hint else { return message }
        return "\(message); \(hint)"
    }
}
