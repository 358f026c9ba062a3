import Foundation
import HardenImage
import HardenRegistry

/// A push that could not be done: what, where (the layout file, the registry step) and what to do.
public struct PushError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var hint: String?

    public init(_ message: String, hint: String? = nil) {
        self.message = message
        self.hint = hint
    }

    public var description: String { message + (hint.map { "\n  hint: \($0)" } ?? "") }
}

/// An image ready to be pushed as itself: the manifest's exact bytes and where the bytes of
/// the blobs it names lie (files of an OCI layout, or members of an archive read in place).
public struct PushableImage: Sendable {
    public struct Blob: Sendable {
        public var digest: String
        public var size: Int64
        public var path: String
        /// Where the blob starts in `path` (0 for a layout's blob file).
        public var offset: Int64 = 0
    }

    public var manifest: Data
    public var mediaType: String
    public var digest: String
    /// The config first, then the layers.
    public var blobs: [Blob]
    /// True when harden wrote the manifest: a classic docker-archive has none of its own.
    public var manifestComposed = false

    /// An OCI layout directory, an OCI archive or a docker-archive (`docker save`).
    public static func read(_ path: String) throws(PushError) -> PushableImage {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw PushError("\(path): no such file or directory")
        }
        return isDirectory.boolValue ? try layout(path) : try archive(path)
    }

    /// Reads `index.json` of the layout at `path`: one image manifest, whose bytes must have its
    /// digest and whose blobs must be there with their sizes.
    static func layout(_ path: String) throws(PushError) -> PushableImage {
        let root = URL(fileURLWithPath: path)
        func blobPath(_ digest: Digest) -> String { root.appendingPathComponent("blobs/sha256/\(digest.hex)").path }
        let indexPath = root.appendingPathComponent("index.json").path
        guard FileManager.default.fileExists(atPath: root.appendingPathComponent("oci-layout").path),
            let indexData = FileManager.default.contents(atPath: indexPath)
        else {
            throw PushError(
                "\(path) is not an OCI layout (no oci-layout and index.json)",
                hint: "push a recipe by name, an OCI layout that harden build or harden normalize wrote, or a docker-archive")
        }
        guard let index = try? JSONDecoder().decode(ImageIndex.self, from: indexData) else {
            throw PushError("\(indexPath): not an OCI image index")
        }
        guard index.manifests.count == 1, let descriptor = index.manifests.first,
            MediaType.manifests.contains(descriptor.mediaType)
        else {
            throw PushError(
                "\(indexPath) lists \(index.manifests.count) entries (\(index.manifests.map(\.mediaType).joined(separator: ", "))); "
                    + "harden pushes a layout of one image manifest",
                hint: "push a layout of one image, as harden build and harden normalize write")
        }
        guard let manifest = FileManager.default.contents(atPath: blobPath(descriptor.digest)),
            Digest.sha256(manifest) == descriptor.digest
        else {
            throw PushError(
                "\(blobPath(descriptor.digest)): missing, or not the manifest \(descriptor.digest) that index.json names")
        }
        guard let parsed = try? JSONDecoder().decode(ImageManifest.self, from: manifest), parsed.manifests == nil,
            parsed.mediaType == nil || parsed.mediaType == descriptor.mediaType
        else {
            throw PushError(
                "\(blobPath(descriptor.digest)): not an image manifest of the type index.json gives (\(descriptor.mediaType))")
        }
        let inside = root.resolvingSymlinksInPath().path + "/"
        var blobs: [Blob] = []
        for blob in [parsed.config] + parsed.layers {
            // Only regular files of this layout are sent, through links or not.
            let file = URL(fileURLWithPath: blobPath(blob.digest)).resolvingSymlinksInPath().path
            let attributes = try? FileManager.default.attributesOfItem(atPath: file)
            guard file.hasPrefix(inside), attributes == nil || attributes?[.type] as? FileAttributeType == .typeRegular else {
                throw PushError("\(blobPath(blob.digest)): not a file inside the layout (\(file))")
            }
            let size = attributes?[.size] as? Int64
            guard size == blob.size else {
                throw PushError(
                    "\(file): " + (size == nil ? "missing" : "\(size ?? 0) bytes, the manifest says \(blob.size)"),
                    hint: "the layout is incomplete or damaged: build or normalize the image again")
            }
            blobs.append(Blob(digest: blob.digest.description, size: blob.size, path: file))
        }
        return PushableImage(
            manifest: manifest, mediaType: parsed.mediaType ?? descriptor.mediaType, digest: descriptor.digest.description,
            blobs: blobs)
    }

    /// An image archive, its members sent in place. An OCI archive (and a docker-archive of
    /// docker 25 or later) carries its manifest, which is pushed as it is; for a classic
    /// docker-archive harden writes an OCI manifest naming the config and the layers as they are
    /// in the archive (uncompressed layers: their digests are the config's diff_ids), so the
    /// pushed image keeps its image ID and the same archive always gives the same digest.
    static func archive(_ path: String) throws(PushError) -> PushableImage {
        let located: LocatedImage
        do {
            located = try ImageLocator().locate(try ImageSource.open(path))
        } catch {
            throw PushError(
                error.description, hint: "push a recipe by name, an OCI layout, an OCI archive or a docker-archive (docker save)")
        }
        let source = located.source
        func span(_ member: String, what: String) throws(PushError) -> (path: String, offset: Int64, size: Int64) {
            guard let span = source.span(of: member) else {
                throw PushError(
                    "\(path): \(what) (\(member)) is not stored as it is in the archive (a compressed tar?)",
                    hint: "decompress the archive, or push its OCI layout")
            }
            return span
        }
        let config = try span(located.configMember, what: "the config")
        var blobs = [Blob(digest: located.configDigest.description, size: config.size, path: config.path, offset: config.offset)]
        if let manifestDigest = located.manifestDigest {
            let manifest: Data
            do {
                manifest = try source.read("blobs/sha256/\(manifestDigest.hex)", limit: 4 << 20)
            } catch {
                throw PushError(error.description)
            }
            guard let parsed = try? JSONDecoder().decode(ImageManifest.self, from: manifest) else {
                throw PushError("\(path): manifest \(manifestDigest) is not an image manifest")
            }
            for layer in parsed.layers {
                let member = try span("blobs/sha256/\(layer.digest.hex)", what: "layer \(layer.digest)")
                blobs.append(Blob(digest: layer.digest.description, size: member.size, path: member.path, offset: member.offset))
            }
            return PushableImage(
                manifest: manifest, mediaType: parsed.mediaType ?? MediaType.ociManifest,
                digest: manifestDigest.description, blobs: blobs)
        }
        var layers: [Descriptor] = []
        for layer in located.layers {
            let member = try span(layer.member, what: "layer \(layer.index + 1)")
            guard try isPlainTar(member) else {
                throw PushError(
                    "\(path): layer \(layer.member) is compressed; harden pushes a docker-archive's layers as they are, "
                        + "and their digests would not be the config's diff_ids",
                    hint: "harden normalize the archive to an OCI layout and push that")
            }
            layers.append(
                Descriptor(mediaType: "application/vnd.oci.image.layer.v1.tar", digest: layer.diffID, size: member.size))
            blobs.append(Blob(digest: layer.diffID.description, size: member.size, path: member.path, offset: member.offset))
        }
        let manifest = ImageWriter.encode(
            ImageManifest(
                schemaVersion: 2, mediaType: MediaType.ociManifest,
                config: Descriptor(mediaType: MediaType.ociConfig, digest: located.configDigest, size: config.size),
                layers: layers))
        return PushableImage(
            manifest: manifest, mediaType: MediaType.ociManifest, digest: Digest.sha256(manifest).description, blobs: blobs,
            manifestComposed: true)
    }

    /// False for a gzip or zstd stream, by its first bytes (as the layer reader tells them).
    private static func isPlainTar(_ span: (path: String, offset: Int64, size: Int64)) throws(PushError) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: span.path) else { throw PushError("cannot read \(span.path)") }
        defer { try? handle.close() }
        let head: Data
        do {
            try handle.seek(toOffset: UInt64(span.offset))
            head = try handle.read(upToCount: 4) ?? Data()
        } catch {
            throw PushError("cannot read \(span.path): \(error.localizedDescription)")
        }
        return head.withUnsafeBytes { LayerCompression(magic: $0) } == .none
    }
}

