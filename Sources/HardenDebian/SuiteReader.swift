import Foundation
import HardenConcurrency
import HardenArchive
import HardenProcess

/// A suite's packages for one architecture, read from its signed index.
public struct SuiteIndex: Sendable {
    public var source: SuiteSource
    public var release: ReleaseFile
    public var packages: [BinaryPackage]
}

/// Reads a suite: `InRelease` fetched and checked with `gpgv` against a keyring, its Release
/// fields checked (suite, `Valid-Until`, architecture, components), then each component's
/// `Packages` index fetched, checked against the Release's SHA256 and size, and parsed.
public struct SuiteReader: Sendable {
    public var mirror: MirrorClient
    public var runner: any ProcessRunning
    /// Where checked indexes are kept by hash; nil keeps nothing.
    public var cache: BlobCache?

    public init(mirror: MirrorClient = MirrorClient(), runner: any ProcessRunning = ProcessRunner(), cache: BlobCache?) {
        self.mirror = mirror
        self.runner = runner
        self.cache = cache
    }

    public func read(
        _ source: SuiteSource, components: [String], architecture: String, keyring: String, now: Date
    ) async throws(DebianError) -> SuiteIndex {
        let name = "InRelease of \(source)"
        let url = source.mirror.appendingPathComponent("dists/\(source.suite)/InRelease")
        let signed = try await mirror.fetch(url, what: name, limit: 64 << 20)
        let text = try await SignatureCheck(runner: runner).verify(signed, keyring: keyring, what: name)
        let release = try ReleaseFile.parse(text, name: name)
        try check(release, name: name, source: source, components: components, architecture: architecture, now: now)
        var packages: [BinaryPackage] = []
        for component in components {
            packages += try await readPackages(
                release, name: name, source: source, component: component, architecture: architecture)
        }
        return SuiteIndex(source: source, release: release, packages: packages)
    }

    private func check(
        _ release: ReleaseFile, name: String, source: SuiteSource, components: [String], architecture: String, now: Date
    ) throws(DebianError) {
        guard release.suite == source.suite || release.codename == source.suite else {
            throw DebianError(
                .release,
                "\(name): the signed Release is for suite \(release.suite ?? "?") (codename \(release.codename ?? "?")), not \(source.suite); the mirror serves another suite under this name: check the mirror"
            )
        }
        if let validUntil = release.validUntil, validUntil < now {
            throw DebianError(
                .release,
                "\(name): Valid-Until \(Self.show(validUntil)) is in the past (now \(Self.show(now))); the mirror is stale or replays an old index: refresh the mirror or use another one"
            )
        }
        if !release.architectures.isEmpty, !release.architectures.contains(architecture) {
            throw DebianError(
                .release,
                "\(name): architecture \(architecture) is not among \(release.architectures.joined(separator: " ")); pick one the suite has"
            )
        }
        for component in components where !release.components.isEmpty {
            guard release.components.contains(where: { $0 == component || $0.hasSuffix("/" + component) }) else {
                throw DebianError(
                    .release,
                    "\(name): component \(component) is not among \(release.components.joined(separator: " ")); pick one the suite has"
                )
            }
        }
    }

    private func readPackages(
        _ release: ReleaseFile, name: String, source: SuiteSource, component: String, architecture: String
    ) async throws(DebianError) -> [BinaryPackage] {
        let base = "\(component)/binary-\(architecture)/Packages"
        // xz first: Release files list the plain index's hash, but mirrors often do not carry it.
        let listed = [".xz", ".zst", ".gz", ""].compactMap { release.files[base + $0] }
        guard !listed.isEmpty else {
            throw DebianError(
                .release, "\(name): lists no \(base)(.xz|.zst|.gz); the suite has no \(component) packages for \(architecture)")
        }
        var failures: [String] = []
        for file in listed {
            let url = source.mirror.appendingPathComponent("dists/\(source.suite)/\(file.path)")
            let what = "\(file.path) of \(source)"
            // The wanted fields of this exact index, kept from an earlier read: no xz, a line per package.
            let key = "packages-v2-\(file.sha256)"
            if let kept = cache?.loadDerived(key), let packages = await blockingWork({ CompactIndex.decode(kept, origin: source) }) {
                return packages
            }
            let compressed: Data
            do {
                compressed = try await VerifiedFetch(mirror: mirror, cache: cache).fetch(
                    url, size: file.size, sha256: file.sha256, what: what, vouchedBy: "its InRelease")
            } catch  where error.code == .fetch {
                failures.append(error.message)
                continue
            }
            let packages = try await blockingWork { () throws(DebianError) in
                try BinaryPackage.parseIndex(try Self.decompress(compressed, what: what), origin: source, name: what)
            }
            if let cache, let compact = CompactIndex.encode(packages) { try? cache.storeDerived(compact, key: key) }
            return packages
        }
        throw DebianError(.fetch, failures.joined(separator: "; "))
    }

    static func decompress(_ data: Data, what: String) throws(DebianError) -> Data {
        do {
            let reader = try ArchiveReader(source: MemorySource(data), name: what, mode: .debianIndex)
            guard try reader.next() != nil else { return Data() }
            return try reader.readData(limit: 1 << 30)
        } catch {
            throw DebianError(.syntax, "\(what): cannot decompress: \(error.message); the file is damaged, refresh the mirror")
        }
    }

    static func show(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}

/// `gpgv` over a clear-signed file; the text returned is what gpgv wrote as signed, so nothing
/// outside the signature is ever read.
struct SignatureCheck {
    let runner: any ProcessRunning

    func verify(_ signed: Data, keyring: String, what: String) async throws(DebianError) -> Data {
        let keyringPath = URL(fileURLWithPath: keyring).standardizedFileURL.path
        guard FileManager.default.isReadableFile(atPath: keyringPath) else {
            throw DebianError(
                .signature, "\(what): the keyring \(keyringPath) cannot be read; install debian-archive-keyring or name a keyring"
            )
        }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("harden-gpgv-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let home = scratch.appendingPathComponent("home")
        let input = scratch.appendingPathComponent("InRelease")
        let output = scratch.appendingPathComponent("Release")
        do {
            try FileManager.default.createDirectory(
                at: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try signed.write(to: input)
        } catch {
            throw DebianError(.signature, "\(what): cannot prepare gpgv's files in \(scratch.path): \(error)")
        }
        let command = Command(
            "gpgv",
            ["--homedir", home.path, "--keyring", keyringPath, "--status-fd", "1", "--output", output.path, input.path],
            timeout: .seconds(60))
        let result: ProcessResult
        do {
            result = try await runner.run(command)
        } catch {
            throw DebianError(.signature, "\(what): \(error.description); install gpgv")
        }
        let status = result.output.split(separator: "\n").filter { $0.hasPrefix("[GNUPG:] ") }
        let good = status.contains { $0.hasPrefix("[GNUPG:] GOODSIG ") }
        guard result.succeeded, good, let text = FileManager.default.contents(atPath: output.path) else {
            let said = result.output.split(separator: "\n").filter { !$0.hasPrefix("[GNUPG:] ") }.joined(separator: " / ")
            throw DebianError(
                .signature,
                "\(what): not signed by a key of \(keyringPath) (gpgv: \(said.isEmpty ? String(describing: result.ending) : said)); check the mirror, or name the keyring that signs this suite"
            )
        }
        return text
    }
}
