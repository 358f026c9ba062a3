import Foundation
import HardenImage

/// Which image a scan or a VEX document is about: its repository, tag and digests.
public struct ImageIdentity: Sendable, Codable, Equatable {
    /// The repository: `harden-local/flask-app`, `ghcr.io/acme/app`.
    public var name: String
    public var tag: String?
    /// The OCI manifest digest (`sha256:…`): what a registry serves the image by, when known.
    public var manifestDigest: String?
    /// The config digest: the engine's image ID.
    public var imageID: String?

    public init(name: String, tag: String? = nil, manifestDigest: String? = nil, imageID: String? = nil) {
        self.name = name
        self.tag = tag
        self.manifestDigest = manifestDigest
        self.imageID = imageID
    }

    /// From a reference such as `harden-local/app:1.0` or `app@sha256:…` (that digest is taken as
    /// the manifest digest when none is given).
    public init(reference: String, manifestDigest: String? = nil, imageID: String? = nil) {
        var name = Substring(reference)
        var pinned: String?
        if let at = name.firstIndex(of: "@") {
            pinned = String(name[name.index(after: at)...])
            name = name[..<at]
        }
        var tag: String?
        if let colon = name.lastIndex(of: ":"), !name[colon...].contains("/") {
            tag = String(name[name.index(after: colon)...])
            name = name[..<colon]
        }
        self.init(name: String(name), tag: tag, manifestDigest: manifestDigest ?? pinned, imageID: imageID)
    }

    /// The image as harden read it: by its first repository tag, else by `name` (a file's
    /// name without its extension when `name` is a path).
    public init(_ image: LocatedImage, name: String) {
        let reference =
            image.repoTags.first { $0.contains("/") || $0.contains(":") }
            ?? (name.contains("/") && FileManager.default.fileExists(atPath: name)
                ? ((name as NSString).lastPathComponent as NSString).deletingPathExtension : name)
        self.init(
            reference: reference, manifestDigest: image.manifestDigest?.description, imageID: image.configDigest.description)
    }

    /// Both digests it is known by.
    var digests: Set<String> { Set([manifestDigest, imageID].compactMap { $0 }) }

    /// The repository without a registry host, and the host (`ghcr.io/acme/app` → `acme/app`, `ghcr.io`).
    var repositoryPath: (path: String, registry: String?) {
        let parts = name.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2, parts[0].contains(".") || parts[0].contains(":") || parts[0] == "localhost" else {
            return (name, nil)
        }
        return (parts[1], parts[0])
    }

    /// `pkg:oci/app@sha256%3A…?repository_url=ghcr.io/acme/app&tag=1.0`: the image by its manifest digest.
    public var ociPURL: String? {
        guard let manifestDigest else { return nil }
        let last = name.split(separator: "/").last.map { String($0).lowercased() } ?? name
        var qualifiers: [String] = []
        if name.contains("/") { qualifiers.append("repository_url=\(Self.encodePath(name))") }
        if let tag { qualifiers.append("tag=\(Package.percentEncoded(tag))") }
        return "pkg:oci/\(Package.percentEncoded(last))@\(Package.percentEncoded(manifestDigest))"
            + (qualifiers.isEmpty ? "" : "?" + qualifiers.joined(separator: "&"))
    }

    /// `pkg:docker/acme/app@sha256%3A…?repository_url=ghcr.io`: the image by the engine's image ID.
    public var dockerPURL: String? {
        guard let imageID else { return nil }
        let (path, registry) = repositoryPath
        return "pkg:docker/\(Self.encodePath(path.lowercased()))@\(Package.percentEncoded(imageID))"
            + (registry.map { "?repository_url=\(Package.percentEncoded($0))" } ?? "")
    }

    private static func encodePath(_ path: String) -> String {
        path.split(separator: "/").map { Package.percentEncoded(String($0)) }.joined(separator: "/")
    }

    /// Whether a VEX product names this image: by a digest (its `@id`, a purl's version or its
    /// sha-256 hash), or by an oci/docker purl without a digest whose name is this repository's
    /// (and whose version, when it gives one, is this tag). Qualifiers are not compared.
    func isNamed(by component: OpenVEX.Component) -> Bool {
        let digests = self.digests
        if let hex = component.hashes?["sha-256"], digests.contains("sha256:\(hex)") { return true }
        for identifier in [component.id, component.identifiers?.purl].compactMap({ $0 }) {
            if digests.contains(identifier) { return true }
            guard let purl = PackageURL(identifier), purl.type == "oci" || purl.type == "docker" else { continue }
            if let version = purl.version, version.hasPrefix("sha256:") {
                if digests.contains(version) { return true }
                continue
            }
            let repository = repositoryPath.path.lowercased()
            let named =
                purl.type == "oci"
                ? purl.name == repository.split(separator: "/").last.map(String.init)
                : [purl.namespace, purl.name].filter { !$0.isEmpty }.joined(separator: "/") == repository
            if named, purl.version == nil || purl.version == tag { return true }
        }
        return false
    }

    /// The VEX products for this image, each with `subcomponents` when given: by manifest
    /// digest (as registries and signatures know it) and by image ID (as the engine does).
    func components(subcomponents: [OpenVEX.Component]?) -> [OpenVEX.Component] {
        var components: [OpenVEX.Component] = []
        if let purl = ociPURL, let hex = manifestDigest.flatMap(Digest.init)?.hex {
            components.append(
                OpenVEX.Component(
                    id: purl, identifiers: OpenVEX.Identifiers(purl: purl), hashes: ["sha-256": hex], subcomponents: subcomponents
                ))
        }
        if let purl = dockerPURL, imageID != manifestDigest {
            components.append(
                OpenVEX.Component(id: purl, identifiers: OpenVEX.Identifiers(purl: purl), subcomponents: subcomponents))
        }
        return components
    }
}