/// What a push did.
public struct PushResult: Sendable, Codable, Equatable {
    public var destination: String
    /// The digest harden computed, which the registry reported back.
    public var manifestDigest: String
    public var blobsSent: Int
    public var blobsPresent: Int
    /// Linked from another repository of the same registry instead of sent.
    public var blobsMounted: Int
    public var bytesSent: Int64
    /// What signing attached, when the push was signed.
    public var signatures: [AttachedSignature]?
}

/// Pushing an image as itself: blobs the registry lacks, then the manifest's exact bytes, so
/// the registry stores it under the digest harden computed.
public enum ImagePush {
    /// `mountFrom`: other repositories of the destination's registry that may hold the blobs
    /// (where harden pushed before, newest first); a missing blob is mounted from them if the
    /// registry will, and sent otherwise.
    public static func push(
        _ image: PushableImage, to destination: ImageReference, client: RegistryClient, mountFrom: [String] = [],
        progress: @Sendable (String) -> Void = { _ in }
    ) async throws(PushError) -> PushResult {
        var result = PushResult(
            destination: destination.description, manifestDigest: image.digest, blobsSent: 0, blobsPresent: 0,
            blobsMounted: 0, bytesSent: 0)
        let sources = Array(mountFrom.filter { $0 != destination.repository }.prefix(3))
        do throws(RegistryError) {
            for blob in image.blobs {
                if try await client.hasBlob(blob.digest, in: destination) {
                    result.blobsPresent += 1
                    continue
                }
                var mounted = false
                for source in sources where !mounted {
                    mounted = try await client.mountBlob(blob.digest, from: source, to: destination)
                }
                if mounted {
                    result.blobsMounted += 1
                    continue
                }
                progress("push: sending \(blob.digest) (\(blob.size) bytes)")
                try await client.uploadBlob(blob.digest, size: blob.size, file: blob.path, offset: blob.offset, to: destination)
                result.blobsSent += 1
                result.bytesSent += blob.size
            }
            // A registry may leave out Docker-Content-Digest: then the tag is asked.
            var stored = try await client.putManifest(image.manifest, mediaType: image.mediaType, to: destination)
            if stored == nil { stored = try await client.digest(of: destination) }
            guard stored == image.digest else {
                throw RegistryError(
                    .unexpectedResponse,
                    "\(destination.apiHost) stored the manifest of \(destination) as \(stored ?? "?"), not as \(image.digest)",
                    hint: "the registry rewrote the manifest: the tag now points at what it stored, which is not harden's image")
            }
        } catch {
            throw PushError("push to \(destination): \(error.message)", hint: error.hint)
        }
        return result
    }
}
