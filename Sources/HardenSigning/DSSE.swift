import Crypto
import Foundation

/// A DSSE envelope (Dead Simple Signing Envelope, v1): a payload, its type, and signatures over
/// the pre-authentication encoding of both, never over the payload alone.
public struct DSSEEnvelope: Sendable, Codable, Equatable {
    public struct Signature: Sendable, Codable, Equatable {
        public var keyid: String
        /// Base64 of the DER-encoded ECDSA signature.
        public var sig: String

        public init(keyid: String, sig: String) {
            self.keyid = keyid
            self.sig = sig
        }
    }

    /// Base64 of the payload's bytes.
    public var payload: String
    public var payloadType: String
    public var signatures: [Signature]

    public static let inTotoPayloadType = "application/vnd.in-toto+json"

    /// `DSSEv1 <len(type)> <type> <len(body)> <body>`: the bytes a signature covers.
    public static func preAuthenticationEncoding(type: String, body: Data) -> Data {
        var encoded = Data("DSSEv1 \(type.utf8.count) \(type) \(body.count) ".utf8)
        encoded.append(body)
        return encoded
    }

    /// Signs `body` with `key`; `keyid` is left empty, as cosign leaves it (the bundle names the key).
    public static func sign(_ body: Data, type: String, with key: P256.Signing.PrivateKey) throws -> DSSEEnvelope {
        let signature = try key.signature(for: preAuthenticationEncoding(type: type, body: body))
        return DSSEEnvelope(
            payload: body.base64EncodedString(), payloadType: type,
            signatures: [Signature(keyid: "", sig: signature.derRepresentation.base64EncodedString())])
    }

    /// The payload's bytes when one of the signatures is `key`'s over this payload and type; nil otherwise.
    public func verifiedPayload(with key: P256.Signing.PublicKey) -> Data? {
        guard let body = Data(base64Encoded: payload) else { return nil }
        let signed = Self.preAuthenticationEncoding(type: payloadType, body: body)
        for signature in signatures {
            guard let der = Data(base64Encoded: signature.sig),
                let parsed = try? P256.Signing.ECDSASignature(derRepresentation: der)
            else { continue }
            if key.isValidSignature(parsed, for: signed) { return body }
        }
        return nil
    }
}

/// An in-toto Statement v1: what is attested (subjects by digest) and the predicate saying it.
public enum InTotoStatement {
    public static let type = "https://in-toto.io/Statement/v1"

    public struct Subject: Sendable, Equatable {
        public var name: String
        /// `sha256:<hex>`.
        public var digest: String

        public init(name: String, digest: String) {
            self.name = name
            self.digest = digest
        }
    }

    /// The statement's JSON, keys sorted so that the same statement is always the same bytes.
    /// `predicate` must be a JSON object.
    public static func encode(subjects: [Subject], predicateType: String, predicate: Data) throws -> Data {
        let predicateObject = try JSONSerialization.jsonObject(with: predicate)
        let statement: [String: Any] = [
            "_type": type,
            "subject": subjects.map { subject -> [String: Any] in
                let (algorithm, hex) = split(subject.digest)
                return ["name": subject.name, "digest": [algorithm: hex]]
            },
            "predicateType": predicateType,
            "predicate": predicateObject,
        ]
        return try JSONSerialization.data(withJSONObject: statement, options: [.sortedKeys, .withoutEscapingSlashes])
    }

    /// A statement read back: its type, subjects and predicate type (the predicate stays bytes).
    public struct Read: Sendable, Equatable {
        public var subjects: [Subject]
        public var predicateType: String
        public var predicate: Data
    }

    public static func decode(_ data: Data) -> Read? {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            object["_type"] as? String == type, let predicateType = object["predicateType"] as? String,
            let subjects = object["subject"] as? [[String: Any]]
        else { return nil }
        var read: [Subject] = []
        for subject in subjects {
            guard let digests = subject["digest"] as? [String: String] else { return nil }
            for (algorithm, hex) in digests.sorted(by: { $0.key < $1.key }) {
                read.append(Subject(name: subject["name"] as? String ?? "", digest: "\(algorithm):\(hex)"))
            }
        }
        let predicate = object["predicate"].flatMap { try? JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]) }
        return Read(subjects: read, predicateType: predicateType, predicate: predicate ?? Data("{}".utf8))
    }

    private static func split(_ digest: String) -> (String, String) {
        guard let colon = digest.firstIndex(of: ":") else { return ("sha256", digest) }
        return (String(digest[..<colon]), String(digest[digest.index(after: colon)...]))
    }
}
