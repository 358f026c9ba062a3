import Foundation
import HardenConcurrency

/// Which Debian packages make a base, and where they come from.
public struct SuiteSpec: Sendable {
    /// `http://deb.debian.org/debian`, or a `file://` copy.
    public var mirror: URL
    /// `bookworm`.
    public var suite: String
    /// Also read `<suite>-updates` from `mirror`.
    public var updates = true
    /// Also read `<suite>-security` from `securityMirror`.
    public var security = true
    /// Where `<suite>-security` lives; by default a mirror ending in `/debian` gives
    /// `/debian-security` beside it (as Debian's do), any other the mirror itself.
    public var securityMirror: URL?
    public var components = ["main"]
    public var architecture = "amd64"
    /// An OpenPGP keyring `gpgv` checks each `InRelease` against.
    public var keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
    public var packages: [String]
    /// Left out wherever they are wanted (reported as broken dependencies), on top of `installOnly`.
    public var exclude: Set<String> = []
    public var installOnly = InstallOnly.defaults

    public init(mirror: URL, suite: String, packages: [String]) {
        self.mirror = mirror
        self.suite = suite
        self.packages = packages
    }

    /// The suites read, the main one first.
    public var sources: [SuiteSource] {
        var sources = [SuiteSource(mirror: mirror, suite: suite)]
        if updates { sources.append(SuiteSource(mirror: mirror, suite: suite + "-updates")) }
        if security {
            sources.append(SuiteSource(mirror: securityMirror ?? Self.securityMirror(beside: mirror), suite: suite + "-security"))
        }
        return sources
    }

    static func securityMirror(beside mirror: URL) -> URL {
        guard mirror.lastPathComponent == "debian" else { return mirror }
        return mirror.deletingLastPathComponent().appendingPathComponent("debian-security")
    }

    public var request: ResolveRequest {
        ResolveRequest(packages: packages, architecture: architecture, exclude: exclude, installOnly: installOnly)
    }
}

/// A spec resolved: the suites read and the closure.
public struct DebianPlan: Sendable {
    public var indexes: [SuiteIndex]
    public var resolution: Resolution
}

extension SuiteReader {
    /// Reads every suite of `spec` at once (each parsed on a thread of its own) and resolves its packages.
    public func plan(_ spec: SuiteSpec, now: Date = Date()) async throws(DebianError) -> DebianPlan {
        let sources = spec.sources
        let results = await withTaskGroup(of: (Int, Result<SuiteIndex, DebianError>).self) { group in
            for (index, source) in sources.enumerated() {
                group.addTask {
                    do throws(DebianError) {
                        return (
                            index,
                            .success(
                                try await self.read(
                                    source, components: spec.components, architecture: spec.architecture,
                                    keyring: spec.keyring, now: now))
                        )
                    } catch {
                        return (index, .failure(error))
                    }
                }
            }
            var results: [Int: Result<SuiteIndex, DebianError>] = [:]
            for await (index, result) in group { results[index] = result }
            return results
        }
        var indexes: [SuiteIndex] = []
        for index in sources.indices {
            guard let result = results[index] else { continue }
            indexes.append(try result.get())
        }
        let (read, architecture, request) = (indexes, spec.architecture, spec.request)
        return try await blockingWork { () throws(DebianError) in
            DebianPlan(indexes: read, resolution: try Resolver(indexes: read, architecture: architecture).resolve(request))
        }
    }
}
