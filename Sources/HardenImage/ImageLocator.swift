import Foundation
import HardenArchive

/// One layer to read: where its blob is, what it must hash to, and which step made it.
public struct LayerRef: Sendable, Equatable {
    public var index: Int
    /// The member holding the blob (`blobs/sha256/…`, `<id>/layer.tar`).
    public var member: String
    /// The blob digest and size the manifest promises (absent in classic docker-archives).
    public var digest: Digest?
    public var size: Int64?
    public var mediaType: String?
    /// The config's `diff_ids` entry: the sha256 of the uncompressed tar.
    public var diffID: Digest
    /// The history step (`created_by`) that produced this layer, when known.
    public var createdBy: String?

    /// How the layer is named in findings: its blob digest, else its diff_id.
    public var name: String { (digest ?? diffID).description }
}

/// An image whose manifest and config were found, checked and decoded.
public struct LocatedImage: Sendable {
    public enum Format: String, Sendable {
        case dockerArchive = "docker-archive", ociLayout = "oci-layout", ociArchive = "oci-archive"
    }

    public var source: ImageSource
    public var format: Format
    public var manifestDigest: Digest?
    public var configDigest: Digest
    /// The member holding the config's bytes (`blobs/sha256/…`, `<hex>.json`).
    public var configMember: String
    public var config: ImageConfig
    public var layers: [LayerRef]
    public var repoTags: [String]

    public var platform: Platform? {
        guard let os = config.os, let architecture = config.architecture else { return nil }
        return Platform(os: os, architecture: architecture, variant: config.variant)
    }
}

/// Finds the image in a source: the OCI index (and nested indexes) or a docker-archive's `manifest.json`.
/// Every document is size-capped, digest-checked and media-type-checked before it is trusted.
public struct ImageLocator: Sendable {
    public var limits: ImageLimits
    public var platform: Platform

    public init(limits: ImageLimits = ImageLimits(), platform: Platform = .current) {
        self.limits = limits
        self.platform = platform
    }

    public func locate(_ source: ImageSource) throws(ImageError) -> LocatedImage {
        if source.contains("index.json") {
            return try locateOCI(source)
        }
        if source.contains("manifest.json") {
            return try locateDockerArchive(source)
        }
        throw ImageError(
            source: source.displayName,
            message: "not an image: it has neither index.json (OCI layout) nor manifest.json (docker save)",
            hint: "pass a docker-archive (docker save -o x.tar), an OCI layout directory or an OCI archive")
    }

    // MARK: OCI layout and OCI archive

    private func locateOCI(_ source: ImageSource) throws(ImageError) -> LocatedImage {
        let name = source.displayName
        if source.contains("oci-layout") {
            let layout = try source.read("oci-layout", limit: limits.jsonBytes)
            struct Layout: Decodable { var imageLayoutVersion: String }
            guard let version = try? JSONDecoder().decode(Layout.self, from: layout).imageLayoutVersion, version.hasPrefix("1.")
            else {
                throw ImageError(source: name, message: "oci-layout does not declare imageLayoutVersion 1.x")
            }
        }
        let index: ImageIndex = try decode(
            try source.read("index.json", limit: limits.jsonBytes), as: ImageIndex.self, what: "index.json", in: name)
        try checkIndex(index, what: "index.json", in: name)
        let descriptor = try selectManifest(index, source: source, depth: 0)
        let manifestData = try readBlob(descriptor, source: source)
        let manifest = try decode(manifestData, as: ImageManifest.self, what: "manifest \(descriptor.digest)", in: name)
        if manifest.manifests != nil {
            throw ImageError(
                source: name,
                message: "manifest \(descriptor.digest) also lists manifests: a document is either an index or a manifest")
        }
        if let declared = manifest.mediaType, declared != descriptor.mediaType {
            throw ImageError(
                source: name,
                message: "manifest \(descriptor.digest) says it is \(declared), its descriptor says \(descriptor.mediaType)")
        }
        guard MediaType.configs.contains(manifest.config.mediaType) else {
            throw ImageError(
                source: name,
                message: "manifest \(descriptor.digest): config media type \(manifest.config.mediaType) is not an image config")
        }
        let configData = try readBlob(manifest.config, source: source)
        let config = try decode(configData, as: ImageConfig.self, what: "config \(manifest.config.digest)", in: name)
        guard config.rootfs.diffIDs.count == manifest.layers.count else {
            throw ImageError(
                source: name,
                message:
                    "manifest \(descriptor.digest) lists \(manifest.layers.count) layers but its config has \(config.rootfs.diffIDs.count) diff_ids"
            )
        }
        let history = config.layerHistory
        var layers: [LayerRef] = []
        for (position, layer) in manifest.layers.enumerated() {
            guard MediaType.layers.contains(layer.mediaType) else {
                throw ImageError(
                    source: name, message: "layer \(layer.digest) has media type \(layer.mediaType), which is not a tar layer")
            }
            let member = "blobs/sha256/\(layer.digest.hex)"
            guard let size = source.size(of: member) else {
                throw ImageError(source: name, message: "layer \(layer.digest) is missing (no \(member))")
            }
            guard size == layer.size else {
                throw ImageError(
                    source: name, message: "layer \(layer.digest) is \(size) bytes, its descriptor says \(layer.size)")
            }
            layers.append(
                LayerRef(
                    index: position, member: member, digest: layer.digest, size: layer.size, mediaType: layer.mediaType,
                    diffID: config.rootfs.diffIDs[position], createdBy: history[position]))
        }
        let isTar = if case .tar = source.container { true } else { false }
        let tags =
            (index.manifests.first { $0.digest == descriptor.digest }?.annotations?["org.opencontainers.image.ref.name"]).map {
                [$0]
            } ?? []
        return LocatedImage(
            source: source, format: isTar ? (source.contains("manifest.json") ? .dockerArchive : .ociArchive) : .ociLayout,
            manifestDigest: descriptor.digest, configDigest: manifest.config.digest,
            configMember: "blobs/sha256/\(manifest.config.digest.hex)", config: config, layers: layers,
            repoTags: tags)
    }

