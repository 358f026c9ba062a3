import Crypto
import Foundation
import HardenImage
import HardenRegistry
import HardenSigning

/// A statement to attest about the image: its predicate type and predicate (a JSON object).
public struct Attestation: Sendable {
    /// A short name for output: `sbom-cyclonedx`, `provenance`, `vex`.
    public var name: String
    public var predicateType: String
    public var predicate: Data

    public init(name: String, predicateType: String, predicate: Data) {
        self.name = name
        self.predicateType = predicateType
        self.predicate = predicate
    }
}

/// What signing attached, or found already attached by the same key.
public struct AttachedSignature: Sendable, Codable, Equatable {
    public var name: String
    public var predicateType: String
    /// The artifact manifest's digest (nil when an existing one was kept).
    public var artifact: String?
    public var source: String
    /// The image was already signed (or attested with this predicate) by this key: nothing was written.
    public var alreadyThere: Bool
    /// The legacy tag also written (`sha256-<hex>.sig`, `.att`).
    public var legacyTag: String?
}

/// Signs an image manifest the way cosign 3 does with a key — a Sigstore bundle holding a DSSE
/// envelope over an in-toto statement whose subject is the manifest digest and whose predicate
/// type is `https://sigstore.dev/cosign/sign/v1` — and attests statements about it the same
/// way, each bundle attached as a referrer. With `legacy`, also cosign 2's `.sig` and `.att` tags.
public enum ImageSigning {
    public static func sign(
        _ subject: Referrer, in repository: ImageReference, key: P256.Signing.PrivateKey, attestations: [Attestation],
        legacy: Bool, client: RegistryClient, now: Date = Date(), progress: @Sendable (String) -> Void = { _ in }
    ) async throws(PushError) -> [AttachedSignature] {
        let statements =
            [Attestation(name: "signature", predicateType: SignatureCheck.signaturePredicateType, predicate: Data("{}".utf8))]
            + attestations
        var attached: [AttachedSignature] = []
        do throws(RegistryError) {
            // What this key already signed for this digest is not signed again.
            let existing = try await SignatureCheck.find(
                subject.digest, in: repository, key: key.publicKey, client: client,
                predicateTypes: Set(statements.map(\.predicateType)))
            let held = Set(existing.filter(\.valid).compactMap { $0.format == "sigstore-bundle" ? $0.predicateType : nil })
            let heldLegacy = Set(existing.filter { $0.valid && $0.format != "sigstore-bundle" }.compactMap(\.predicateType))
            let heldLegacySignature = existing.contains { $0.valid && $0.format == "cosign-simple-signing" }
            var newEnvelopes: [(Attestation, DSSEEnvelope)] = []
            for statement in statements {
                if held.contains(statement.predicateType) {
                    attached.append(
                        AttachedSignature(
                            name: statement.name, predicateType: statement.predicateType, artifact: nil, source: "existing",
                            alreadyThere: true, legacyTag: nil))
                    continue
                }
                progress("sign: \(statement.name) (\(statement.predicateType))")
                let bundle = try bundle(for: statement, subject: subject, repository: repository, key: key)
                let content = try encode(bundle)
                let hex = subject.digest.replacingOccurrences(of: "sha256:", with: "")
                let (referrer, source) = try await Referrers.attach(
                    artifactType: SigstoreBundle.mediaType, layer: content, layerTitle: "sha256-\(hex).sigstore.json",
                    annotations: [
                        "dev.sigstore.bundle.content": bundle.content,
                        "dev.sigstore.bundle.predicateType": statement.predicateType,
                        "org.opencontainers.image.created": Self.timestamp(now),
                    ], subject: subject, in: repository, client: client)
                attached.append(
                    AttachedSignature(
                        name: statement.name, predicateType: statement.predicateType, artifact: referrer.digest,
                        source: source.rawValue, alreadyThere: false, legacyTag: nil))
                if let envelope = bundle.dsseEnvelope { newEnvelopes.append((statement, envelope)) }
            }
            guard legacy else { return attached }
            if !heldLegacySignature {
                let tag = try await LegacySignatures.writeSignature(
                    subject: subject.digest, in: repository, key: key, client: client)
                mark(&attached, name: "signature", tag: tag)
            }
            let legacyAttestations = attestations.filter { !heldLegacy.contains($0.predicateType) }
            if !legacyAttestations.isEmpty {
                let envelopes = try legacyAttestations.map { statement throws(RegistryError) in
                    (statement.predicateType, try envelope(for: statement, subject: subject, repository: repository, key: key))
                }
                let tag = try await LegacySignatures.writeAttestations(
                    envelopes, subject: subject.digest, in: repository, client: client)
                for statement in legacyAttestations { mark(&attached, name: statement.name, tag: tag) }
            }
        } catch {
            throw PushError("signing \(subject.digest) in \(repository.name): \(error.message)", hint: error.hint)
        }
        return attached
    }

    private static func mark(_ attached: inout [AttachedSignature], name: String, tag: String) {
        for index in attached.indices where attached[index].name == name { attached[index].legacyTag = tag }
    }

    static func envelope(
        for statement: Attestation, subject: Referrer, repository: ImageReference, key: P256.Signing.PrivateKey
    ) throws(RegistryError) -> DSSEEnvelope {
        do {
            let body = try InTotoStatement.encode(
                subjects: [.init(name: repository.name, digest: subject.digest)], predicateType: statement.predicateType,
                predicate: statement.predicate)
            return try DSSEEnvelope.sign(body, type: DSSEEnvelope.inTotoPayloadType, with: key)
        } catch {
            throw RegistryError(.unexpectedResponse, "cannot sign the \(statement.name) statement: \(error)")
        }
    }

    private static func bundle(
        for statement: Attestation, subject: Referrer, repository: ImageReference, key: P256.Signing.PrivateKey
    ) throws(RegistryError) -> SigstoreBundle {
        SigstoreBundle(
            envelope: try envelope(for: statement, subject: subject, repository: repository, key: key), signedBy: key.publicKey)
    }

    private static func encode(_ bundle: SigstoreBundle) throws(RegistryError) -> Data {
        do { return try bundle.encoded() } catch {
            throw RegistryError(.unexpectedResponse, "cannot encode the bundle: \(error)")
        }
    }

    /// RFC 3339 in UTC with milliseconds, as cosign writes `org.opencontainers.image.created`.
    static func timestamp(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let milliseconds = Int((date.timeIntervalSince1970 - Double(seconds)) * 1000)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
            Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), milliseconds)
    }
}
