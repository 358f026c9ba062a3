import Foundation
import HardenArchive
import HardenScan

/// The package catalog of an image, kept in the state directory under its image ID (the config
/// digest, which names every layer's contents by diff_id) and the harden executable that made
/// it, so an SBOM for a push needs no second read of the image.
public struct KeptCatalog: Sendable {
    let directory: URL

    public init(state: StateDirectory) {
        directory = state.root.appendingPathComponent("catalogs")
    }

    private struct Kept: Codable {
        var imageID: String
        var harden: String
        var catalog: Catalog
    }

    private func file(_ imageID: String) -> String {
        directory.appendingPathComponent(StateDirectory.hex(imageID) + ".json").path
    }

    /// The kept catalog of `imageID`, made by this harden; nil when there is none (or it is unreadable).
    public func load(imageID: String) -> Catalog? {
        guard let data = FileManager.default.contents(atPath: file(imageID)),
            let kept = try? JSONDecoder().decode(Kept.self, from: data),
            kept.imageID == imageID, kept.harden == KeptVerification.executableIdentity
        else { return nil }
        return kept.catalog
    }

    /// Keeps the catalog; a failure only means the next push reads the image again.
    public func keep(_ catalog: Catalog, imageID: String) {
        let kept = Kept(imageID: imageID, harden: KeptVerification.executableIdentity, catalog: catalog)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(kept),
            (try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)) != nil
        else { return }
        try? AtomicFile.write(data, to: file(imageID))
    }
}
