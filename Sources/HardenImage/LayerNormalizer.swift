import Foundation
import HardenArchive

/// Rewrites one layer into its canonical form: entries sorted by path bytes, every mtime set
/// to the epoch (clamping alone would keep a checkout's or a cached layer's older times), no
/// owner names or access/change times, gzip with no name or time.
struct LayerNormalizer: Sendable {
    var sourceDateEpoch: Int64
    var limits: ImageLimits
    var compression: ArchiveWriter.Compression = .gzip
    var gzipLevel: Int = ImageWriter.gzipLevel
    /// Keep the plain tar beside the blob (for a docker-archive).
    var keepsTar = true

    /// An entry read whole: its canonical path (as bytes, for sorting) and its data.
    struct Item {
        var key: [UInt8]
        var entry: ArchiveEntry
        var data: Data
    }

    /// The normalized blob and the uncompressed bytes read from the original.
    func normalize(_ layer: LayerRef, from source: ImageSource) throws(ImageError) -> (blob: LayerBlob, bytesRead: Int64) {
        let (items, bytesRead) = try read(layer, from: source)
        let canonical = canonicalOrder(items)
        var blob = try ImageWriter.layer(canonical.map { ($0.entry, $0.data) }, compression: compression, level: gzipLevel)
        if !keepsTar { blob.tar = nil }
        return (blob, bytesRead)
    }

    /// Reads every entry, checking the blob digest and the diff_id on the way.
    func read(_ layer: LayerRef, from source: ImageSource) throws(ImageError) -> ([Item], Int64) {
        let image = source.displayName
        let name = "layer \(layer.name)"
        var items: [Item] = []
        let opened = try source.open(layer.member)
        let streams: LayerStreams
        do throws(ArchiveError) {
            streams = try LayerStreams(layer, from: opened, name: name, limits: limits)
            let tar = try ArchiveReader(source: streams.uncompressed, name: name, mode: .plainTar)
            var seen = Set<[UInt8]>()
            while var entry = try tar.next() {
                if items.count >= limits.entries {
                    throw ArchiveError(source: name, message: "has more than \(limits.entries) entries (limit)", code: .limit)
                }
                let key = Self.canonicalPath(entry.path)
                guard seen.insert(key).inserted else {
                    throw ArchiveError(source: name, entry: entry.path, message: "appears twice in the same layer")
                }
                entry.path = key.isEmpty ? "./" : String(decoding: key, as: UTF8.self)
                entry.hardlinkTarget = entry.hardlinkTarget.map { String(decoding: Self.canonicalPath($0), as: UTF8.self) }
                entry.mtime = sourceDateEpoch
                var data = Data()
                if entry.type == .regular {
                    data = try tar.readData(limit: Int(clamping: limits.totalBytes))
                    entry.size = Int64(data.count)
                } else {
                    entry.size = 0
                }
                items.append(Item(key: key, entry: entry, data: data))
            }
            try streams.drain()
        } catch {
            throw ImageError(source: image, message: "\(name): \(error.description)")
        }
        try streams.check(layer, image: image, name: name)
        return (items, streams.uncompressed.byteCount)
    }

    /// `./a/b/`, `/a/b` and `a//b` all become `a/b`; the root becomes empty.
    static func canonicalPath(_ path: String) -> [UInt8] {
        let parts = path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true)
            .filter { !$0.elementsEqual([UInt8(ascii: ".")]) }
        return Array(parts.joined(separator: [UInt8(ascii: "/")]))
    }

    /// Sorts by path bytes, then makes every hardlink point to the first-sorted path of its
    /// group, which carries the data (a link must follow its target in the tar).
    func canonicalOrder(_ items: [Item]) -> [Item] {
        var sorted = items.sorted { $0.key.lexicographicallyPrecedes($1.key) }
        var position: [[UInt8]: Int] = [:]
        for (index, item) in sorted.enumerated() { position[item.key] = index }
        // Each hardlink's group is named by the regular file its chain of links ends at.
        var groups: [Int: [Int]] = [:]
        for (index, item) in sorted.enumerated() where item.entry.type == .hardlink {
            guard let root = rootFile(of: index, in: sorted, position: position) else { continue }
            groups[root, default: [root]].append(index)
        }
        for (root, members) in groups {
            let ordered = members.sorted()
            let carrier = ordered[0]
            let file = sorted[root].entry
            let data = sorted[root].data
            for member in ordered {
                var entry = file
                entry.path = sorted[member].entry.path
                if member == carrier {
                    entry.type = .regular
                    entry.hardlinkTarget = nil
                    sorted[member].data = data
                } else {
                    entry.type = .hardlink
                    entry.size = 0
                    entry.hardlinkTarget = sorted[carrier].entry.path
                    sorted[member].data = Data()
                }
                sorted[member].entry = entry
            }
        }
        return sorted
    }

    /// The regular file a hardlink's chain ends at in this layer (nil: it links below the layer).
    private func rootFile(of index: Int, in items: [Item], position: [[UInt8]: Int]) -> Int? {
        var current = index
        for _ in 0..<limits.symlinkHops {
            guard let target = items[current].entry.hardlinkTarget,
                let next = position[Self.canonicalPath(target)]
            else { return nil }
            if items[next].entry.type == .regular { return next }
            guard items[next].entry.type == .hardlink else { return nil }
            current = next
        }
        return nil
    }
}

extension ImageWriter {
    /// A layer made from entries in memory, in the form `normalize` gives a layer it reads:
    /// paths as `a/b`, sorted by their bytes, hardlinks pointing to the first of their group,
    /// every mtime `sourceDateEpoch`.
    public static func normalizedLayer(
        _ entries: [(ArchiveEntry, Data)], sourceDateEpoch: Int64, compression: ArchiveWriter.Compression = .gzip
    ) throws(ImageError) -> LayerBlob {
        let normalizer = LayerNormalizer(sourceDateEpoch: sourceDateEpoch, limits: ImageLimits(), compression: compression)
        let items = entries.map { entry, data in
            var entry = entry
            let key = LayerNormalizer.canonicalPath(entry.path)
            entry.path = key.isEmpty ? "./" : String(decoding: key, as: UTF8.self)
            entry.hardlinkTarget = entry.hardlinkTarget.map { String(decoding: LayerNormalizer.canonicalPath($0), as: UTF8.self) }
            entry.mtime = sourceDateEpoch
            if entry.type == .regular { entry.size = Int64(data.count) }
            return LayerNormalizer.Item(key: key, entry: entry, data: data)
        }
        return try layer(normalizer.canonicalOrder(items).map { ($0.entry, $0.data) }, compression: compression)
    }
}
