import Crypto
import Foundation

/// A Sigstore bundle v0.3 in the protobuf-specs JSON form, the key-based kind cosign 3 writes
/// with a key of its own: the key named by a hint, no certificate, no transparency-log entry.
public struct SigstoreBundle: Sendable, Codable, Equatable {
    public static let mediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"

    public struct VerificationMaterial: Sendable, Codable, Equatable {
        public struct PublicKey: Sendable, Codable, Equatable {
            public var hint: String
        }
        public var publicKey: PublicKey
        /// Empty in what harden writes; protobuf's JSON form may leave an empty list out.
        public var tlogEntries: [TransparencyLogEntry]?

        /// Never written by harden; kept so that a bundle with entries still reads.
        public struct TransparencyLogEntry: Sendable, Codable, Equatable {
            public var logIndex: String?
        }
    }

    /// A signature over a message digest: what `cosign sign-blob` writes.
    public struct MessageSignature: Sendable, Codable, Equatable {
        public struct MessageDigest: Sendable, Codable, Equatable {
            public var algorithm: String
            public var digest: String
        }
        public var messageDigest: MessageDigest
        public var signature: String
    }

    public var mediaType: String
    public var verificationMaterial: VerificationMaterial
    public var dsseEnvelope: DSSEEnvelope?
    public var messageSignature: MessageSignature?

    /// How the bundle names a key: base64 of the SHA-256 of its DER SubjectPublicKeyInfo.
    public static func hint(for key: P256.Signing.PublicKey) -> String {
        Data(SHA256.hash(data: key.derRepresentation)).base64EncodedString()
    }

    /// A bundle of `envelope`, naming the key that signed it.
    public init(envelope: DSSEEnvelope, signedBy key: P256.Signing.PublicKey) {
        self.mediaType = Self.mediaType
        self.verificationMaterial = VerificationMaterial(publicKey: .init(hint: Self.hint(for: key)), tlogEntries: [])
        self.dsseEnvelope = envelope
        self.messageSignature = nil
    }

    /// The bundle's JSON, keys sorted.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// `dsse-envelope` or `message-signature`: the value of the `dev.sigstore.bundle.content` annotation.
    public var content: String { dsseEnvelope != nil ? "dsse-envelope" : "message-signature" }
}
