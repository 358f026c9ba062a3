import Foundation
import HardenDebian
import HardenTestSupport
import Testing

/// Signatures, Release fields and hashes: what a mirror says is checked before it is used,
/// and nothing unchecked reaches the cache.
@Suite struct ArchiveIntegrityTests {
    static func read(_ suite: String, mirror: URL, cache: BlobCache? = nil) async throws -> SuiteIndex {
        let repository = try await LocalAptRepository.shared()
        return try await SuiteReader(cache: cache).read(
            SuiteSource(mirror: mirror, suite: suite), components: ["main"], architecture: "amd64",
            keyring: repository.keyring, now: Date())
    }

    static func readError(_ suite: String, cache: BlobCache? = nil) async throws -> DebianError {
        let repository = try await LocalAptRepository.shared()
        return try await serving(repository.root) { url in
            do {
                _ = try await read(suite, mirror: url, cache: cache)
                throw TestSetupError("\(suite) was read")
            } catch let error as DebianError {
                return error
            }
        }
    }

    @Test func anUnsignedInReleaseIsRefused() async throws {
        let error = try await Self.readError("unsigned")
        #expect(error.code == .signature)
        #expect(error.message.contains("InRelease of http://127.0.0.1:"), "\(error)")
        #expect(error.message.contains("unsigned: not signed by a key of"), "\(error)")
    }

    @Test func anInReleaseSignedByAnotherKeyIsRefused() async throws {
        let error = try await Self.readError("wrongkey")
        #expect(error.code == .signature)
        #expect(error.message.contains("wrongkey: not signed by a key of"), "\(error)")
    }

    @Test func anExpiredReleaseIsRefused() async throws {
        let error = try await Self.readError("expired")
        #expect(error.code == .release)
        #expect(error.message.contains("Valid-Until 2026-01-01T00:00:00Z is in the past"), "\(error)")
        #expect(error.message.contains("refresh the mirror"), "\(error)")
    }

    @Test func aTamperedPackagesIndexIsRefusedAndNotCached() async throws {
        try await withScratchDirectory { directory in
            let cache = BlobCache(directory: directory.appendingPathComponent("cache"))
            let error = try await Self.readError("tampered-index", cache: cache)
            #expect(error.code == .integrity)
            #expect(error.message.contains("main/binary-amd64/Packages.xz of http://127.0.0.1:"), "\(error)")
            #expect(error.message.contains("its InRelease says"), "\(error)")
            #expect(!FileManager.default.fileExists(atPath: cache.directory.appendingPathComponent("sha256").path))
        }
    }

    @Test func aSuiteServedUnderAnotherNameIsRefused() async throws {
        let repository = try await LocalAptRepository.shared()
        try await withScratchDirectory { directory in
            let mirror = try repository.copy(to: directory)
            let dists = mirror.appendingPathComponent("dists")
            try FileManager.default.moveItem(
                at: dists.appendingPathComponent("bookworm-security"), to: dists.appendingPathComponent("replayed"))
            do {
                _ = try await Self.read("replayed", mirror: mirror)
                Issue.record("a Release for bookworm-security was taken for 'replayed'")
            } catch let error as DebianError {
                #expect(error.code == .release)
                #expect(error.message.contains("is for suite bookworm-security"), "\(error)")
            }
        }
    }

    @Test func aFileMirrorIsReadLikeAnHTTPOne() async throws {
        let repository = try await LocalAptRepository.shared()
        let index = try await Self.read("bookworm-security", mirror: repository.root)
        #expect(Set(index.packages.map(\.name)) == ["libfoo", "libold"])
        #expect(index.release.files.keys.contains("main/binary-amd64/Packages.gz"))
    }
}

/// `.deb` downloads: checked against `Packages`, cached by hash, written whole or not at all.
@Suite struct PackageFetcherTests {
    @Test func fetchesChecksAndCachesByHash() async throws {
        let repository = try await LocalAptRepository.shared()
        try await withScratchDirectory { directory in
            let cache = BlobCache(directory: directory.appendingPathComponent("cache"))
            let plan = try await serving(repository.root) { url in
                var spec = SuiteSpec(mirror: url, suite: "bookworm", packages: ["ver-user"])
                spec.keyring = repository.keyring
                let plan = try await SuiteReader(cache: cache).plan(spec)
                let paths = try await PackageFetcher(cache: cache).fetchAll(plan.resolution.packages.map(\.package))
                #expect(Set(paths.keys) == ["ver-user", "libold", "libfoo", "libc6"])
                for resolved in plan.resolution.packages {
                    let path = try #require(paths[resolved.package.name])
                    #expect(path == cache.path(for: resolved.package.sha256))
                    #expect(try sha256Digest(Data(contentsOf: URL(fileURLWithPath: path))) == "sha256:" + resolved.package.sha256)
                }
                return plan
            }
            // The server is gone: the packages come from the cache.
            let offline = SuiteSpec(mirror: URL(string: "http://127.0.0.1:9")!, suite: "bookworm", packages: [])
            for resolved in plan.resolution.packages {
                let p = resolved.package
                let package = BinaryPackage(
                    name: p.name, version: p.version, architecture: p.architecture, depends: p.depends, preDepends: p.preDepends,
                    provides: p.provides, essential: p.essential, priority: p.priority, filename: p.filename, size: p.size,
                    sha256: p.sha256, source: p.source, multiArch: p.multiArch, origin: offline.sources[0])
                try await PackageFetcher(cache: cache).fetch(package)
            }
        }
    }

    @Test func aTamperedDebIsRefusedAndNotCached() async throws {
        let repository = try await LocalAptRepository.shared()
        try await withScratchDirectory { directory in
            let cache = BlobCache(directory: directory.appendingPathComponent("cache"))
            try await serving(repository.root) { url in
                let index = try await SuiteReader(cache: nil).read(
                    SuiteSource(mirror: url, suite: "tampered-deb"), components: ["main"], architecture: "amd64",
                    keyring: repository.keyring, now: Date())
                let libfoo = try #require(index.packages.first { $0.name == "libfoo" })
                do {
                    try await PackageFetcher(cache: cache).fetch(libfoo)
                    Issue.record("a tampered .deb was accepted")
                } catch let error as DebianError {
                    #expect(error.code == .integrity)
                    #expect(error.message.contains("libfoo 1.2-1 (pool/tampered-deb/libfoo_1.2-1_amd64.deb)"), "\(error)")
                    #expect(error.message.contains("the Packages index of http://127.0.0.1:"), "\(error)")
                    #expect(error.message.contains("nothing was cached"), "\(error)")
                }
                #expect(!FileManager.default.fileExists(atPath: cache.path(for: libfoo.sha256)))
                let libc = try #require(index.packages.first { $0.name == "libc6" })
                #expect(FileManager.default.fileExists(atPath: try await PackageFetcher(cache: cache).fetch(libc)))
            }
        }
    }
}
