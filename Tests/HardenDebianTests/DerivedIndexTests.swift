import Foundation
import HardenDebian
import HardenTestSupport
import Testing

/// The fields harden reads of a `Packages` index are kept after the first read, so later reads
/// skip the xz; what is kept reads back to the same packages, and a damaged copy is not used.
@Suite struct DerivedIndexTests {
    @Test func aSecondReadUsesTheKeptFieldsAndGivesTheSamePackages() async throws {
        let repository = try await LocalAptRepository.shared()
        try await withScratchDirectory { directory in
            let cache = BlobCache(directory: directory)
            try await serving(repository.root) { url in
                let source = SuiteSource(mirror: url, suite: "bookworm")
                let reader = SuiteReader(cache: cache)
                let first = try await reader.read(
                    source, components: ["main"], architecture: "amd64", keyring: repository.keyring, now: Date())
                let pointers = try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("derived").path)
                #expect(pointers.count == 1 && pointers[0].hasPrefix("packages-"))
                let second = try await reader.read(
                    source, components: ["main"], architecture: "amd64", keyring: repository.keyring, now: Date())
                func fields(_ index: SuiteIndex) -> [String] {
                    index.packages.map {
                        "\($0.name) \($0.version) \($0.architecture) \($0.depends)|\($0.preDepends)|\($0.provides) \($0.essential) \($0.priority ?? "-") \($0.source ?? "-") \($0.multiArch ?? "-") \($0.filename) \($0.size) \($0.sha256)"
                    }
                }
                #expect(fields(first) == fields(second))
                #expect(fields(first).count == LocalAptRepository.main.count)

                // A kept copy changed on disk no longer matches its recorded hash: the index is read again.
                let pointer = directory.appendingPathComponent("derived/\(pointers[0])")
                let kept = String(decoding: try Data(contentsOf: pointer), as: UTF8.self).split(separator: " ")[0]
                let keptFile = URL(fileURLWithPath: cache.path(for: String(kept)))
                var text = try String(contentsOf: keptFile, encoding: .utf8)
                #expect(text.hasPrefix("harden-packages 2\n"), "a line per package")
                text = text.replacingOccurrences(of: "\nlibfoo\t", with: "\nlibfoo-evil\t")
                try text.write(to: keptFile, atomically: true, encoding: .utf8)
                #expect(cache.loadDerived(pointers[0]) == nil)
                let third = try await reader.read(
                    source, components: ["main"], architecture: "amd64", keyring: repository.keyring, now: Date())
                #expect(fields(third) == fields(first))
            }
        }
    }

    /// An air-gapped site's copy of the mirror on disk: the same checks, no HTTP.
    @Test func aFileMirrorIsReadAndCheckedLikeAServedOne() async throws {
        let repository = try await LocalAptRepository.shared()
        try await withScratchDirectory { directory in
            var spec = SuiteSpec(mirror: repository.root, suite: "bookworm", packages: ["libfoo"])
            spec.keyring = repository.keyring
            let plan = try await SuiteReader(cache: BlobCache(directory: directory)).plan(spec)
            #expect(plan.resolution.packages.map { "\($0.package.name) \($0.package.version)" } == ["libc6 2.36-9", "libfoo 1.3-1+deb12u1"])
            let fetched = try await PackageFetcher(cache: BlobCache(directory: directory)).fetch(
                try #require(plan.resolution.packages.last?.package))
            #expect(FileManager.default.fileExists(atPath: fetched))
        }
    }
}
