import Foundation

/// Downloads `.deb` files from their mirror (`Filename` is relative to it) into a cache by
/// SHA256, each checked against the size and hash its `Packages` index gives.
public struct PackageFetcher: Sendable {
    public var mirror: MirrorClient
    public var cache: BlobCache

    public init(mirror: MirrorClient = MirrorClient(), cache: BlobCache) {
        self.mirror = mirror
        self.cache = cache
    }

    /// The package's file in the cache, fetched first when it is not there yet.
    @discardableResult
    public func fetch(_ package: BinaryPackage) async throws(DebianError) -> String {
        _ = try await VerifiedFetch(mirror: mirror, cache: cache).fetch(
            package.url, size: package.size, sha256: package.sha256, what: "\(package.label) (\(package.filename))",
            vouchedBy: "the Packages index of \(package.origin)")
        return cache.path(for: package.sha256)
    }

    /// Every package's cached file, by package name.
    public func fetchAll(_ packages: [BinaryPackage]) async throws(DebianError) -> [String: String] {
        var paths: [String: String] = [:]
        for package in packages { paths[package.name] = try await fetch(package) }
        return paths
    }
}
