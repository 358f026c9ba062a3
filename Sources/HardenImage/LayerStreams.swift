import HardenArchive

/// A layer blob opened for reading: the raw bytes hashed on the way (its digest and size)
/// and the tar inside hashed on the way (its diff_id).
///
/// gzip is inflated by ISA-L, zstd by libarchive; an uncompressed blob is its own tar,
/// so one hash serves as both digest and diff_id.
struct LayerStreams {
    let compressed: HashingSource
    let uncompressed: HashingSource

    /// `name` is how errors name the layer. The media type, when the descriptor gives one,
    /// must agree with the blob's first bytes.
    init(_ layer: LayerRef, from source: ByteSource, name: String, limits: ImageLimits) throws(ArchiveError) {
        let blob = try PeekingSource(source)
        let compression = Compression(magic: blob.head)
        if let declared = layer.mediaType, Compression(mediaType: declared) != compression {
            throw ArchiveError(source: name, message: "is declared \(declared) but its bytes are \(compression)")
        }
        compressed = HashingSource(blob, name: name, limit: layer.size ?? .max)
        let inflated: ByteSource
        switch compression {
        case .none:
            uncompressed = compressed
            return
        case .gzip:
            inflated = GzipInflateSource(compressed, name: name)
        case .zstd:
            let decompressor = try ArchiveReader(source: compressed, name: name, mode: .decompressOnly)
            guard try decompressor.next() != nil else { throw ArchiveError(source: name, message: "is empty") }
            inflated = EntrySource(decompressor)
        }
        uncompressed = HashingSource(inflated, name: name + " (uncompressed)", limit: limits.totalBytes)
    }

    /// Reads what the tar reader left unread, so the hashes cover every byte.
    func drain() throws(ArchiveError) {
        try uncompressed.drain()
        try compressed.drain()
    }

    /// After `drain`: the blob's size and digest and the tar's diff_id.
    func check(_ layer: LayerRef, image: String, name: String) throws(ImageError) {
        if let size = layer.size, compressed.byteCount != size {
            throw ImageError(source: image, message: "\(name) is \(compressed.byteCount) bytes, its descriptor says \(size)")
        }
        if let digest = layer.digest, compressed.digest() != digest.description {
            throw ImageError(
                source: image, message: "\(name): the blob hashes to \(compressed.digest()): it was changed or damaged")
        }
        if uncompressed.digest() != layer.diffID.description {
            throw ImageError(
                source: image,
                message:
                    "\(name): the uncompressed tar hashes to \(uncompressed.digest()), but the config's diff_id is \(layer.diffID)"
            )
        }
    }

    typealias Compression = LayerCompression
}

/// A layer blob's compression, from its first bytes or its media type.
public enum LayerCompression: String, Sendable, Equatable, CustomStringConvertible {
    case none = "an uncompressed tar", gzip = "gzip", zstd = "zstd"

    public init(magic: UnsafeRawBufferPointer) {
        if magic.starts(with: [0x1F, 0x8B]) {
            self = .gzip
        } else if magic.starts(with: [0x28, 0xB5, 0x2F, 0xFD]) {
            self = .zstd
        } else {
            self = .none
        }
    }

    public init(mediaType: String) {
        if mediaType.hasSuffix("gzip") {
            self = .gzip
        } else if mediaType.hasSuffix("zstd") {
            self = .zstd
        } else {
            self = .none
        }
    }

    public var description: String { rawValue }
}