    private func checkIndex(_ index: ImageIndex, what: String, in name: String) throws(ImageError) {
        if index.layers != nil || index.config != nil {
            throw ImageError(
                source: name, message: "\(what) has both manifests and layers/config: a document is either an index or a manifest"
            )
        }
        if let declared = index.mediaType, !MediaType.indexes.contains(declared) {
            throw ImageError(source: name, message: "\(what) declares media type \(declared), not an image index")
        }
    }

    /// Walks the index (and nested indexes) to the one manifest for `platform`.
    private func selectManifest(_ index: ImageIndex, source: ImageSource, depth: Int) throws(ImageError) -> Descriptor {
        let name = source.displayName
        guard depth < 4 else { throw ImageError(source: name, message: "indexes nest more than 4 deep") }
        var candidates: [Descriptor] = []
        var seenPlatforms: [String] = []
        for descriptor in index.manifests {
            if MediaType.indexes.contains(descriptor.mediaType) {
                let nested = try decode(
                    try readBlob(descriptor, source: source), as: ImageIndex.self, what: "index \(descriptor.digest)", in: name)
                try checkIndex(nested, what: "index \(descriptor.digest)", in: name)
                candidates.append(try selectManifest(nested, source: source, depth: depth + 1))
            } else if MediaType.manifests.contains(descriptor.mediaType) {
                if let platform = descriptor.platform {
                    seenPlatforms.append(platform.description)
                    if platform.os == "unknown" { continue }  // attestation manifests
                    guard platform.matches(self.platform) else { continue }
                }
                candidates.append(descriptor)
            }
        }
        guard let chosen = candidates.first else {
            let listed = seenPlatforms.isEmpty ? "no image manifests" : "only \(seenPlatforms.joined(separator: ", "))"
            throw ImageError(
                source: name, message: "no manifest for \(platform) (the index has \(listed))", hint: "choose one with --platform"
            )
        }
        return chosen
    }

    /// A blob named by a descriptor, checked for size and digest before it is trusted.
    private func readBlob(_ descriptor: Descriptor, source: ImageSource) throws(ImageError) -> Data {
        let member = "blobs/sha256/\(descriptor.digest.hex)"
        guard descriptor.size <= Int64(limits.jsonBytes) else {
            throw ImageError(
                source: source.displayName,
                message:
                    "\(descriptor.digest) is \(descriptor.size) bytes, over the \(limits.jsonBytes)-byte limit for a JSON document"
            )
        }
        let data = try source.read(member, limit: limits.jsonBytes)
        guard Int64(data.count) == descriptor.size else {
            throw ImageError(
                source: source.displayName,
                message: "\(descriptor.digest) is \(data.count) bytes, its descriptor says \(descriptor.size)")
        }
        let actual = Digest.sha256(data)
        guard actual == descriptor.digest else {
            throw ImageError(
                source: source.displayName,
                message: "\(member) hashes to \(actual), not \(descriptor.digest): the blob was changed or damaged")
        }
        return data
    }

