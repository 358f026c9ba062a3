import Foundation
import HardenSQLite

/// An exclusive, non-blocking lock on one recipe, held across processes of one machine
/// (`flock` on `locks/RECIPE.lock` in the state directory). Released by ``release()``,
/// when the lock is dropped, or when the process ends.
final class FileRecipeLock: RecipeLock, @unchecked Sendable {
    private let lock = NSLock()
    private var descriptor: Int32

    /// Nil when another process (or another lock in this one) holds it.
    init?(file: URL) throws(StoreError) {
        let directory = file.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw StoreError(
                path: directory.path, message: "cannot create the lock directory: \(error.localizedDescription)",
                hint: "check that the state directory is writable")
        }
        let fd = open(file.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw StoreError(
                path: file.path, message: "cannot open the lock: \(String(cString: strerror(errno)))",
                hint: "check that the state directory is writable")
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

    func release() async { unlock() }

    private func unlock() {
        lock.lock()
        defer { lock.unlock() }
        guard descriptor >= 0 else { return }
        flock(descriptor, LOCK_UN)
        close(descriptor)
        descriptor = -1
    }

    deinit { unlock() }
}
