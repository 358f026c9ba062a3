import Foundation
import HardenArchive
import HardenConcurrency

/// What normalizing an image produced.
public struct NormalizedImage: Sendable, Equatable {
    public var manifestDigest: Digest
    /// The config's digest: the engine's image ID once the docker-archive is loaded.
    public var configDigest: Digest
    public var layerDigests: [Digest]
    public var diffIDs: [Digest]
    /// Uncompressed layer bytes read from the original image.
    public var bytesProcessed: Int64
}

/// Rewrites an image into its reproducible form: every layer canonical (see `LayerNormalizer`),
/// config and history `created` set to `SOURCE_DATE_EPOCH`, digests recomputed, written as an
/// OCI layout and, when asked, a docker-archive for `docker load`.
public struct ImageNormalizer: Sendable {
    public var sourceDateEpoch: Int64
    public var limits: ImageLimits
    public var platform: Platform
    /// How the layout's layer blobs are compressed (the docker-archive's layers are plain tars).
    public var compression: ArchiveWriter.Compression
    public var gzipLevel: Int

    public init(
        sourceDateEpoch: Int64, limits: ImageLimits = ImageLimits(), platform: Platform = .current,
        compression: ArchiveWriter.Compression = .gzip, gzipLevel: Int = ImageWriter.gzipLevel
    ) {
        self.sourceDateEpoch = sourceDateEpoch
        self.limits = limits
        self.platform = platform
        self.compression = compression
        self.gzipLevel = gzipLevel
    }

    /// Normalizes the image at `path` (any form `ImageLocator` reads) into the OCI layout `layout`,
    /// replaced whole; `dockerArchive` also gets a `docker load` archive tagged `tag`.
    @discardableResult
    public func normalize(_ path: String, layout: URL, dockerArchive: URL? = nil, tag: String? = nil) throws(ImageError)
        -> NormalizedImage
    {
        let source = try ImageSource.open(path)
        let image = try ImageLocator(limits: limits, platform: platform).locate(source)
        let layers = try normalizeLayers(image, keepingTars: dockerArchive != nil)
        let blobs = layers.map(\.blob)
        let bytes = layers.reduce(0) { $0 + $1.bytesRead }
        let config = try normalizedConfig(try configData(of: image), diffIDs: blobs.map(\.diffID), in: path)
        let manifest = try writeLayout(config: config, platform: image.platform, layers: blobs, to: layout, tag: tag)
        if let dockerArchive {
            try ImageWriter.writeDockerArchive(configData: config, layers: blobs, to: dockerArchive, tag: tag)
        }
        return NormalizedImage(
            manifestDigest: manifest.digest, configDigest: .sha256(config), layerDigests: blobs.map(\.digest),
            diffIDs: blobs.map(\.diffID), bytesProcessed: bytes)
    }

    /// Every layer rewritten, independent layers in parallel.
    private func normalizeLayers(_ image: LocatedImage, keepingTars: Bool) throws(ImageError)
        -> [(blob: LayerBlob, bytesRead: Int64)]
    {
        let normalizer = LayerNormalizer(
            sourceDateEpoch: sourceDateEpoch, limits: limits, compression: compression, gzipLevel: gzipLevel,
            keepsTar: keepingTars)
        let layers = image.layers
        let source = image.source
        let results = concurrentMap(layers.count) { index in
            Result { () throws(ImageError) in try normalizer.normalize(layers[index], from: source) }
        }
        var done: [(blob: LayerBlob, bytesRead: Int64)] = []
        var total: Int64 = 0
        for result in results {
            let layer = try result.get()
            total += layer.bytesRead
            try limits.checkTotalBytes(total, of: source)
            done.append(layer)
        }
        return done
    }

    /// The config as the image stores it, checked against its digest.
    private func configData(of image: LocatedImage) throws(ImageError) -> Data {
        let source = image.source
        var member = "blobs/sha256/\(image.configDigest.hex)"
        if image.format == .dockerArchive, !source.contains(member) {
            let manifests = try? JSONDecoder().decode(
                [DockerArchiveManifest].self, from: try source.read("manifest.json", limit: limits.jsonBytes))
            member = manifests?.first.map { ImageSource.clean($0.config) } ?? member
        }
        let data = try source.read(member, limit: limits.jsonBytes)
        guard Digest.sha256(data) == image.configDigest else {
            throw ImageError(source: source.displayName, message: "the config \(member) does not hash to \(image.configDigest)")
        }
        return data
    }

    /// The config with `created` (its own and every history step's) at the epoch and the new
    /// diff_ids; every other field kept, re-encoded with sorted keys. The classic builder's
    /// record of its build containers (`container`, `container_config`, `config.Image`,
    /// `config.Hostname`) differs on every build and is dropped.
    func normalizedConfig(_ data: Data, diffIDs: [Digest], in name: String) throws(ImageError) -> Data {
        guard var object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ImageError(source: name, message: "the config is not a JSON object")
        }
        let created = Self.timestamp(sourceDateEpoch)
        object["created"] = created
        if let history = object["history"] as? [[String: Any]] {
            object["history"] = history.map { step in step.merging(["created": created]) { $1 } }
        }
        var rootfs = object["rootfs"] as? [String: Any] ?? ["type": "layers"]
        rootfs["diff_ids"] = diffIDs.map(\.description)
        object["rootfs"] = rootfs
        object["container"] = nil
        object["container_config"] = nil
        if var settings = object["config"] as? [String: Any] {
            settings["Image"] = nil
            settings["Hostname"] = nil
            object["config"] = settings
        }
        do {
            return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        } catch {
            throw ImageError(source: name, message: "cannot encode the normalized config: \(error)")
        }
    }

    /// RFC 3339, UTC, whole seconds.
    static func timestamp(_ epoch: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(epoch)))
    }

    /// Writes the layout beside its destination, then moves it into place.
    private func writeLayout(config: Data, platform: Platform?, layers: [LayerBlob], to layout: URL, tag: String?)
        throws(ImageError) -> Descriptor
    {
        let files = FileManager.default
        let staging = layout.deletingLastPathComponent().appendingPathComponent(
            ".\(layout.lastPathComponent).tmp-\(UUID().uuidString)")
        defer { try? files.removeItem(at: staging) }
        let manifest = try ImageWriter.writeLayout(
            configData: config, platform: platform, layers: layers, to: staging, refName: tag)
        do {
            if files.fileExists(atPath: layout.path) { try files.removeItem(at: layout) }
            try files.moveItem(at: staging, to: layout)
        } catch {
            throw ImageError(source: layout.path, message: "cannot move the normalized layout into place: \(error)")
        }
        return manifest
    }
}
