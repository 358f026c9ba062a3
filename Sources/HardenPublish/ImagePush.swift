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

/// An image manifest in an OCI layout, ready to be pushed as itself: the manifest's exact bytes
/// and the files of the blobs it names.
public struct LayoutImage: Sendable {
    public struct Blob: Sendable {
        public var digest: String
        public var size: Int64
        public var path: String
    }

    public var manifest: Data
    public var mediaType: String
    public var digest: String
    /// The config first, then the layers.
    public var blobs: [Blob]

    /// Reads `index.json` of the layout at `path`: one image manifest, whose bytes must have its
    /// digest and whose blobs must be there with their sizes.
    public static func read(_ path: String) throws(PushError) -> LayoutImage {
        let root = URL(fileURLWithPath: path)
        func blobPath(_ digest: Digest) -> String { root.appendingPathComponent("blobs/sha256/\(digest.hex)").path }
        let indexPath = root.appendingPathComponent("index.json").path
        guard FileManager.default.fileExists(atPath: root.appendingPathComponent("oci-layout").path),
            let indexData = FileManager.default.contents(atPath: indexPath)
        else {
            throw PushError(
                "\(path) is not an OCI layout (no oci-layout and index.json)",
                hint: "push a recipe by name, or an OCI layout that harden build or harden normalize wrote")
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
        return LayoutImage(
            manifest: manifest, mediaType: parsed.mediaType ?? descriptor.mediaType, digest: descriptor.digest.description,
            blobs: blobs)
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
        _ image: LayoutImage, to destination: ImageReference, client: RegistryClient, mountFrom: [String] = [],
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
                try await client.uploadBlob(blob.digest, size: blob.size, file: blob.path, to: destination)
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
