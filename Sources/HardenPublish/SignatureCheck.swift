import Crypto
import Foundation
import HardenImage
import HardenRegistry
import HardenSigning

/// A signature or attestation found for an image, and whether it holds for the key asked about.
public struct FoundSignature: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable {
        case signature
        case attestation
    }
    public var kind: Kind
    /// The in-toto predicate type; `https://sigstore.dev/cosign/sign/v1` for an image signature.
    public var predicateType: String?
    /// `sigstore-bundle`, `cosign-simple-signing` or `cosign-dsse`.
    public var format: String
    /// Where it was found: the referrers API or the tag index and the artifact's digest, or a legacy tag's layer.
    public var location: String
    /// The manifest digest the signed payload names.
    public var signedDigest: String?
    public var created: String?
    public var valid: Bool
    /// Why it does not hold, when it does not.
    public var problem: String?
}

/// Finds the signatures and attestations of an image manifest — Sigstore bundles among its
/// referrers (API, then the tag index), then cosign 2's `sha256-<hex>.sig` and `.att` tags — and
/// checks each against the manifest digest and a public key.
public enum SignatureCheck {
    public static let signaturePredicateType = "https://sigstore.dev/cosign/sign/v1"
    public static let legacyAttestationMediaType = "application/vnd.dsse.envelope.v1+json"
    public static let legacySignatureAnnotation = "dev.cosignproject.cosign/signature"

    public static func find(
        _ subject: String, in repository: ImageReference, key: P256.Signing.PublicKey, client: RegistryClient,
        predicateTypes: Set<String>? = nil
    ) async throws(RegistryError) -> [FoundSignature] {
        var found: [FoundSignature] = []
        let (referrers, source) = try await Referrers.list(subject, in: repository, client: client)
        for referrer in referrers where referrer.artifactType == SigstoreBundle.mediaType {
            if let predicateTypes, let annotated = referrer.annotations?["dev.sigstore.bundle.predicateType"],
                !predicateTypes.contains(annotated)
            {
                continue
            }
            found.append(
                try await checkBundle(referrer, source: source, subject: subject, in: repository, key: key, client: client))
        }
        found += try await checkLegacy(subject, in: repository, key: key, client: client)
        return found
    }

    private static func checkBundle(
        _ referrer: Referrer, source: ReferrersSource, subject: String, in repository: ImageReference,
        key: P256.Signing.PublicKey, client: RegistryClient
    ) async throws(RegistryError) -> FoundSignature {
        let annotated = referrer.annotations?["dev.sigstore.bundle.predicateType"]
        // Until the statement is read, the annotation says what it claims to be.
        var result = FoundSignature(
            kind: annotated == signaturePredicateType ? .signature : .attestation, predicateType: annotated,
            format: "sigstore-bundle", location: "\(source.rawValue): \(referrer.digest)", signedDigest: nil,
            created: referrer.annotations?["org.opencontainers.image.created"], valid: false, problem: nil)
        func refuse(_ problem: String) -> FoundSignature {
            result.problem = problem
            return result
        }
        guard let manifest = try await client.fetchManifest(repository.pinned(referrer.digest)) else {
            return refuse("listed, but the registry has no manifest \(referrer.digest)")
        }
        guard let artifact = try? JSONDecoder().decode(ArtifactManifest.self, from: manifest.bytes),
            let layer = artifact.layers.first, artifact.layers.count == 1
        else {
            return refuse("the manifest \(referrer.digest) is not an artifact manifest with one layer")
        }
        guard artifact.subject.digest == subject else {
            return refuse("the artifact's subject is \(artifact.subject.digest), not the image")
        }
        let blob = try await client.fetchBlob(layer.digest, in: repository)
        guard let bundle = try? JSONDecoder().decode(SigstoreBundle.self, from: blob),
            bundle.mediaType.hasPrefix("application/vnd.dev.sigstore.bundle")
        else {
            return refuse("blob \(layer.digest) is not a Sigstore bundle")
        }
        guard let envelope = bundle.dsseEnvelope else {
            return refuse("a message-signature bundle: harden checks DSSE bundles, as cosign 3 writes for images")
        }
        let expected = SigstoreBundle.hint(for: key)
        guard let payload = envelope.verifiedPayload(with: key) else {
            let hint = bundle.verificationMaterial.publicKey.hint
            return refuse(
                hint == expected
                    ? "the DSSE signature does not verify with the key: the bundle was altered"
                    : "signed with another key (hint \(hint), this key's is \(expected))")
        }
        return judge(statement: payload, type: envelope.payloadType, subject: subject, into: result)
    }

