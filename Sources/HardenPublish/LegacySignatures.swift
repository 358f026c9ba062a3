import Crypto
import Foundation
import HardenImage
import HardenRegistry
import HardenSigning

/// Cosign 2's signature storage, which cosign 2, Ratify and policy controllers of that era
/// read (SIGNATURE_SPEC.md, ATTESTATION_SPEC.md): an image manifest tagged `sha256-<hex>.sig`
/// whose layers are simple-signing payloads with the signature in an annotation, and one
/// tagged `sha256-<hex>.att` whose layers are DSSE envelopes. Layers already there are kept.
enum LegacySignatures {
    static func writeSignature(
        subject: String, in repository: ImageReference, key: P256.Signing.PrivateKey, client: RegistryClient
    ) async throws(RegistryError) -> String {
        let payload = SimpleSigning.payload(dockerReference: repository.name, manifestDigest: subject)
        let signature: String
        do {
            signature = try key.signature(for: payload).derRepresentation.base64EncodedString()
        } catch {
            throw RegistryError(.unexpectedResponse, "cannot sign the simple-signing payload: \(error)")
        }
        let tag = Referrers.tagName(for: subject) + ".sig"
        try await append(
            [(payload, SimpleSigning.mediaType, [SignatureCheck.legacySignatureAnnotation: signature])], tag: tag,
            in: repository, client: client)
        return tag
    }

    static func writeAttestations(
        _ envelopes: [(predicateType: String, envelope: DSSEEnvelope)], subject: String, in repository: ImageReference,
        client: RegistryClient
    ) async throws(RegistryError) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var layers: [(Data, String, [String: String])] = []
        for (predicateType, envelope) in envelopes {
            guard let bytes = try? encoder.encode(envelope) else {
                throw RegistryError(.unexpectedResponse, "cannot encode the DSSE envelope of \(predicateType)")
            }
            layers.append(
                (
                    bytes, SignatureCheck.legacyAttestationMediaType,
                    [SignatureCheck.legacySignatureAnnotation: "", "predicateType": predicateType]
                ))
        }
        let tag = Referrers.tagName(for: subject) + ".att"
        try await append(layers, tag: tag, in: repository, client: client)
        return tag
    }

    /// Uploads the new layers and writes the tag's manifest: the layers it had, then these; the
    /// config lists every layer's digest as a diff ID, as cosign's does.
    private static func append(
        _ added: [(bytes: Data, mediaType: String, annotations: [String: String])], tag: String,
        in repository: ImageReference, client: RegistryClient
    ) async throws(RegistryError) {
        var layers: [[String: Any]] = []
        if let existing = try await client.fetchManifest(repository.tagged(tag)) {
            guard let object = try? JSONSerialization.jsonObject(with: existing.bytes) as? [String: Any],
                let kept = object["layers"] as? [[String: Any]]
            else {
                throw RegistryError(
                    .unexpectedResponse,
                    "\(repository.apiHost) (\(repository.repository)): the tag \(tag) is not an image manifest with layers",
                    hint: "harden leaves it as it is; inspect it with `skopeo inspect --raw`, and delete or repair it")
            }
            layers = kept
        }
        for layer in added {
            let digest = Digest.sha256(layer.bytes).description
            if !(try await client.hasBlob(digest, in: repository)) {
                try await client.uploadBlob(digest, bytes: layer.bytes, to: repository)
            }
            layers.append([
                "mediaType": layer.mediaType, "digest": digest, "size": layer.bytes.count, "annotations": layer.annotations,
            ])
        }
        let config: [String: Any] = [
            "architecture": "", "os": "", "config": [String: Any](),
            "rootfs": ["type": "layers", "diff_ids": layers.compactMap { $0["digest"] as? String }],
        ]
        let configBytes = try json(config, what: "the config of \(tag)")
        let configDigest = Digest.sha256(configBytes).description
        if !(try await client.hasBlob(configDigest, in: repository)) {
            try await client.uploadBlob(configDigest, bytes: configBytes, to: repository)
        }
        let manifest: [String: Any] = [
            "schemaVersion": 2, "mediaType": MediaType.ociManifest,
            "config": ["mediaType": MediaType.ociConfig, "digest": configDigest, "size": configBytes.count],
            "layers": layers,
        ]
        _ = try await client.putManifest(
            try json(manifest, what: "the manifest of \(tag)"), mediaType: MediaType.ociManifest, to: repository.tagged(tag))
    }

    private static func json(_ object: [String: Any], what: String) throws(RegistryError) -> Data {
        do {
            return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        } catch {
            throw RegistryError(.unexpectedResponse, "cannot encode \(what): \(error)")
        }
    }
}
