import Foundation

/// Media types of the OCI image spec and their Docker (schema 2) equivalents.
public enum MediaType {
    public static let ociIndex = "application/vnd.oci.image.index.v1+json"
    public static let ociManifest = "application/vnd.oci.image.manifest.v1+json"
    public static let ociConfig = "application/vnd.oci.image.config.v1+json"
    public static let dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
    public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    public static let dockerConfig = "application/vnd.docker.container.image.v1+json"

    public static let indexes: Set<String> = [ociIndex, dockerManifestList]
    public static let manifests: Set<String> = [ociManifest, dockerManifest]
    public static let configs: Set<String> = [ociConfig, dockerConfig]
    public static let layers: Set<String> = [
        "application/vnd.oci.image.layer.v1.tar", "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar+zstd", "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.docker.image.rootfs.diff.tar", "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.docker.image.rootfs.diff.tar.zstd",
    ]
}

/// OCI image spec `descriptor.md`.
public struct Descriptor: Sendable, Codable, Equatable {
    public var mediaType: String
    public var digest: Digest
    public var size: Int64
    public var platform: Platform?
    public var annotations: [String: String]?

    public init(mediaType: String, digest: Digest, size: Int64, platform: Platform? = nil, annotations: [String: String]? = nil) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.platform = platform
        self.annotations = annotations
    }
}

/// OCI image-index `platform`.
public struct Platform: Sendable, Codable, Equatable, CustomStringConvertible {
    public var architecture: String
    public var os: String
    public var variant: String?

    public init(os: String, architecture: String, variant: String? = nil) {
        self.os = os
        self.architecture = architecture
        self.variant = variant
    }

    /// `os/arch[/variant]`, e.g. `linux/arm64/v8`.
    public init?(_ text: String) {
        let parts = text.split(separator: "/").map(String.init)
        guard parts.count == 2 || parts.count == 3 else { return nil }
        self.init(os: parts[0], architecture: parts[1], variant: parts.count == 3 ? parts[2] : nil)
    }

    public var description: String { "\(os)/\(architecture)" + (variant.map { "/\($0)" } ?? "") }

    /// This machine's platform, in Go's names.
    public static var current: Platform {
        #if arch(arm64)
            Platform(os: "linux", architecture: "arm64")
        #else
            Platform(os: "linux", architecture: "amd64")
        #endif
    }

    public func matches(_ other: Platform) -> Bool {
        os == other.os && architecture == other.architecture
            && (variant == nil || other.variant == nil || variant == other.variant)
    }
}

/// OCI `image-index.md` (also Docker's manifest list).
public struct ImageIndex: Sendable, Codable {
    public var schemaVersion: Int
    public var mediaType: String?
    public var manifests: [Descriptor]
    /// Present only in a manifest: used to refuse a document that claims to be both.
    public var layers: [Descriptor]?
    public var config: Descriptor?

    public init(schemaVersion: Int, mediaType: String?, manifests: [Descriptor]) {
        self.schemaVersion = schemaVersion
        self.mediaType = mediaType
        self.manifests = manifests
    }
}

/// OCI `manifest.md` (also Docker's image manifest v2).
public struct ImageManifest: Sendable, Codable {
    public var schemaVersion: Int
    public var mediaType: String?
    public var config: Descriptor
    public var layers: [Descriptor]
    public var manifests: [Descriptor]?

    public init(schemaVersion: Int, mediaType: String?, config: Descriptor, layers: [Descriptor]) {
        self.schemaVersion = schemaVersion
        self.mediaType = mediaType
        self.config = config
        self.layers = layers
    }
}

/// OCI `config.md`: the parts harden reads.
public struct ImageConfig: Sendable, Codable, Equatable {
    public var architecture: String?
    public var os: String?
    public var variant: String?
    public var created: String?
    public var config: ContainerConfig?
    public var rootfs: RootFS
    public var history: [History]?

    public struct RootFS: Sendable, Codable, Equatable {
        public var type: String
        public var diffIDs: [Digest]
        enum CodingKeys: String, CodingKey {
            case type
            case diffIDs = "diff_ids"
        }
    }

    public struct History: Sendable, Codable, Equatable {
        public var created: String?
        public var createdBy: String?
        public var comment: String?
        public var emptyLayer: Bool?
        enum CodingKeys: String, CodingKey {
            case created, comment
            case createdBy = "created_by"
            case emptyLayer = "empty_layer"
        }
    }

    /// The history step that produced each layer (empty-layer steps skipped), when the history lines up.
    public var layerHistory: [String?] {
        let steps = (history ?? []).filter { $0.emptyLayer != true }
        return rootfs.diffIDs.indices.map { index in
            steps.count == rootfs.diffIDs.count ? steps[index].createdBy : nil
        }
    }
}

/// The `config` object of an image config (Docker's capitalised names).
public struct ContainerConfig: Sendable, Codable, Equatable {
    public var user: String?
    public var env: [String]?
    public var entrypoint: [String]?
    public var cmd: [String]?
    public var workingDir: String?
    public var labels: [String: String]?
    public var exposedPorts: [String: EmptyObject]?
    public var healthcheck: Healthcheck?
    public var volumes: [String: EmptyObject]?
    public var stopSignal: String?
    public var shell: [String]?
    public var onBuild: [String]?

    public init(user: String? = nil, env: [String]? = nil, entrypoint: [String]? = nil, cmd: [String]? = nil) {
        self.user = user
        self.env = env
        self.entrypoint = entrypoint
        self.cmd = cmd
    }

    public struct Healthcheck: Sendable, Codable, Equatable {
        public var test: [String]?
        enum CodingKeys: String, CodingKey { case test = "Test" }
    }

    public struct EmptyObject: Sendable, Codable, Equatable {}

    enum CodingKeys: String, CodingKey {
        case user = "User"
        case env = "Env"
        case entrypoint = "Entrypoint"
        case cmd = "Cmd"
        case workingDir = "WorkingDir"
        case labels = "Labels"
        case exposedPorts = "ExposedPorts"
        case healthcheck = "Healthcheck"
        case volumes = "Volumes"
        case stopSignal = "StopSignal"
        case shell = "Shell"
        case onBuild = "OnBuild"
    }

    /// `PATH` from `Env`, else Docker's default.
    public var searchPath: [String] {
        let path =
            env?.first { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) }
            ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        return path.split(separator: ":").map(String.init)
    }
}

/// One entry of a docker-archive's `manifest.json`.
public struct DockerArchiveManifest: Sendable, Codable, Equatable {
    public var config: String
    public var repoTags: [String]?
    public var layers: [String]

    public init(config: String, repoTags: [String]?, layers: [String]) {
        self.config = config
        self.repoTags = repoTags
        self.layers = layers
    }

    enum CodingKeys: String, CodingKey {
        case config = "Config"
        case repoTags = "RepoTags"
        case layers = "Layers"
    }
}
