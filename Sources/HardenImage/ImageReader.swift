import Foundation
import HardenArchive
import HardenConcurrency

/// An image read whole: its documents, every layer checked, and the final filesystem.
public struct ImageContents: Sendable {
    public var image: LocatedImage
    public var filesystem: FileSystemView
    public var uncompressedBytes: Int64
    /// Per layer: index → entries read.
    public var layerEntries: [Int]
    /// Every captured file of every layer, in layer order, including versions a later layer replaced
    /// (the catalog uses them to find the layer that introduced a package).
    public var capturedFiles: [CapturedFile]
    /// Every layer's entries, in layer order, when the reader was asked to keep them.
    public var layers: [LayerContents] = []
}

/// A file whose whole content was kept, as one layer wrote it.
public struct CapturedFile: Sendable {
    public var path: String
    public var layer: Int
    public var data: Data
}

/// Opens an image in any form harden accepts and computes its final filesystem, in memory.
///
/// Layers are read in parallel (each from its own stream) and applied in order.
public struct ImageReader: Sendable {
    public var limits: ImageLimits
    public var platform: Platform
    /// Says which files (absolute paths) are kept whole, for the rules and the catalog.
    public var capture: @Sendable (String) -> Bool
    /// Hash every regular file (`ContentFacts.digest`); costs reading each file whole.
    public var hashContents: Bool
    /// Keep each layer's entries in `ImageContents.layers`.
    public var keepsLayers: Bool

    public init(
        limits: ImageLimits = ImageLimits(), platform: Platform = .current, hashContents: Bool = false,
        keepsLayers: Bool = false, capture: @escaping @Sendable (String) -> Bool = { _ in false }
    ) {
        self.limits = limits
        self.platform = platform
        self.hashContents = hashContents
        self.keepsLayers = keepsLayers
        self.capture = capture
    }

    public func read(_ path: String) throws(ImageError) -> ImageContents {
        try read([path])[0].get()
    }

    /// Reads several images at once; each result stands alone (one unreadable image doesn't stop
    /// the others). The layers of all of them share one pool, the largest first, so a big layer
    /// of one image does not leave a core idle while the other image waits its turn.
    public func read(_ paths: [String]) -> [Result<ImageContents, ImageError>] {
        let located = paths.map { path in Result { () throws(ImageError) in try locate(path) } }
        var jobs: [(image: Int, layer: LayerRef, source: ImageSource, work: Int64)] = []
        for (index, result) in located.enumerated() {
            guard case .success(let image) = result else { continue }
            jobs += image.layers.map { (index, $0, image.source, Self.work($0, in: image.source)) }
        }
        jobs.sort { $0.work > $1.work }
        let capture = capture
        let reader = LayerReader(limits: limits, hashContents: hashContents, capture: { capture("/" + $0) })
        let queue = jobs
        let read = concurrentMap(queue.count) { index in
            Result { () throws(ImageError) in try reader.read(queue[index].layer, from: queue[index].source) }
        }
        return located.enumerated().map { index, result in
            Result { () throws(ImageError) in
                let image = try result.get()
                let mine = zip(queue, read).filter { $0.0.image == index }.sorted { $0.0.layer.index < $1.0.layer.index }
                return try assemble(image, layers: mine.map(\.1))
            }
        }
    }

    /// Opens the image and finds its layers for this platform.
    private func locate(_ path: String) throws(ImageError) -> LocatedImage {
        let source = try ImageSource.open(path)
        let image = try ImageLocator(limits: limits, platform: platform).locate(source)
        if let actual = image.platform, !actual.matches(platform) {
            throw ImageError(
                source: source.displayName, message: "the image is for \(actual), not \(platform)",
                hint: "pass --platform \(actual) to read it anyway")
        }
        return image
    }

    /// Roughly how long a layer takes to read: its stored size, compressed bytes counted
    /// as the several times larger stream they inflate to.
    private static func work(_ layer: LayerRef, in source: ImageSource) -> Int64 {
        let stored = layer.size ?? source.size(of: layer.member) ?? 0
        let compressed = layer.mediaType.map { $0.hasSuffix("gzip") || $0.hasSuffix("zstd") } ?? false
        return compressed ? stored * 8 : stored
    }

    /// The final filesystem and what was captured, from the layers in order.
    private func assemble(_ image: LocatedImage, layers results: [Result<LayerContents, ImageError>]) throws(ImageError)
        -> ImageContents
    {
        var filesystem = FileSystemView(symlinkHops: limits.symlinkHops)
        var total: Int64 = 0
        var counts: [Int] = []
        var captured: [CapturedFile] = []
        var kept: [LayerContents] = []
        for result in results {
            let layer = try result.get()
            total += layer.uncompressedBytes
            try limits.checkTotalBytes(total, of: image.source)
            counts.append(layer.entries.count)
            for entry in layer.entries {
                if let data = entry.content.captured {
                    captured.append(CapturedFile(path: "/" + entry.path, layer: layer.layer.index, data: data))
                }
            }
            try filesystem.apply(layer)
            if keepsLayers { kept.append(layer) }
        }
        return ImageContents(
            image: image, filesystem: filesystem, uncompressedBytes: total, layerEntries: counts, capturedFiles: captured,
            layers: kept)
    }
}
