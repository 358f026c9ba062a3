import Crypto
import Foundation
import HardenArchive
import HardenHTTP

/// Reads files from a mirror: over HTTP(S) through the one HTTP stack, or from a `file://`
/// mirror (an air-gapped copy).
public struct MirrorClient: Sendable {
    private let transport: HTTPTransport
    /// Give up on a download when nothing arrives for this long.
    public var stallSeconds: Double

    public init(transport: HTTPTransport = HTTPTransport(timeoutSeconds: 60), stallSeconds: Double = 30) {
        self.transport = transport
        self.stallSeconds = stallSeconds
    }

    /// The bytes at `url`, at most `limit` of them; `what` names the file in errors.
    public func fetch(_ url: URL, what: String, limit: Int) async throws(DebianError) -> Data {
        if url.isFileURL {
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw DebianError(.fetch, "\(what): cannot read \(url.path); check the file mirror's path")
            }
            guard data.count <= limit else { throw DebianError(.fetch, "\(what): \(url.path) is larger than \(limit) bytes") }
            return data
        }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("harden-debian-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let answer: HTTPDownload
        do {
            answer = try await transport.download(
                HTTPRequest("GET", url), to: scratch.path, stallSeconds: stallSeconds, limit: limit)
        } catch {
            throw DebianError(
                .fetch, "\(what): cannot fetch \(url.absoluteString): \(error.detail); check the mirror URL and the network")
        }
        guard answer.status == 200 else {
            throw DebianError(
                .fetch, "\(what): \(url.absoluteString) answered HTTP \(answer.status); check the mirror URL and the suite name")
        }
        guard let data = FileManager.default.contents(atPath: scratch.path) else {
            throw DebianError(.fetch, "\(what): the download of \(url.absoluteString) left no file at \(scratch.path)")
        }
        return data
    }
}

/// Files kept by their SHA256 (`<directory>/sha256/<hex>`), each written whole or not at all and
/// only after its hash was checked; a cached file is hashed again when read.
public struct BlobCache: Sendable {
    public let directory: URL

    public init(directory: URL) {
        self.directory = directory
    }

    public func path(for sha256: String) -> String {
        directory.appendingPathComponent("sha256").appendingPathComponent(sha256).path
    }

    /// The cached bytes, or nil when absent or damaged (a damaged file is removed).
    public func load(sha256: String, size: Int) -> Data? {
        let path = path(for: sha256)
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        guard data.count == size, Self.sha256(data) == sha256 else {
            try? FileManager.default.removeItem(atPath: path)
            return nil
        }
        return data
    }

    /// Stores bytes whose hash the caller checked.
    public func store(_ data: Data, sha256: String) throws(DebianError) {
        let path = path(for: sha256)
        do {
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try AtomicFile.write(data, to: path)
        } catch {
            throw DebianError(
                .cache, "cannot write the package cache \(path): \(error); check that \(directory.path) is writable")
        }
    }

    /// A file made from a checked one (the fields harden reads of a `Packages` index), kept
    /// under the checked file's hash: `derived/<key>` names the content's SHA256, checked on load.
    public func loadDerived(_ key: String) -> Data? {
        guard let pointer = FileManager.default.contents(atPath: derivedPointer(key)),
            let line = String(data: pointer, encoding: .utf8)?.split(separator: "\n").first
        else { return nil }
        let parts = line.split(separator: " ")
        guard parts.count == 2, let size = Int(parts[1]) else { return nil }
        return load(sha256: String(parts[0]), size: size)
    }

    public func storeDerived(_ data: Data, key: String) throws(DebianError) {
        let digest = Self.sha256(data)
        try store(data, sha256: digest)
        let path = derivedPointer(key)
        do {
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try AtomicFile.write(Data("\(digest) \(data.count)\n".utf8), to: path)
        } catch {
            throw DebianError(.cache, "cannot write the package cache \(path): \(error); check that \(directory.path) is writable")
        }
    }

    private func derivedPointer(_ key: String) -> String {
        directory.appendingPathComponent("derived").appendingPathComponent(key).path
    }

    static func sha256(_ data: Data) -> String {
        SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }
}

/// A file an index vouches for: fetched (or taken from the cache), then checked.
struct VerifiedFetch {
    let mirror: MirrorClient
    let cache: BlobCache?

    func fetch(_ url: URL, size: Int, sha256: String, what: String, vouchedBy index: String) async throws(DebianError)
        -> Data
    {
        if let cached = cache?.load(sha256: sha256, size: size) { return cached }
        // Some slack, so a file a little too long is told apart as such (by the size check below).
        let data = try await mirror.fetch(url, what: what, limit: size + (1 << 20))
        let location = url.isFileURL ? url.path : url.absoluteString
        guard data.count == size else {
            throw DebianError(
                .integrity,
                "\(what): \(location) is \(data.count) bytes, \(index) says \(size); the mirror is inconsistent or tampered with: retry later or use another mirror (nothing was cached)"
            )
        }
        let digest = BlobCache.sha256(data)
        guard digest == sha256 else {
            throw DebianError(
                .integrity,
                "\(what): \(location) has SHA256 \(digest), \(index) says \(sha256); the mirror is inconsistent or tampered with: retry later or use another mirror (nothing was cached)"
            )
        }
        try cache?.store(data, sha256: sha256)
        return data
    }
}