    // MARK: docker-archive (classic `docker save`)

    private func locateDockerArchive(_ source: ImageSource) throws(ImageError) -> LocatedImage {
        let name = source.displayName
        let manifests = try decode(
            try source.read("manifest.json", limit: limits.jsonBytes), as: [DockerArchiveManifest].self, what: "manifest.json",
            in: name)
        guard manifests.count == 1, let manifest = manifests.first else {
            throw ImageError(
                source: name, message: "manifest.json lists \(manifests.count) images; harden reads an archive of one",
                hint: "docker save one image at a time")
        }
        let configData = try source.read(manifest.config, limit: limits.jsonBytes)
        let configDigest = Digest.sha256(configData)
        if let named = Self.digestInName(manifest.config), named != configDigest {
            throw ImageError(source: name, message: "\(manifest.config) hashes to \(configDigest), not the digest its name says")
        }
        let config = try decode(configData, as: ImageConfig.self, what: manifest.config, in: name)
        guard config.rootfs.diffIDs.count == manifest.layers.count else {
            throw ImageError(
                source: name,
                message:
                    "manifest.json lists \(manifest.layers.count) layers but the config has \(config.rootfs.diffIDs.count) diff_ids"
            )
        }
        let history = config.layerHistory
        var layers: [LayerRef] = []
        for (position, member) in manifest.layers.enumerated() {
            guard let size = source.size(of: ImageSource.clean(member)) else {
                throw ImageError(source: name, message: "layer \(member) named by manifest.json is missing")
            }
            layers.append(
                LayerRef(
                    index: position, member: ImageSource.clean(member), digest: Self.digestInName(member), size: size,
                    mediaType: nil,
                    diffID: config.rootfs.diffIDs[position], createdBy: history[position]))
        }
        return LocatedImage(
            source: source, format: .dockerArchive, manifestDigest: nil, configDigest: configDigest,
            configMember: ImageSource.clean(manifest.config), config: config,
            layers: layers, repoTags: manifest.repoTags ?? [])
    }

    /// `blobs/sha256/<hex>` or `<hex>.json` → the digest the name claims.
    static func digestInName(_ member: String) -> Digest? {
        let last = (member as NSString).lastPathComponent
        let hex = last.hasSuffix(".json") ? String(last.dropLast(5)) : last
        guard member.hasPrefix("blobs/sha256/") || last.hasSuffix(".json") else { return nil }
        return Digest("sha256:" + hex)
    }

    private func decode<T: Decodable>(_ data: Data, as type: T.Type, what: String, in name: String) throws(ImageError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw ImageError(
                source: name,
                message: "\(what): missing \((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))")
        } catch let DecodingError.dataCorrupted(context) {
            throw ImageError(
                source: name,
                message: "\(what): \(context.debugDescription) at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
            )
        } catch let DecodingError.typeMismatch(_, context) {
            throw ImageError(
                source: name, message: "\(what): wrong type at \(context.codingPath.map(\.stringValue).joined(separator: "."))")
        } catch {
            throw ImageError(source: name, message: "\(what) is not valid JSON: \(error)")
        }
    }
}

/// Caps that keep a hostile image from exhausting memory or time.
public struct ImageLimits: Sendable, Equatable {
    /// Uncompressed bytes over all layers.
    public var totalBytes: Int64 = 32 << 30
    public var entries: Int = 2_000_000
    public var pathLength: Int = 4096
    public var symlinkHops: Int = 40
    public var jsonBytes: Int = 4 << 20

    public init() {}
}

extension ImageLimits {
    /// Stops a read once the layers taken so far add up to more than `totalBytes`.
    func checkTotalBytes(_ total: Int64, of source: ImageSource) throws(ImageError) {
        guard total > totalBytes else { return }
        throw ImageError(
            source: source.displayName,
            message: "the layers add up to more than \(totalBytes) uncompressed bytes (limit)",
            hint: "raise it with --max-bytes if the image is really that large")
    }
}
