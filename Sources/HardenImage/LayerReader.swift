import Foundation
import HardenArchive

/// What harden learns of a regular file's bytes while they stream past.
public struct ContentFacts: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case empty, elf, script, other }
    public var kind: Kind = .empty
    /// The `#!` line of a script, without `#!`.
    public var interpreter: String?
    /// `busybox` or `toybox` when an ELF carries that multi-call binary's signature.
    public var multiCall: String?
    /// The whole content, for the few files rules read (`/etc/passwd`…).
    public var captured: Data?
    /// The sha256 of the content, when the reader was asked to hash files.
    public var digest: Digest?

    public init() {}
}

/// One entry of a layer, its name checked and normalized (no leading `/` or `./`).
public struct LayerEntry: Sendable {
    public enum Role: Sendable, Equatable {
        case file
        /// `.wh.<name>`: removes `<name>` from the layers below.
        case whiteout(String)
        /// `.wh..wh..opq`: hides everything the layers below have in this directory.
        case opaque
    }
    public var path: String
    public var role: Role
    public var header: ArchiveEntry
    public var content: ContentFacts
}

/// A layer read to the end and checked against its digests.
public struct LayerContents: Sendable {
    public var layer: LayerRef
    public var entries: [LayerEntry]
    public var uncompressedBytes: Int64
}

/// Reads one layer blob: blob bytes → decompressor → tar, hashing the compressed and
/// the uncompressed stream on the way, and checking names as it goes.
public struct LayerReader: Sendable {
    public var limits: ImageLimits
    /// Paths (normalized) whose content is kept whole.
    public var capture: @Sendable (String) -> Bool
    /// Hash every regular file's content (reads each file to its end).
    public var hashContents: Bool

    static let signatures: [(name: String, bytes: [UInt8])] = [
        ("busybox", Array("BusyBox v".utf8)), ("busybox", Array("busybox --list".utf8)),
        ("toybox", Array("toybox --long".utf8)), ("toybox", Array("Toybox ".utf8)),
    ]
    static let captureLimit = 8 << 20
    static let emptyDigest = Digest.sha256(Data())

    public init(
        limits: ImageLimits = ImageLimits(), hashContents: Bool = false,
        capture: @escaping @Sendable (String) -> Bool = { _ in false }
    ) {
        self.limits = limits
        self.hashContents = hashContents
        self.capture = capture
    }