    /// A verified in-toto statement: valid when one of its subjects is the image.
    private static func judge(statement: Data, type: String, subject: String, into found: FoundSignature) -> FoundSignature {
        var found = found
        guard type == DSSEEnvelope.inTotoPayloadType, let read = InTotoStatement.decode(statement) else {
            found.problem = "the signed payload is not an in-toto statement v1 (\(type))"
            return found
        }
        found.predicateType = read.predicateType
        found.kind = read.predicateType == signaturePredicateType ? .signature : .attestation
        found.signedDigest = read.subjects.first?.digest
        guard read.subjects.contains(where: { $0.digest == subject }) else {
            found.problem = "the signed statement names \(read.subjects.map(\.digest).joined(separator: ", ")), not \(subject)"
            return found
        }
        found.signedDigest = subject
        found.valid = true
        return found
    }

    /// Cosign 2's tags: `.sig` (simple-signing payloads, signature in an annotation) and `.att`
    /// (DSSE envelopes).
    private static func checkLegacy(
        _ subject: String, in repository: ImageReference, key: P256.Signing.PublicKey, client: RegistryClient
    ) async throws(RegistryError) -> [FoundSignature] {
        var found: [FoundSignature] = []
        for suffix in ["sig", "att"] {
            let tag = Referrers.tagName(for: subject) + "." + suffix
            guard let manifest = try await client.fetchManifest(repository.tagged(tag)) else { continue }
            guard let parsed = try? JSONDecoder().decode(ArtifactLayers.self, from: manifest.bytes) else {
                found.append(
                    FoundSignature(
                        kind: suffix == "sig" ? .signature : .attestation, predicateType: nil, format: "cosign-" + suffix,
                        location: "tag \(tag)", signedDigest: nil, created: nil, valid: false,
                        problem: "the tag \(tag) is not an image manifest"))
                continue
            }
            for (position, layer) in parsed.layers.enumerated() {
                let location = "tag \(tag) layer \(position)"
                if suffix == "sig", layer.mediaType == SimpleSigning.mediaType {
                    let payload = try await client.fetchBlob(layer.digest, in: repository)
                    found.append(
                        checkSimpleSigning(
                            payload, signature: layer.annotations?[legacySignatureAnnotation], subject: subject,
                            location: location, key: key))
                } else if suffix == "att", layer.mediaType == legacyAttestationMediaType {
                    let blob = try await client.fetchBlob(layer.digest, in: repository)
                    var result = FoundSignature(
                        kind: .attestation, predicateType: layer.annotations?["predicateType"], format: "cosign-dsse",
                        location: location, signedDigest: nil, created: nil, valid: false, problem: nil)
                    guard let envelope = try? JSONDecoder().decode(DSSEEnvelope.self, from: blob) else {
                        result.problem = "blob \(layer.digest) is not a DSSE envelope"
                        found.append(result)
                        continue
                    }
                    guard let payload = envelope.verifiedPayload(with: key) else {
                        result.problem = "the DSSE signature does not verify with the key"
                        found.append(result)
                        continue
                    }
                    found.append(judge(statement: payload, type: envelope.payloadType, subject: subject, into: result))
                }
            }
        }
        return found
    }

    private static func checkSimpleSigning(
        _ payload: Data, signature: String?, subject: String, location: String, key: P256.Signing.PublicKey
    ) -> FoundSignature {
        var result = FoundSignature(
            kind: .signature, predicateType: nil, format: "cosign-simple-signing", location: location, signedDigest: nil,
            created: nil, valid: false, problem: nil)
        guard let signature, let der = Data(base64Encoded: signature),
            let parsed = try? P256.Signing.ECDSASignature(derRepresentation: der)
        else {
            result.problem = "no base64 ECDSA signature in the \(legacySignatureAnnotation) annotation"
            return result
        }
        guard key.isValidSignature(parsed, for: payload) else {
            result.problem = "the signature does not verify with the key over the payload"
            return result
        }
        guard let read = SimpleSigning.read(payload) else {
            result.problem = "the signed payload is not a cosign simple-signing payload"
            return result
        }
        result.signedDigest = read.manifestDigest
        guard read.manifestDigest == subject else {
            result.problem = "the signed payload names \(read.manifestDigest), not \(subject)"
            return result
        }
        result.valid = true
        return result
    }
}

/// The layers of a legacy signature manifest, with their annotations.
struct ArtifactLayers: Decodable {
    var layers: [ArtifactManifest.Entry]
}
