import Foundation
import HardenArchive
import HardenEngine
import HardenImage
import HardenPlan

/// A runtime image as harden ships it: normalized, loaded into the engine under its
/// reproducible ID, and kept in the store as a docker-archive and an OCI layout.
public struct ReproducibleImage: Sendable, Codable, Equatable {
    /// The image ID `docker build` gave (differs on every uncached build).
    public var rawImage: String
    /// The normalized config digest: the engine's image ID once loaded.
    public var image: String
    /// The OCI manifest digest in the layout (what a registry would call the image).
    public var manifestDigest: String
    public var sourceDateEpoch: Int64
    public var archive: String
    public var layout: String
    /// The normalizer that wrote it; a new one normalizes again.
    public var normalizer: String
}

/// Turns the engine's runtime image into its reproducible form (see `ImageNormalizer`) and
/// remembers the result per raw image ID and epoch, so a cached build does not redo it.
struct ReproducibleImages: Sendable {
    var docker: DockerClient
    var state: StateDirectory

    /// Bumped when normalization changes what it writes.
    static let normalizerVersion = "2"

    /// Normalizes `rawImage` (or finds it done), then makes sure the engine has it under `tags`
    /// (`alreadyTagged`: tag → the image it pointed at when planned; those already right are left).
    func produce(
        rawImage: String, recipe: String, epoch: Int64, tags: [String], alreadyTagged: [String: String] = [:]
    ) async throws(BuildError) -> (image: ReproducibleImage, reused: Bool) {
        if let known = known(rawImage: rawImage, recipe: recipe, epoch: epoch) {
            try await tag(known, tags: tags.filter { alreadyTagged[$0] != known.image })
            return (known, true)
        }
        let image = try await normalize(rawImage: rawImage, recipe: recipe, epoch: epoch, into: nil)
        try await load(image)
        try await tag(image, tags: tags)
        let record = state.normalizationRecord(recipe: recipe, imageID: rawImage, epoch: epoch)
        do {
            try AtomicFile.write(ImageWriter.encode(image), to: record.path)
        } catch {
            throw BuildError(.failed, "cannot record the normalization at \(record.path): \(error.localizedDescription)")
        }
        return (image, false)
    }

    /// Saves `rawImage` and normalizes it into the store (`scratch` nil) or into `scratch`
    /// (a second build that is only compared). The raw archive is removed afterwards.
    func normalize(rawImage: String, recipe: String, epoch: Int64, into scratch: URL?) async throws(BuildError)
        -> ReproducibleImage
    {
        let raw =
            scratch?.appendingPathComponent("raw.tar") ?? state.rawImageArchive(recipe: recipe, imageID: rawImage)
        try state.createDirectory(raw.deletingLastPathComponent())
        defer { try? FileManager.default.removeItem(at: raw) }
        do {
            try await docker.save(rawImage, to: raw.path)
        } catch {
            throw BuildError(error.kind == .interrupted ? .interrupted : .failed, "docker save failed: \(error.description)")
        }
        let saved: SavedImage
        do {
            saved = try SavedImage.inspect(path: raw.path)
        } catch {
            throw BuildError(.failed, "the saved image is not readable: \(error.description)")
        }
        guard saved.configDigest.description == rawImage else {
            throw BuildError(.failed, "the saved image \(raw.path) has config \(saved.configDigest), expected \(rawImage)")
        }
        let directory = scratch ?? state.imageArchive(recipe: recipe, imageID: rawImage).deletingLastPathComponent()
        let staging = directory.appendingPathComponent(".normalizing-\(getpid())-\(UUID().uuidString.prefix(8))")
        defer {
            try? FileManager.default.removeItem(at: staging.appendingPathExtension("oci"))
            try? FileManager.default.removeItem(at: staging.appendingPathExtension("tar"))
        }
        let result: NormalizedImage
        do {
            result = try ImageNormalizer(sourceDateEpoch: epoch).normalize(
                raw.path, layout: staging.appendingPathExtension("oci"), dockerArchive: staging.appendingPathExtension("tar"))
        } catch {
            throw BuildError(.failed, "cannot normalize the runtime image \(rawImage): \(error.description)")
        }
        let id = result.configDigest.description
        let archive =
            scratch?.appendingPathComponent("normalized.tar") ?? state.imageArchive(recipe: recipe, imageID: id)
        let layout = scratch?.appendingPathComponent("normalized.oci") ?? state.imageLayout(recipe: recipe, imageID: id)
        do {
            let files = FileManager.default
            for (from, to) in [(staging.appendingPathExtension("oci"), layout), (staging.appendingPathExtension("tar"), archive)]
            {
                if files.fileExists(atPath: to.path) { try files.removeItem(at: to) }
                try files.moveItem(at: from, to: to)
            }
        } catch {
            throw BuildError(.failed, "cannot move the normalized image into \(directory.path): \(error.localizedDescription)")
        }
        return ReproducibleImage(
            rawImage: rawImage, image: id, manifestDigest: result.manifestDigest.description, sourceDateEpoch: epoch,
            archive: archive.path, layout: layout.path, normalizer: Self.normalizerVersion)
    }

    /// A normalization recorded earlier whose archive is still there and intact.
    private func known(rawImage: String, recipe: String, epoch: Int64) -> ReproducibleImage? {
        let record = state.normalizationRecord(recipe: recipe, imageID: rawImage, epoch: epoch)
        guard let data = FileManager.default.contents(atPath: record.path),
            let image = try? JSONDecoder().decode(ReproducibleImage.self, from: data),
            image.normalizer == Self.normalizerVersion,
            FileManager.default.fileExists(atPath: image.layout),
            let saved = try? SavedImage.inspect(path: image.archive), saved.configDigest.description == image.image
        else { return nil }
        return image
    }

    private func load(_ image: ReproducibleImage) async throws(BuildError) {
        let loaded: [String]
        do {
            loaded = try await docker.load(image.archive)
        } catch {
            throw BuildError(
                error.kind == .interrupted ? .interrupted : .failed,
                "docker load of the normalized image failed: \(error.description)")
        }
        guard loaded.isEmpty || loaded.contains(image.image) else {
            throw BuildError(.failed, "docker load gave \(loaded.joined(separator: ", ")), expected \(image.image)")
        }
    }

    /// Tags the normalized image, loading it first when the engine no longer has it.
    private func tag(_ image: ReproducibleImage, tags: [String]) async throws(BuildError) {
        for (index, tag) in tags.enumerated() {
            do {
                try await docker.tag(image.image, as: tag)
            } catch let error where index == 0 && error.kind == .commandFailed {
                try await load(image)
                do { try await docker.tag(image.image, as: tag) } catch { throw tagFailure(tag, error) }
            } catch {
                throw tagFailure(tag, error)
            }
        }
    }

    private func tagFailure(_ tag: String, _ error: DockerError) -> BuildError {
        BuildError(error.kind == .interrupted ? .interrupted : .failed, "cannot tag the image as \(tag): \(error.description)")
    }
}
