import Crypto
import Foundation

/// A content digest as the OCI image spec writes it: `sha256:<64 hex>`.
public struct Digest: Sendable, Hashable, Codable, CustomStringConvertible {
    public let hex: String

    public init?(_ string: String) {
        guard string.hasPrefix("sha256:") else { return nil }
        let hex = String(string.dropFirst(7))
        guard hex.count == 64, hex.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else { return nil }
        self.hex = hex
    }

    public static func sha256(_ data: some DataProtocol) -> Digest {
        Digest(hex: SHA256.hash(data: data).hexString)
    }

    /// From hex this file made itself (already lowercase, 64 digits).
    fileprivate init(hex: String) { self.hex = hex }

    public var description: String { "sha256:\(hex)" }

    public init(from decoder: any Decoder) throws {
        let string = try decoder.singleValueContainer().decode(String.self)
        guard let digest = Digest(string) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "'\(string)' is not a sha256 digest"))
        }
        self = digest
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

extension SHA256.Digest {
    /// Lowercase hex, as digests are written.
    public var hexString: String {
        String(unsafeUninitializedCapacity: 2 * Self.byteCount) { buffer in
            var index = 0
            for byte in self {
                buffer[index] = hexDigits[Int(byte >> 4)]
                buffer[index + 1] = hexDigits[Int(byte & 0xF)]
                index += 2
            }
            return index
        }
    }
}

private let hexDigits = Array("0123456789abcdef".utf8)

/// Streaming sha256 over any bytes (files, context entries).
public struct Hasher256 {
    private var state = SHA256()
    public init() {}
    public mutating func update(_ data: some DataProtocol) { state.update(data: data) }
    public mutating func update(_ string: String) { state.update(data: Data(string.utf8)) }
    public func finalize() -> Digest { Digest(hex: state.finalize().hexString) }
}
