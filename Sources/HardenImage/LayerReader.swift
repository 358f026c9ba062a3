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

    static let signatures: [(name: String, bytes: [UInt8], anchor: Int)] = [
        ("busybox", "BusyBox v"), ("busybox", "busybox --list"), ("toybox", "toybox --long"), ("toybox", "Toybox "),
    ].map { name, text in
        let bytes = Array(text.utf8)
        return (name, bytes, bytes.firstIndex(of: UInt8(ascii: "x"))!)
    }
    static let overlap = signatures.map(\.bytes.count).max()! - 1
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
        var entries: [LayerEntry] = []
        let streams: LayerStreams
        do throws(ArchiveError) {
            streams = try LayerStreams(layer, from: opened, name: where_, limits: limits)
            let tar = try ArchiveReader(source: streams.uncompressed, name: where_, mode: .plainTar)
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
            try streams.drain()
        } catch {
            let hint =
                error.code == .limit
                ? "if the image really is that large, raise the limit (--max-bytes, --max-entries, --max-path-length)" : nil
            throw ImageError(source: image, message: Self.describe(error, layer: where_), hint: hint)
        }
        try streams.check(layer, image: image, name: where_)
        return LayerContents(layer: layer, entries: entries, uncompressedBytes: streams.uncompressed.byteCount)
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
        if header.hardlinkTarget == nil, let plain = Self.plainName(raw) { return (plain, .file) }
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

    /// `raw` without its trailing `/` when no component is empty or starts with `.` (so no
    /// `.`, `..` or whiteout to look at): most entries.
    private static func plainName(_ raw: String) -> String? {
        let slash = UInt8(ascii: "/")
        var bytes = raw.utf8[...]
        if bytes.last == slash { bytes = bytes.dropLast() }
        guard !bytes.isEmpty, bytes.last != slash else { return nil }
        var previous = slash
        for byte in bytes {
            if previous == slash, byte == slash || byte == UInt8(ascii: ".") { return nil }
            previous = byte
        }
        return bytes.count == raw.utf8.count ? raw : String(Substring(bytes))
    }

    /// Streams a regular file: its kind, `#!` line, multi-call signature and, when asked, its bytes and hash.
    private func inspectContent(_ tar: ArchiveReader, path: String) throws(ArchiveError) -> ContentFacts {
        var facts = ContentFacts()
        let keep = capture(path)
        var hasher = hashContents ? Hasher256() : nil
        var kept = Data()
        var first = true
        var tail: [UInt8] = []
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
                tail =
                    block.count >= Self.overlap
                    ? Array(block.suffix(Self.overlap))
                    : Array((tail + block).suffix(Self.overlap))  // a block shorter than a signature
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
        if !tail.isEmpty {
            let joined = tail + Array(block.prefix(overlap))
            if let name = joined.withUnsafeBytes({ search($0) }) { return name }
        }
        return search(block)
    }

    /// Every signature contains "ox": one `memchr` pass for the `x`, then each signature is
    /// compared where its own `x` would be.
    private static func search(_ haystack: UnsafeRawBufferPointer) -> String? {
        guard let base = haystack.baseAddress else { return nil }
        let anchor = UInt8(ascii: "x")
        var offset = 1
        while offset < haystack.count, let hit = memchr(base + offset, Int32(anchor), haystack.count - offset) {
            let position = base.distance(to: UnsafeRawPointer(hit))
            offset = position + 1
            guard base.load(fromByteOffset: position - 1, as: UInt8.self) == UInt8(ascii: "o") else { continue }
            for signature in signatures {
                let start = position - signature.anchor
                guard start >= 0, start + signature.bytes.count <= haystack.count else { continue }
                if memcmp(base + start, signature.bytes, signature.bytes.count) == 0 { return signature.name }
            }
        }
        return nil
    }
}
