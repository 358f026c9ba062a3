import Foundation
import HardenArchive

/// The build context as the docker client sends it: the files `.dockerignore` leaves (with
/// their modes and times, owned by root) and the Dockerfile. A Dockerfile inside the context
/// goes as itself, with `.dockerignore`, even when ignored; one from elsewhere goes under a
/// name of its own, which a `.dockerignore` then names so no `COPY .` picks it up.
enum BuildContextTar {
    /// Writes the tar to `path`; returns the Dockerfile's name in it.
    static func write(context: URL, dockerfile: String, to path: String) throws(DockerError) -> String {
        guard let dockerfileText = FileManager.default.contents(atPath: dockerfile) else {
            throw DockerError(.commandFailed, "cannot read \(dockerfile)")
        }
        let contextPath = context.standardizedFileURL.resolvingSymlinksInPath().path
        let dockerfilePath = URL(fileURLWithPath: dockerfile).standardizedFileURL.resolvingSymlinksInPath().path
        let inside = dockerfilePath.hasPrefix(contextPath + "/") ? String(dockerfilePath.dropFirst(contextPath.count + 1)) : nil
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw DockerError(.commandFailed, "cannot write \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        do {
            let writer = try ArchiveWriter(file: descriptor)
            var names = Set<String>()
            var linked: [FileKey: String] = [:]
            let keeping = inside.map { [$0, ".dockerignore"] } ?? []
            try ContextFiles.walk(context, keeping: keeping) { (entry) throws(ContextError) in
                names.insert(entry.path)
                // Sent last, naming the Dockerfile, when that comes from elsewhere.
                if inside == nil && entry.path == ".dockerignore" { return }
                var item = ArchiveEntry(
                    path: entry.path, type: .regular, mode: UInt32(entry.info.st_mode & 0o7777),
                    mtime: Int64(entry.info.st_mtim.tv_sec), xattrs: ArchiveWriter.imageXattrs(of: entry.fullPath))
                switch entry.kind {
                case .directory:
                    item.type = .directory
                    try add(item, to: writer)
                case .symlink:
                    item.type = .symlink
                    item.symlinkTarget = (try? FileManager.default.destinationOfSymbolicLink(atPath: entry.fullPath)) ?? ""
                    try add(item, to: writer)
                case .regular:
                    if entry.info.st_nlink > 1 {
                        let key = FileKey(device: entry.info.st_dev, inode: entry.info.st_ino)
                        if let first = linked[key] {
                            item.type = .hardlink
                            item.hardlinkTarget = first
                            try add(item, to: writer)
                            return
                        }
                        linked[key] = entry.path
                    }
                    // Not followed, never blocking: a file swapped for a symlink or a fifo since it was listed fails.
                    let file = open(entry.fullPath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
                    let code = errno
                    guard file >= 0 else {
                        throw ContextError(
                            "cannot read \(entry.fullPath): \(String(cString: strerror(code)))",
                            hint: "check its permissions, or leave it out with .dockerignore")
                    }
                    defer { close(file) }
                    var info = stat()
                    guard fstat(file, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
                        throw ContextError("\(entry.fullPath) changed while the build context was sent")
                    }
                    item.size = Int64(info.st_size)
                    do {
                        try writer.add(item, contentsOf: file)
                    } catch {
                        throw ContextError("cannot add \(entry.fullPath) to the build context: \(error)")
                    }
                }
            }
            if let inside {
                try writer.finish()
                return inside
            }
            var name = ".dockerfile.harden"
            while names.contains(name) { name += "_" }
            try writer.add(
                ArchiveEntry(path: name, type: .regular, size: Int64(dockerfileText.count), mode: 0o600),
                data: dockerfileText)
            // Like the client: the context's .dockerignore (sent even when it names itself) gains the
            // Dockerfile's name; without one, a .dockerignore naming both is made up.
            let ignorePath = context.appendingPathComponent(".dockerignore").path
            var ignoreInfo = stat()
            let hasIgnore = stat(ignorePath, &ignoreInfo) == 0 && ignoreInfo.st_mode & S_IFMT == S_IFREG
            var ignoreText = Data(".dockerignore".utf8)
            if hasIgnore {
                guard let text = FileManager.default.contents(atPath: ignorePath) else {
                    throw DockerError(.commandFailed, "cannot read \(ignorePath)", hint: "check its permissions")
                }
                ignoreText = text
            }
            ignoreText.append(Data("\n\(name)\n".utf8))
            try writer.add(
                ArchiveEntry(
                    path: ".dockerignore", type: .regular, size: Int64(ignoreText.count),
                    mode: hasIgnore ? UInt32(ignoreInfo.st_mode & 0o7777) : 0o600,
                    mtime: hasIgnore ? Int64(ignoreInfo.st_mtim.tv_sec) : 0),
                data: ignoreText)
            try writer.finish()
            return name
        } catch let error as ContextError {
            throw DockerError(.commandFailed, error.message, hint: error.hint)
        } catch let error as DockerError {
            throw error
        } catch {
            throw DockerError(.commandFailed, "cannot write the build context to \(path): \(error)")
        }
    }

    private struct FileKey: Hashable {
        var device: dev_t
        var inode: ino_t
    }

    /// Adds an entry without contents (a directory, a link).
    private static func add(_ entry: ArchiveEntry, to writer: ArchiveWriter) throws(ContextError) {
        do {
            try writer.add(entry)
        } catch {
            throw ContextError("cannot add \(entry.path) to the build context: \(error)")
        }
    }
}
