import Foundation
import HardenArchive
import HardenConcurrency
import HardenImage

/// A base image assembled from a lock: its config, its layers, and what the build output
/// should say about it.
public struct DebianBaseImage: Sendable {
    public var config: ImageConfig
    public var assembly: Assembly

    public var layers: [LayerBlob] { assembly.layers }

    /// The engine's image ID once loaded.
    public var id: Digest { .sha256(ImageWriter.encode(config)) }

    /// Bumped when assembly changes what it writes, so every Debian base is assembled again.
    public static let assemblerVersion = "1"

    /// One line per maintainer script that did not run, and what harden did in its place.
    public var scriptNotes: [String] {
        let bundle = assembly.written.first { $0.contains("ca-certificates.crt") }
        return assembly.scripts.keys.sorted().map { name in
            let scripts = assembly.scripts[name, default: []].joined(separator: ", ")
            let instead: String
            switch name {
            case "ca-certificates": instead = bundle.map { "harden wrote \($0)" } ?? "nothing"
            case "libc-bin": instead = "nothing: no ld.so.cache, the loader searches the multiarch directories"
            case "tzdata": instead = "nothing: no /etc/localtime, the image runs in UTC unless TZ is set"
            case let python where python.hasPrefix("python3") || python.hasPrefix("libpython3"):
                instead = "nothing: the standard library is not byte-compiled, Python compiles what it imports in memory"
            default: instead = "nothing"
            }
            return "\(name): \(scripts) not run; instead: \(instead)"
        }
    }
}

/// Resolves a Debian base into a lock, and assembles a lock into an image, with no shell,
/// no dpkg and no maintainer script.
public struct DebianBaseBuilder: Sendable {
    public var mirror: MirrorClient
    /// `.deb` files and checked indexes, by SHA256.
    public var cache: BlobCache

    public init(mirror: MirrorClient = MirrorClient(), cache: BlobCache) {
        self.mirror = mirror
        self.cache = cache
    }

    /// Reads the suites of `spec`, resolves its packages and writes down the result.
    public func lock(_ spec: SuiteSpec, recipe: String, request: String, now: Date = Date()) async throws(DebianError)
        -> PackageLock
    {
        let plan = try await SuiteReader(mirror: mirror, cache: cache).plan(spec, now: now)
        let stamp = ISO8601DateFormatter().string(from: now)
        let sources = plan.indexes.map { index in
            PackageLock.Source(
                suite: index.source.suite, mirror: index.source.mirror.absoluteString, origin: index.release.origin,
                version: index.release.version, codename: index.release.codename,
                date: index.release.date.map { ISO8601DateFormatter().string(from: $0) })
        }
        let packages = plan.resolution.packages.map { resolved in
            let package = resolved.package
            return PackageLock.Package(
                name: package.name, version: package.version.description, architecture: package.architecture,
                suite: package.origin.suite, filename: package.filename, size: package.size, sha256: package.sha256,
                source: package.source, wantedBy: resolved.chain.count > 1 ? Array(resolved.chain.dropLast()) : nil)
        }
        let leftOut = plan.resolution.broken.map {
            PackageLock.LeftOut(dependent: $0.dependent, relation: $0.relation, dropped: $0.dropped, reason: $0.reason.rawValue)
        }
        return PackageLock(
            lockVersion: PackageLock.formatVersion, recipe: recipe, suite: spec.suite, architecture: spec.architecture,
            request: request, resolvedAt: stamp, sources: sources, packages: packages, leftOut: leftOut)
    }

    /// Fetches every locked package (from the cache when there) and assembles the image with
    /// `layout`'s accounts and layers; the layer blobs are plain tars unless `compression` says
    /// otherwise (the image ID is the same).
    public func assemble(
        _ lock: PackageLock, layout: BaseLayout = BaseLayout(), compression: ArchiveWriter.Compression = .none
    ) async throws(DebianError) -> DebianBaseImage {
        var files: [PackageFile] = []
        for package in lock.packages {
            guard let mirror = lock.mirror(of: package) else {
                throw DebianError(.syntax, "the lock names no mirror for suite \(package.suite) of \(package.name)")
            }
            let label = "\(package.name) \(package.version)"
            _ = try await VerifiedFetch(mirror: self.mirror, cache: cache).fetch(
                mirror.appendingPathComponent(package.filename), size: package.size, sha256: package.sha256,
                what: "\(label) (\(package.filename))", vouchedBy: "the lock file")
            files.append(PackageFile(name: package.name, label: label, path: cache.path(for: package.sha256)))
        }
        let main = lock.sources.first { $0.suite == lock.suite } ?? lock.sources.first
        let release = main.map { OSRelease(origin: $0.origin ?? "Debian", version: $0.version, codename: $0.codename ?? lock.suite) }
        let packages = files
        let assembly = try await blockingWork { () throws(DebianError) in
            try Assembler(compression: compression).assemble(packages, release: release, layout: layout)
        }
        let config = ImageWriter.config(
            layers: assembly.layers,
            config: ContainerConfig(
                env: [
                    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
                ]),
            platform: Platform(os: "linux", architecture: Self.ociArchitecture(lock.architecture)),
            history: Self.history(lock, layout: layout, layers: assembly.layers.count))
        return DebianBaseImage(config: config, assembly: assembly)
    }

    /// One history entry per layer: what it holds.
    static func history(_ lock: PackageLock, layout: BaseLayout, layers: Int) -> [String] {
        let from = "from \(lock.suite), lock \(lock.digest.hex.prefix(12))"
        guard layers > 1 else { return ["harden: \(lock.packages.count) Debian packages \(from)"] }
        let grouped = Set(layout.groups.joined())
        let rest = lock.packages.count - grouped.count
        return (0..<layers).map { number in
            number < layout.groups.count
                ? "harden: layer \(number + 1) of \(layers), \(layout.groups[number].joined(separator: " ")) \(from)"
                : "harden: layer \(number + 1) of \(layers), the \(rest) other packages \(from)"
        }
    }

    /// Debian's architecture names → OCI's.
    static func ociArchitecture(_ debian: String) -> String {
        switch debian {
        case "armhf", "armel": "arm"
        case "i386": "386"
        case "ppc64el": "ppc64le"
        default: debian
        }
    }

    /// The host's architecture as Debian names it.
    public static var hostArchitecture: String {
        switch Platform.current.architecture {
        case "386": "i386"
        case "ppc64le": "ppc64el"
        case "arm": "armhf"
        case let other: other
        }
    }
}
