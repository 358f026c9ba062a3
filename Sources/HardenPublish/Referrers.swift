import Foundation
import HardenImage
import HardenRegistry

/// One artifact that refers to an image manifest (OCI 1.1 `subject`), as a referrers index lists it.
public struct Referrer: Sendable, Codable, Equatable {
    public var mediaType: String
    public var digest: String
    public var size: Int64
    public var artifactType: String?
    public var annotations: [String: String]?

    public init(
        mediaType: String, digest: String, size: Int64, artifactType: String? = nil, annotations: [String: String]? = nil
    ) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.artifactType = artifactType
        self.annotations = annotations
    }
}

/// Where the referrers of an image were found.
public enum ReferrersSource: String, Sendable, Codable {
    /// `GET /v2/<repo>/referrers/<digest>`.
    case referrersAPI = "referrers API"
    /// The referrers tag schema: an image index tagged `sha256-<hex>`.
    case tagIndex = "sha256-<hex> tag index"
}

/// Artifacts attached to an image as OCI 1.1 referrers: a manifest with the empty config, one
/// layer and `subject` = the image; listed by the registry's referrers API or, where the
/// registry has none, in the `sha256-<hex>` tag index harden keeps up to date.
public enum Referrers {
    /// The OCI empty descriptor's content: `{}`.
    public static let emptyConfig = Data("{}".utf8)
    public static let emptyMediaType = "application/vnd.oci.empty.v1+json"

    /// A manifest attaching one blob to `subject`, keys sorted.
    public static func artifactManifest(
        artifactType: String, layer: Data, layerTitle: String, subject: Referrer, annotations: [String: String]
    ) throws -> Data {
        let manifest = ArtifactManifest(
            schemaVersion: 2, mediaType: MediaType.ociManifest, artifactType: artifactType,
            config: .init(mediaType: emptyMediaType, digest: sha256(emptyConfig), size: 2),
            layers: [
                .init(
                    mediaType: artifactType, digest: sha256(layer), size: Int64(layer.count),
                    annotations: ["org.opencontainers.image.title": layerTitle])
            ],
            subject: .init(mediaType: subject.mediaType, digest: subject.digest, size: subject.size),
            annotations: annotations)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(manifest)
    }

    /// Pushes `layer` and the manifest attaching it to `subject` in `repository`, then makes
    /// it findable: nothing more where the registry has the referrers API, else an entry added
    /// to the `sha256-<hex>` tag index (read, modified, written back: other entries are kept).
    public static func attach(
        artifactType: String, layer: Data, layerTitle: String, annotations: [String: String], subject: Referrer,
        in repository: ImageReference, client: RegistryClient
    ) async throws(RegistryError) -> (referrer: Referrer, source: ReferrersSource) {
        let manifest: Data
        do {
            manifest = try artifactManifest(
                artifactType: artifactType, layer: layer, layerTitle: layerTitle, subject: subject, annotations: annotations)
        } catch {
            throw RegistryError(.unexpectedResponse, "cannot encode the artifact manifest: \(error)")
        }
        for blob in [emptyConfig, layer] where !(try await client.hasBlob(sha256(blob), in: repository)) {
            try await client.uploadBlob(sha256(blob), bytes: blob, to: repository)
        }
        let referrer = Referrer(
            mediaType: MediaType.ociManifest, digest: sha256(manifest), size: Int64(manifest.count),
            artifactType: artifactType, annotations: annotations)
        let stored = try await client.putManifest(
            manifest, mediaType: MediaType.ociManifest, to: repository.pinned(referrer.digest))
        if let stored, stored != referrer.digest {
            throw RegistryError(
                .unexpectedResponse,
                "\(repository.apiHost) (\(repository.repository)) stored the artifact manifest as \(stored), not \(referrer.digest)",
                hint: "the registry rewrote the manifest; it cannot hold signatures harden can find again")
        }
        if try await client.referrers(of: subject.digest, in: repository) != nil { return (referrer, .referrersAPI) }
        try await addToTagIndex(referrer, subject: subject.digest, in: repository, client: client)
        return (referrer, .tagIndex)
    }