    public func read(_ layer: LayerRef, from source: ImageSource) throws(ImageError) -> LayerContents {
        let image = source.displayName
        let where_ = "layer \(layer.name)"
        let opened = try source.open(layer.member)
        let blob: PeekingSource
        do throws(ArchiveError) {
            blob = try PeekingSource(opened)
        } catch {
            throw ImageError(source: image, message: "\(where_): \(error.description)")
        }
        let compression = Compression(magic: blob.head)
        if let declared = layer.mediaType.map(Compression.init(mediaType:)), declared != compression {
            throw ImageError(
                source: image, message: "\(where_) is declared \(layer.mediaType ?? "") but its bytes are \(compression)")
        }
        let compressed = HashingSource(blob, name: where_, limit: layer.size ?? .max)
        var entries: [LayerEntry] = []
        let uncompressed: HashingSource
        do throws(ArchiveError) {
            if compression == .none {
                uncompressed = compressed  // the blob is the tar: one hash serves as digest and diff_id
            } else {
                let decompressor = try ArchiveReader(source: compressed, name: where_, mode: .decompressOnly)
                guard try decompressor.next() != nil else { throw ArchiveError(source: where_, message: "is empty") }
                uncompressed = HashingSource(
                    EntrySource(decompressor), name: where_ + " (uncompressed)", limit: limits.totalBytes)
            }
            let tar = try ArchiveReader(source: uncompressed, name: where_, mode: .plainTar)
            var seen = Set<String>()
            while let header = try tar.next() {
                if entries.count >= limits.entries {
                    throw ArchiveError(source: where_, message: "has more than \(limits.entries) entries (limit)", code: .limit)
                }
                guard let entry = try classify(header, layer: where_) else { continue }
                guard seen.insert(entry.role == .opaque ? entry.path + "/.wh..wh..opq" : entry.path).inserted else {
                    throw ArchiveError(source: where_, entry: header.path, message: "appears twice in the same layer")
                }
                var facts = ContentFacts()
                if header.type == .hardlink, header.size > 0 {
                    throw ArchiveError(
                        source: where_, entry: header.path,
                        message: "is a hardlink that carries \(header.size) bytes of data; a hardlink has none")
                }
                if header.type == .regular, case .file = entry.role {
                    if header.size > 0 {
                        facts = try inspectContent(tar, path: entry.path)
                    } else if hashContents {
                        facts.digest = Self.emptyDigest
                    }
                }
                entries.append(LayerEntry(path: entry.path, role: entry.role, header: header, content: facts))
            }
            try uncompressed.drain()
            try compressed.drain()
        } catch {
            let hint =
                error.code == .limit
                ? "if the image really is that large, raise the limit (--max-bytes, --max-entries, --max-path-length)" : nil
            throw ImageError(source: image, message: Self.describe(error, layer: where_), hint: hint)
        }
        if let size = layer.size, compressed.byteCount != size {
            throw ImageError(source: image, message: "\(where_) is \(compressed.byteCount) bytes, its descriptor says \(size)")
        }
        if let digest = layer.digest, compressed.digest() != digest.description {
            throw ImageError(
                source: image, message: "\(where_): the blob hashes to \(compressed.digest()): it was changed or damaged")
        }
        if uncompressed.digest() != layer.diffID.description {
            throw ImageError(
                source: image,
                message:
                    "\(where_): the uncompressed tar hashes to \(uncompressed.digest()), but the config's diff_id is \(layer.diffID)"
            )
        }
        return LayerContents(layer: layer, entries: entries, uncompressedBytes: uncompressed.byteCount)
    }

    /// A layer blob's compression, from its first bytes or its media type.
    enum Compression: String, Equatable, CustomStringConvertible {
        case none = "an uncompressed tar", gzip = "gzip", zstd = "zstd"

        init(magic: UnsafeRawBufferPointer) {
            if magic.starts(with: [0x1F, 0x8B]) {
                self = .gzip
            } else if magic.starts(with: [0x28, 0xB5, 0x2F, 0xFD]) {
                self = .zstd
            } else {
                self = .none
            }
        }

        init(mediaType: String) {
            if mediaType.hasSuffix("gzip") {
                self = .gzip
            } else if mediaType.hasSuffix("zstd") {
                self = .zstd
            } else {
                self = .none
            }
        }

        var description: String { rawValue }
    }

    private static func describe(_ error: ArchiveError, layer: String) -> String {
        let message = error.source == layer || error.source.hasPrefix(layer) ? error.message : "\(error.source): \(error.message)"
        return "\(layer)" + (error.entry.map { ": entry \($0)" } ?? "") + ": \(message)"
    }

