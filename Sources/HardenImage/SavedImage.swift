import Foundation
import HardenArchive

/// What harden checks of an image it has just saved with `docker save`.
public struct SavedImage: Sendable, Equatable {
    /// The config's sha256, which is the engine's image ID.
    public var configDigest: Digest
    public var repoTags: [String]
    public var layerCount: Int
    /// The config's `User` ("" when unset).
    public var user: String

    static let jsonLimit = 8 << 20

    /// Reads the archive's manifest and config, and checks the config's digest.
    public static func inspect(path: String) throws(ImageError) -> SavedImage {
        var manifestData: Data?
        var blobs: [String: Data] = [:]
        do throws(ArchiveError) {
            let reader = try ArchiveReader(path: path)
            while let entry = try reader.next() {
                if entry.path == "manifest.json" {
                    manifestData = try reader.readData(limit: jsonLimit)
                } else if entry.path.hasSuffix(".json") || entry.path.hasPrefix("blobs/sha256/"), entry.size <= jsonLimit,
                    entry.type == .regular
                {
                    blobs[entry.path] = try reader.readData(limit: jsonLimit)
                }
            }
        } catch {
            throw ImageError(source: path, message: error.description)
        }
        guard let manifestData else {
            throw ImageError(source: path, message: "no manifest.json: not a docker-archive")
        }
        let manifests: [DockerArchiveManifest]
        do {
            manifests = try JSONDecoder().decode([DockerArchiveManifest].self, from: manifestData)
        } catch {
            throw ImageError(source: path, message: "manifest.json is not valid: \(error)")
        }
        guard manifests.count == 1, let manifest = manifests.first else {
            throw ImageError(source: path, message: "expected one image in the archive, found \(manifests.count)")
        }
        guard let config = blobs[manifest.config] else {
            throw ImageError(source: path, message: "the config \(manifest.config) named by manifest.json is missing")
        }
        let digest = Digest.sha256(config)
        let named = manifest.config.replacingOccurrences(of: "blobs/sha256/", with: "").replacingOccurrences(
            of: ".json", with: "")
        guard named == digest.hex else {
            throw ImageError(
                source: path, message: "the config \(manifest.config) has digest \(digest), not the one its name says")
        }
        struct ConfigUser: Decodable {
            struct Inner: Decodable { var User: String? }
            var config: Inner?
        }
        let user = (try? JSONDecoder().decode(ConfigUser.self, from: config))?.config?.User ?? ""
        return SavedImage(
            configDigest: digest, repoTags: manifest.repoTags ?? [], layerCount: manifest.layers.count, user: user)
    }
}

/// An image that can't be read or trusted: which image, what is wrong, and what to do.
public struct ImageError: Error, Sendable, CustomStringConvertible {
    public var source: String
    public var message: String
    public var hint: String?
    public init(source: String, message: String, hint: String? = nil) {
        self.source = source
        self.message = message
        self.hint = hint
    }
    public var description: String { "\(source): \(message)" + (hint.map { "\n  hint: \($0)" } ?? "") }
}
