import Foundation

/// The entries of a build context that Docker sends: everything under the context
/// directory that `.dockerignore` does not leave out, in name order, parents first.
/// Directories, regular files and symlinks; sockets, fifos and devices are never sent.
public enum ContextFiles {
    public struct Entry {
        public enum Kind { case directory, regular, symlink }
        /// Relative to the context, `/`-separated.
        public var path: String
        public var fullPath: String
        public var kind: Kind
        public var info: stat
    }

    /// `keeping`: paths sent whatever `.dockerignore` says.
    public static func walk(_ directory: URL, keeping: [String] = [], _ visit: (Entry) throws(ContextError) -> Void)
        throws(ContextError)
    {
        var ignore = DockerIgnore(contextDirectory: directory)
        keeping.forEach { ignore.keep($0) }
        try walk(root: directory.standardizedFileURL.path, relative: "", ignore: ignore, visit)
    }

    private static func walk(
        root: String, relative: String, ignore: DockerIgnore, _ visit: (Entry) throws(ContextError) -> Void
    ) throws(ContextError) {
        let directory = relative.isEmpty ? root : root + "/" + relative
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        } catch {
            throw ContextError("cannot read the build context at \(directory): \(error.localizedDescription)")
        }
        for name in names {
            let path = relative.isEmpty ? name : relative + "/" + name
            let full = root + "/" + path
            var info = stat()
            guard lstat(full, &info) == 0 else {
                throw ContextError("cannot stat \(full): \(String(cString: strerror(errno)))")
            }
            let excluded = ignore.excludes(path)
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                if !excluded { try visit(Entry(path: path, fullPath: full, kind: .directory, info: info)) }
                // An excluded directory can still hold files a `!` rule brings back.
                if !excluded || ignore.mayReinclude(inside: path) { try walk(root: root, relative: path, ignore: ignore, visit) }
            case S_IFLNK:
                if !excluded { try visit(Entry(path: path, fullPath: full, kind: .symlink, info: info)) }
            case S_IFREG:
                if !excluded { try visit(Entry(path: path, fullPath: full, kind: .regular, info: info)) }
            default:
                continue
            }
        }
    }
}
