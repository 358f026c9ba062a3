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

    public func lockFile(recipe: String) -> URL {
        root.appendingPathComponent("locks/\(recipe).lock")
    }

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

/// An exclusive, non-blocking lock on one recipe, held across processes (flock).
/// Released when the lock is dropped or the process ends.
final class RecipeLock: @unchecked Sendable {
    private let descriptor: Int32

    /// Nil when another process holds it.
    init?(file: URL) throws(BuildError) {
        let fd = open(file.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw BuildError(.input, "cannot open the lock \(file.path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            return nil
        }
        ftruncate(fd, 0)
        let pid = "\(getpid())\n"
        _ = pid.withCString { write(fd, $0, strlen($0)) }
        descriptor = fd
    }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
