import Foundation
import HardenEngine
import HardenHistory
import HardenImage

/// The files of a build context as Docker would send them, each with a content hash.
public struct ContextSnapshot: Sendable, Equatable {
    /// Relative path → `sha256:… mode` (symlinks: `link:target`).
    public var files: [String: String]
}

/// Hashes build contexts, honouring `.dockerignore`, reusing hashes of files
/// whose size, mtime and inode are unchanged since the last run.
public final class ContextHasher: @unchecked Sendable {
    private let lock = NSLock()
    private var known: [String: FileHash]
    private var fresh: [FileHash] = []
    private var snapshots: [String: ContextSnapshot] = [:]

    public init(known: [String: FileHash] = [:]) {
        self.known = known
    }

    /// Hashes computed in this run, to be saved for the next.
    public var newHashes: [FileHash] {
        lock.withLock { fresh }
    }

    public func snapshot(of directory: URL) throws(BuildError) -> ContextSnapshot {
        let root = directory.standardizedFileURL.path
        if let cached = lock.withLock({ snapshots[root] }) { return cached }
        var files: [String: String] = [:]
        do {
            try walkHashing(directory, into: &files)
        } catch {
            throw BuildError(.input, error.message, hint: error.hint)
        }
        let snapshot = ContextSnapshot(files: files)
        lock.withLock { snapshots[root] = snapshot }
        return snapshot
    }

    private func walkHashing(_ directory: URL, into files: inout [String: String]) throws(ContextError) {
        try ContextFiles.walk(directory) { (entry) throws(ContextError) in
            switch entry.kind {
            case .directory:
                break
            case .symlink:
                let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: entry.fullPath)) ?? ""
                files[entry.path] = "link:\(target)"
            case .regular:
                files[entry.path] =
                    "\(try contentHash(entry.fullPath, entry.info)) \(String(entry.info.st_mode & 0o7777, radix: 8))"
            }
        }
    }

    private func contentHash(_ path: String, _ info: stat) throws(ContextError) -> String {
        let size = Int64(info.st_size)
        let modified = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        let inode = Int64(bitPattern: UInt64(info.st_ino))
        if let cached = lock.withLock({ known[path] }), cached.size == size, cached.modified == modified, cached.inode == inode {
            return cached.sha256
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ContextError("cannot read \(path)", hint: "check its permissions")
        }
        defer { try? handle.close() }
        var hasher = Hasher256()
        while true {
            let chunk: Data
            do {
                chunk = try handle.read(upToCount: 1 << 20) ?? Data()
            } catch {
                throw ContextError("cannot read \(path): \(error.localizedDescription)")
            }
            if chunk.isEmpty { break }
            hasher.update(chunk)
        }
        let digest = hasher.finalize().description
        let entry = FileHash(path: path, size: size, modified: modified, inode: inode, sha256: digest)
        lock.withLock {
            known[path] = entry
            fresh.append(entry)
        }
        return digest
    }
}
