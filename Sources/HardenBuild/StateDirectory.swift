import Foundation
import HardenEngine
import HardenPlan

/// harden's own directory (default `.harden/`): the history database, build
/// logs, saved images and locks. harden writes nowhere else.
public struct StateDirectory: Sendable {
    public var root: URL

    public init(root: URL) {
        self.root = root.standardizedFileURL
    }

    public var database: URL { root.appendingPathComponent("harden.db") }
    /// The advisory database `harden advisories sync` and `import` write.
    public var advisories: URL { root.appendingPathComponent("advisories.db") }

    /// Each recipe's SOURCE_DATE_EPOCH from git, with the commit it is the answer for.
    public var sourceDateEpochs: CommitEpochCache {
        CommitEpochCache(directory: root.appendingPathComponent("source-date-epochs"))
    }

    /// Checked `.deb` files and Debian indexes, by SHA256.
    public var debianCache: URL { root.appendingPathComponent("debian") }

    public func buildDirectory(recipe: String, build: Int64) -> URL {
        root.appendingPathComponent("builds/\(recipe)/\(build)")
    }

    public func imageArchive(recipe: String, imageID: String) -> URL {
        root.appendingPathComponent("images/\(recipe)/\(Self.hex(imageID)).tar")
    }

    /// The normalized image's OCI layout, kept for pushing.
    public func imageLayout(recipe: String, imageID: String) -> URL {
        root.appendingPathComponent("images/\(recipe)/\(Self.hex(imageID)).oci")
    }

    /// The engine's own image, saved only while it is normalized.
    public func rawImageArchive(recipe: String, imageID: String) -> URL {
        root.appendingPathComponent("images/\(recipe)/raw/\(Self.hex(imageID)).tar")
    }

    /// What normalizing the engine's image `imageID` at `epoch` gave (so a cached build skips it).
    public func normalizationRecord(recipe: String, imageID: String, epoch: Int64) -> URL {
        root.appendingPathComponent("images/\(recipe)/raw/\(Self.hex(imageID))@\(epoch).json")
    }

    static func hex(_ imageID: String) -> String {
        imageID.hasPrefix("sha256:") ? String(imageID.dropFirst(7)) : imageID
    }

    /// The SQLite history's per-recipe lock files (`BuildStore(path:locks:)`).
    public var locks: URL { root.appendingPathComponent("locks") }

    func createDirectory(_ url: URL) throws(BuildError) {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw BuildError(
                .input, "cannot create \(url.path): \(error.localizedDescription)",
                hint: "check that the state directory is writable")
        }
    }
}
