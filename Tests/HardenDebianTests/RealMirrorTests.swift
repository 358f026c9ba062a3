import Foundation
import HardenDebian
import HardenHTTP
import HardenTestSupport
import Testing

/// Debian's own mirror, as the host's apt sources name it: the Python runtime's packages for
/// bookworm resolve with the real archive keyring. Skipped when the mirror cannot be reached.
@Suite struct RealMirrorTests {
    static let keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"

    static func hostMirror(for suite: String) -> URL? { AptSources.mirror(for: suite) }

    static func reachable() async -> Bool {
        guard let mirror = hostMirror(for: "bookworm"), FileManager.default.fileExists(atPath: keyring) else { return false }
        let request = HTTPRequest("HEAD", mirror.appendingPathComponent("dists/bookworm/InRelease"))
        return (try? await HTTPTransport(timeoutSeconds: 5).send(request).status) == 200
    }

    @Test(.enabled("skipped: mirror unreachable") { await reachable() }, .timeLimit(.minutes(3)))
    func pythonRuntimeResolvesForBookworm() async throws {
        let mirror = try #require(Self.hostMirror(for: "bookworm"))
        var spec = SuiteSpec(
            mirror: mirror, suite: "bookworm",
            packages: ["python3.11-minimal", "libpython3.11-stdlib", "ca-certificates", "tzdata", "netbase"])
        spec.securityMirror = Self.hostMirror(for: "bookworm-security")
        spec.keyring = Self.keyring
        let clock = ContinuousClock()
        let reader = SuiteReader(cache: nil)
        var indexes: [SuiteIndex] = []
        let reading = try await clock.measure {
            for source in spec.sources {
                indexes.append(
                    try await reader.read(source, components: ["main"], architecture: "amd64", keyring: Self.keyring, now: Date())
                )
            }
        }
        // Heavy and synchronous: off the cooperative pool, which other suites' timers need.
        let (read, request) = (indexes, spec.request)
        let (result, indexing, resolving) = try await offThePool { () throws -> (Resolution, Duration, Duration) in
            let clock = ContinuousClock()
            var resolver: Resolver?
            var resolution: Resolution?
            let indexing = clock.measure { resolver = Resolver(indexes: read, architecture: "amd64") }
            let resolving = try clock.measure { resolution = try resolver?.resolve(request) }
            return (try #require(resolution), indexing, resolving)
        }
        let names = Set(result.packages.map(\.package.name))
        print(
            "bookworm: \(indexes.map { "\($0.source.suite) \($0.packages.count)" }.joined(separator: ", ")) packages read in \(reading), indexed in \(indexing), closure of \(names.count) resolved in \(resolving)"
        )
        for broken in result.broken { print("  broken on purpose: \(broken)") }
        #expect(names.isSuperset(of: ["python3.11-minimal", "libpython3.11-stdlib", "libc6", "libssl3", "tzdata", "netbase"]))
        #expect(names.filter(ForbiddenPackages.contains).isEmpty)
        #expect(result.broken.contains { $0.dropped.contains("debconf") })
        #expect(!names.contains("debconf") && !names.contains("perl-base"))
        #expect(indexes.map(\.source.suite) == ["bookworm", "bookworm-updates", "bookworm-security"])

        // Fetched and unpacked: xz and zstd data.tar members, real usr/lib layouts.
        let cache = BlobCache(
            directory: FileManager.default.temporaryDirectory.appendingPathComponent("harden-debs-\(UUID().uuidString)"))
        defer { try? FileManager.default.removeItem(at: cache.directory) }
        var files: [PackageFile] = []
        let fetching = try await clock.measure {
            for resolved in result.packages {
                files.append(PackageFile(resolved.package, path: try await PackageFetcher(cache: cache).fetch(resolved.package)))
            }
        }
        let packages = files
        let (assembled, assembling) = try await offThePool { () throws -> (Assembly, Duration) in
            var assembly: Assembly?
            let assembling = try ContinuousClock().measure { assembly = try Assembler().assemble(packages) }
            return (try #require(assembly), assembling)
        }
        print("fetched in \(fetching), assembled \(assembled.owners.count) paths (\(assembled.layers[0].data.count) bytes gzip) in \(assembling)")
        for conflict in assembled.conflicts { print("  conflict: \(conflict)") }
        #expect(assembled.owners["usr/bin/python3.11"] == "python3.11-minimal")
        #expect(assembled.owners["etc/ssl/certs"] != nil || assembled.owners["usr/share/ca-certificates"] != nil)
        #expect(assembled.owners["var/lib/dpkg/status.d/libssl3"] == "harden")
    }
}