    /// The referrers of `subject`: from the referrers API, else from the tag index (none when
    /// the tag is missing). An index that is not one is an error naming the tag.
    public static func list(
        _ subject: String, in repository: ImageReference, client: RegistryClient
    ) async throws(RegistryError) -> (referrers: [Referrer], source: ReferrersSource) {
        if let index = try await client.referrers(of: subject, in: repository) {
            return (
                try decodeIndex(index, what: "the referrers API's answer for \(subject)", repository).referrers, .referrersAPI
            )
        }
        let tag = tagName(for: subject)
        guard let fetched = try await client.fetchManifest(repository.tagged(tag)) else { return ([], .tagIndex) }
        return (try decodeIndex(fetched.bytes, what: "the referrers tag \(tag)", repository).referrers, .tagIndex)
    }

    /// `sha256-<hex>`: the tag the referrers tag schema gives a subject's index.
    public static func tagName(for digest: String) -> String { digest.replacingOccurrences(of: ":", with: "-") }

    private static func addToTagIndex(
        _ referrer: Referrer, subject: String, in repository: ImageReference, client: RegistryClient
    ) async throws(RegistryError) {
        let tag = tagName(for: subject)
        var document: [String: Any] = ["schemaVersion": 2, "mediaType": MediaType.ociIndex, "manifests": [Any]()]
        if let existing = try await client.fetchManifest(repository.tagged(tag)) {
            document = try decodeIndex(existing.bytes, what: "the referrers tag \(tag)", repository).document
        }
        var entries = document["manifests"] as? [Any] ?? []
        let listed = entries.contains { ($0 as? [String: Any])?["digest"] as? String == referrer.digest }
        if listed { return }
        var entry: [String: Any] = [
            "mediaType": referrer.mediaType, "digest": referrer.digest, "size": referrer.size,
        ]
        entry["artifactType"] = referrer.artifactType
        entry["annotations"] = referrer.annotations
        entries.append(entry)
        document["manifests"] = entries
        let bytes: Data
        do {
            bytes = try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .withoutEscapingSlashes])
        } catch {
            throw RegistryError(.unexpectedResponse, "cannot encode the referrers index \(tag): \(error)")
        }
        _ = try await client.putManifest(bytes, mediaType: MediaType.ociIndex, to: repository.tagged(tag))
    }

    /// An index's entries, and the whole document as JSON values so that what other tools put
    /// in it survives a rewrite.
    private static func decodeIndex(
        _ bytes: Data, what: String, _ repository: ImageReference
    ) throws(RegistryError) -> (referrers: [Referrer], document: [String: Any]) {
        let object = try? JSONSerialization.jsonObject(with: bytes) as? [String: Any]
        let entries = object?["manifests"] as? [Any]
        let mediaType = object?["mediaType"] as? String
        guard let object, let entries, mediaType == nil || mediaType == MediaType.ociIndex else {
            throw RegistryError(
                .unexpectedResponse,
                "\(repository.apiHost) (\(repository.repository)): \(what) is not an OCI image index "
                    + "(\(bytes.count) bytes starting \(String(decoding: bytes.prefix(40), as: UTF8.self).debugDescription))",
                hint: "harden leaves it as it is; inspect it with `skopeo inspect --raw`, "
                    + "and delete or repair the tag before signing again")
        }
        var referrers: [Referrer] = []
        for case let entry as [String: Any] in entries {
            guard let digest = entry["digest"] as? String, let mediaType = entry["mediaType"] as? String else { continue }
            referrers.append(
                Referrer(
                    mediaType: mediaType, digest: digest, size: (entry["size"] as? NSNumber)?.int64Value ?? 0,
                    artifactType: entry["artifactType"] as? String, annotations: entry["annotations"] as? [String: String]))
        }
        return (referrers, object)
    }

    static func sha256(_ data: Data) -> String { Digest.sha256(data).description }
}

/// An OCI 1.1 artifact manifest, in the field order of the spec (keys are sorted when encoded).
struct ArtifactManifest: Codable {
    struct Entry: Codable {
        var mediaType: String
        var digest: String
        var size: Int64
        var annotations: [String: String]?
    }
    var schemaVersion: Int
    var mediaType: String
    var artifactType: String
    var config: Entry
    var layers: [Entry]
    var subject: Entry
    var annotations: [String: String]
}