    /// Checks an entry's name; returns nil for the root directory itself.
    private func classify(_ header: ArchiveEntry, layer: String) throws(ArchiveError) -> (path: String, role: LayerEntry.Role)? {
        let raw = header.path
        func invalid(_ why: String) -> ArchiveError {
            ArchiveError(source: layer, entry: raw, message: why)
        }
        if raw.utf8.count > limits.pathLength {
            throw ArchiveError(
                source: layer, entry: String(raw.prefix(80)) + "…",
                message: "name is longer than \(limits.pathLength) bytes (limit)", code: .limit)
        }
        if raw.hasPrefix("/") { throw invalid("is an absolute name; layer entries are relative to the image root") }
        var parts: [Substring] = []
        for part in raw.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." { throw invalid("has a '..' component, which would escape or climb the image root") }
            parts.append(part)
        }
        guard let last = parts.last else { return nil }
        let parent = parts.dropLast().joined(separator: "/")
        if last == ".wh..wh..opq" {
            return (parent, .opaque)
        }
        if last.hasPrefix(".wh.") {
            let hidden = last.dropFirst(4)
            if hidden.isEmpty || hidden == "." || hidden == ".." { throw invalid("is a whiteout with no name") }
            if hidden.hasPrefix(".wh.") { throw invalid("is a whiteout of a whiteout") }
            let target = parent.isEmpty ? String(hidden) : parent + "/" + hidden
            return (parent.isEmpty ? String(last) : parent + "/" + last, .whiteout(target))
        }
        if let target = header.hardlinkTarget {
            if target.hasPrefix("/") || target.split(separator: "/").contains("..") {
                throw invalid("is a hardlink to '\(target)', outside the layer's relative names")
            }
        }
        return (parts.joined(separator: "/"), .file)
    }

    /// Streams a regular file: its kind, `#!` line, multi-call signature and, when asked, its bytes and hash.
    private func inspectContent(_ tar: ArchiveReader, path: String) throws(ArchiveError) -> ContentFacts {
        var facts = ContentFacts()
        let keep = capture(path)
        var hasher = hashContents ? Hasher256() : nil
        var kept = Data()
        var first = true
        var tail: [UInt8] = []
        let overlap = Self.signatures.map(\.bytes.count).max()! - 1
        while true {
            let block = try tar.readBlock()
            if block.isEmpty { break }
            hasher?.update(block)
            if first {
                first = false
                if block.starts(with: [0x7F, 0x45, 0x4C, 0x46]) {
                    facts.kind = .elf
                } else if block.starts(with: [0x23, 0x21]) {
                    facts.kind = .script
                    let line = block.prefix(512).prefix { $0 != 0x0A }.dropFirst(2)
                    facts.interpreter = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespaces)
                } else {
                    facts.kind = .other
                }
            }
            if keep {
                if kept.count + block.count > Self.captureLimit {
                    throw ArchiveError(
                        source: path, message: "is larger than \(Self.captureLimit) bytes, too large to read as a text file",
                        code: .limit)
                }
                kept.append(contentsOf: block)
            }
            if facts.kind == .elf, facts.multiCall == nil {
                facts.multiCall = Self.findSignature(tail, block)
                tail = Array(block.suffix(overlap))
            }
            if !keep, hasher == nil, facts.kind != .elf || facts.multiCall != nil {
                // Nothing more to learn from this file; the tar reader skips the rest (still hashed).
                break
            }
        }
        if keep { facts.captured = kept }
        facts.digest = hasher?.finalize()
        return facts
    }

    private static func findSignature(_ tail: [UInt8], _ block: UnsafeRawBufferPointer) -> String? {
        for signature in signatures {
            if !tail.isEmpty {
                let joined = tail + Array(block.prefix(signature.bytes.count - 1))
                if search(joined.withUnsafeBytes { $0 }, for: signature.bytes) { return signature.name }
            }
            if search(block, for: signature.bytes) { return signature.name }
        }
        return nil
    }

    private static func search(_ haystack: UnsafeRawBufferPointer, for needle: [UInt8]) -> Bool {
        guard let base = haystack.baseAddress, let first = needle.first, haystack.count >= needle.count else { return false }
        var offset = 0
        let last = haystack.count - needle.count
        return needle.withUnsafeBytes { pattern in
            while offset <= last {
                guard let hit = memchr(base + offset, Int32(first), last - offset + 1) else { return false }
                let position = base.distance(to: UnsafeRawPointer(hit))
                if let bytes = pattern.baseAddress, memcmp(base + position, bytes, needle.count) == 0 { return true }
                offset = position + 1
            }
            return false
        }
    }
}
