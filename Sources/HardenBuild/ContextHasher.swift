import Foundation
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
        let ignore = DockerIgnore(contextDirectory: directory)
        var files: [String: String] = [:]
        try walk(root: root, relative: "", ignore: ignore, into: &files)
        let snapshot = ContextSnapshot(files: files)
        lock.withLock { snapshots[root] = snapshot }
        return snapshot
    }

    private func walk(root: String, relative: String, ignore: DockerIgnore, into files: inout [String: String]) throws(BuildError)
    {
        let directory = relative.isEmpty ? root : root + "/" + relative
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        } catch {
            throw BuildError(.input, "cannot read the build context at \(directory): \(error.localizedDescription)")
        }
        for name in names {
            let path = relative.isEmpty ? name : relative + "/" + name
            let full = root + "/" + path
            var info = stat()
            guard lstat(full, &info) == 0 else {
                throw BuildError(.input, "cannot stat \(full): \(String(cString: strerror(errno)))")
            }
            let excluded = ignore.excludes(path)
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                if !excluded || ignore.hasExceptions { try walk(root: root, relative: path, ignore: ignore, into: &files) }
            case S_IFLNK:
                if !excluded {
                    let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: full)) ?? ""
                    files[path] = "link:\(target)"
                }
            case S_IFREG:
                if !excluded {
                    files[path] = "\(try contentHash(full, info)) \(String(info.st_mode & 0o7777, radix: 8))"
                }
            default:
                continue
            }
        }
    }

    private func contentHash(_ path: String, _ info: stat) throws(BuildError) -> String {
        let size = Int64(info.st_size)
        let modified = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        let inode = Int64(bitPattern: UInt64(info.st_ino))
        if let cached = lock.withLock({ known[path] }), cached.size == size, cached.modified == modified, cached.inode == inode {
            return cached.sha256
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw BuildError(.input, "cannot read \(path)", hint: "check its permissions")
        }
        defer { try? handle.close() }
        var hasher = Hasher256()
        while true {
            let chunk: Data
            do {
                chunk = try handle.read(upToCount: 1 << 20) ?? Data()
            } catch {
                throw BuildError(.input, "cannot read \(path): \(error.localizedDescription)")
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
