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
}

/// Opens an image in any form harden accepts and computes its final filesystem, in memory.
///
/// Layers are read in parallel (each from its own stream) and applied in order.
public struct ImageReader: Sendable {
    public var limits: ImageLimits
    public var platform: Platform
    /// Paths (absolute) whose content rules need whole.
    public var capturedPaths: Set<String>

    public init(limits: ImageLimits = ImageLimits(), platform: Platform = .current, capturedPaths: Set<String> = []) {
        self.limits = limits
        self.platform = platform
        self.capturedPaths = capturedPaths
    }

    public func read(_ path: String) throws(ImageError) -> ImageContents {
        let source = try ImageSource.open(path)
        let image = try ImageLocator(limits: limits, platform: platform).locate(source)
        if let actual = image.platform, !actual.matches(platform) {
            throw ImageError(
                source: source.displayName, message: "the image is for \(actual), not \(platform)",
                hint: "pass --platform \(actual) to read it anyway")
        }
        let captured = capturedPaths
        let reader = LayerReader(limits: limits, capture: { captured.contains("/" + $0) })
        let layers = image.layers
        let results = concurrentMap(layers.count) { index -> Result<LayerContents, ImageError> in
            Result { () throws(ImageError) in try reader.read(layers[index], from: source) }
        }
        var filesystem = FileSystemView(symlinkHops: limits.symlinkHops)
        var total: Int64 = 0
        var counts: [Int] = []
        for result in results {
            let layer = try result.get()
            total += layer.uncompressedBytes
            if total > limits.totalBytes {
                throw ImageError(
                    source: source.displayName, message: "the layers add up to more than \(limits.totalBytes) uncompressed bytes (limit)",
                    hint: "raise it with --max-bytes if the image is really that large")
            }
            counts.append(layer.entries.count)
            try filesystem.apply(layer)
        }
        return ImageContents(image: image, filesystem: filesystem, uncompressedBytes: total, layerEntries: counts)
    }
}
