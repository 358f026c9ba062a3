import Foundation
import HardenArchive

/// One file of the final filesystem.
public struct FileNode: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable { case file, directory, symlink, characterDevice, blockDevice, fifo, socket }
    public var kind: Kind
    /// Permission bits with setuid, setgid and sticky.
    public var mode: UInt32
    public var uid: Int64
    public var gid: Int64
    public var size: Int64
    public var mtime: Int64
    public var linkTarget: String?
    /// For a file added as a hardlink: the path it links to (at the time it was added).
    public var hardlinkOf: String?
    /// The layer (index) whose entry produced this node.
    public var layer: Int
    public var content: ContentFacts

    public var isExecutable: Bool { kind == .file && mode & 0o111 != 0 }
}

/// The filesystem an image's layers add up to, built by applying them in order under
/// the OCI layer rules (whiteouts, opaque directories, replacements, hardlinks).
public struct FileSystemView: Sendable {
    public private(set) var nodes: [String: FileNode] = [:]
    private var children: [String: Set<String>] = ["/": []]
    /// Parent path as a layer names it → the directory it resolved to. Once made, every path a
    /// resolution went through exists, so a node added at a new path cannot change it; a removal
    /// can, and empties it. A resolution that stepped back with `..` (from a symlink target) may
    /// have gone through a path that did not exist and could appear later: it is not kept.
    private var resolvedParents: [String: String] = [:]
    public let symlinkHops: Int

    public init(symlinkHops: Int = 40) {
        self.symlinkHops = symlinkHops
        nodes["/"] = FileNode(kind: .directory, mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 0, layer: 0, content: ContentFacts())
    }

    /// Applies one layer: its opaque markers first, then its entries in order.
    public mutating func apply(_ layer: LayerContents) throws(ImageError) {
        let name = "layer \(layer.layer.name)"
        for entry in layer.entries where entry.role == .opaque {
            let directory = Self.absolute(entry.path)
            try refuseSymlinkOnPath(directory, layer: name, entry: entry.header.path)
            if nodes[directory]?.kind == .directory {
                for child in children[directory] ?? [] { remove(Self.join(directory, child)) }
            }
        }
        for entry in layer.entries {
            switch entry.role {
            case .opaque:
                continue
            case .whiteout(let hidden):
                let (parent, leaf) = Self.split(Self.absolute(hidden))
                try refuseSymlinkOnPath(parent, layer: name, entry: entry.header.path)
                remove(Self.join(parent, leaf))
            case .file:
                try add(entry, layer: layer.layer.index, layerName: name)
            }
        }
    }

    private mutating func add(_ entry: LayerEntry, layer: Int, layerName: String) throws(ImageError) {
        let (parent, leaf) = Self.split(Self.absolute(entry.path))
        let directory = try ensureDirectory(parent, layer: layer, layerName: layerName, entry: entry.header.path)
        let path = Self.join(directory, leaf)
        let header = entry.header
        var node = FileNode(
            kind: .file, mode: header.mode, uid: header.uid, gid: header.gid, size: header.size, mtime: header.mtime,
            layer: layer, content: entry.content)
        switch header.type {
        case .regular: node.kind = .file
        case .directory: node.kind = .directory
        case .symlink:
            node.kind = .symlink
            node.linkTarget = header.symlinkTarget ?? ""
        case .characterDevice: node.kind = .characterDevice
        case .blockDevice: node.kind = .blockDevice
        case .fifo: node.kind = .fifo
        case .socket: node.kind = .socket
        case .hardlink:
            let target = Self.absolute(header.hardlinkTarget ?? "")
            let (targetParent, targetLeaf) = Self.split(target)
            let resolvedParent = try resolveOrFail(targetParent, layer: layerName, entry: header.path).path
            let targetPath = Self.join(resolvedParent, targetLeaf)
            guard let linked = nodes[targetPath] else {
                throw ImageError(
                    source: layerName,
                    message: "entry \(header.path) is a hardlink to \(target), which does not exist in this or an earlier layer")
            }
            guard linked.kind != .directory else {
                throw ImageError(source: layerName, message: "entry \(header.path) is a hardlink to the directory \(target)")
            }
            node = linked
            node.layer = layer
            node.hardlinkOf = linked.hardlinkOf ?? targetPath
        case .other(let type):
            throw ImageError(
                source: layerName, message: "entry \(header.path) has an unknown file type \(String(type, radix: 8))")
        }
        if let existing = nodes[path] {
            if existing.kind == .directory, node.kind == .directory {
                nodes[path] = node
                return
            }
            remove(path)
        }
        nodes[path] = node
        children[directory, default: []].insert(leaf)
        if node.kind == .directory { children[path] = children[path] ?? [] }
    }

    /// Whiteouts and opaque markers name real directories: engines disagree on what one
    /// reached through a symlink removes (overlay2 removes nothing, copying drivers follow it).
    private func refuseSymlinkOnPath(_ path: String, layer: String, entry: String) throws(ImageError) {
        var prefix = ""
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if let node = nodes[prefix], node.kind == .symlink {
                throw ImageError(
                    source: layer,
                    message:
                        "entry \(entry): \(prefix) is a symbolic link (to \(node.linkTarget ?? "")); a whiteout must name a path in a real directory, engines disagree on what this one removes"
                )
            }
        }
    }

    /// Resolves a parent path, creating directories that don't exist (as tar extraction does).
    private mutating func ensureDirectory(_ path: String, layer: Int, layerName: String, entry: String) throws(ImageError)
        -> String
    {
        if let known = resolvedParents[path] { return known }
        let (directory, steppedBack) = try makeDirectory(path, layer: layer, layerName: layerName, entry: entry)
        if !steppedBack { resolvedParents[path] = directory }
        return directory
    }

    /// The directory `path` resolves to, made when missing; and whether resolving it stepped back with `..`.
    private mutating func makeDirectory(_ path: String, layer: Int, layerName: String, entry: String) throws(ImageError)
        -> (String, steppedBack: Bool)
    {
        let (resolved, steppedBack) = try resolveOrFail(path, layer: layerName, entry: entry)
        if let node = nodes[resolved] {
            guard node.kind == .directory else {
                throw ImageError(source: layerName, message: "entry \(entry) is inside \(resolved), which is not a directory")
            }
            return (resolved, steppedBack)
        }
        let (parent, leaf) = Self.split(resolved)
        let (directory, parentSteppedBack) = try makeDirectory(parent, layer: layer, layerName: layerName, entry: entry)
        let path = Self.join(directory, leaf)
        nodes[path] = FileNode(
            kind: .directory, mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 0, layer: layer, content: ContentFacts())
        children[directory, default: []].insert(leaf)
        children[path] = []
        return (path, steppedBack || parentSteppedBack)
    }

    private mutating func remove(_ path: String) {
        guard path != "/", nodes.removeValue(forKey: path) != nil else { return }
        if !resolvedParents.isEmpty { resolvedParents.removeAll(keepingCapacity: true) }
        if let names = children.removeValue(forKey: path) {
            for name in names { remove(Self.join(path, name)) }
        }
        let (parent, leaf) = Self.split(path)
        children[parent]?.remove(leaf)
    }

    // MARK: lookups

    public enum ResolveError: Error, Sendable, Equatable {
        case tooManyLinks(String)
    }

    /// The canonical path `path` names, following symlinks inside the image root only
    /// (`..` stops at `/`, absolute targets start at the image root). The result may not exist.
    public func resolve(_ path: String, followFinal: Bool = true) throws(ResolveError) -> String {
        try resolveNoting(path, followFinal: followFinal).path
    }

    /// `resolve`, and whether a `..` stepped back on the way.
    private func resolveNoting(_ path: String, followFinal: Bool) throws(ResolveError) -> (path: String, steppedBack: Bool) {
        var steppedBack = false
        var pending = Array(path.split(separator: "/").reversed())
        // resolved[i]: the canonical path of the first i + 1 components kept so far.
        var resolved: [String] = []
        var hops = 0
        while let component = pending.popLast() {
            if component == "." { continue }
            if component == ".." {
                _ = resolved.popLast()
                steppedBack = true
                continue
            }
            let candidate = (resolved.last ?? "") + "/" + component
            if let node = nodes[candidate], node.kind == .symlink, !pending.isEmpty || followFinal {
                hops += 1
                if hops > symlinkHops { throw .tooManyLinks(candidate) }
                let target = node.linkTarget ?? ""
                if target.hasPrefix("/") { resolved.removeAll() }
                pending.append(contentsOf: target.split(separator: "/").reversed())
            } else {
                resolved.append(candidate)
            }
        }
        return (resolved.last ?? "/", steppedBack)
    }

    private func resolveOrFail(_ path: String, followFinal: Bool = true, layer: String, entry: String) throws(ImageError)
        -> (path: String, steppedBack: Bool)
    {
        do {
            return try resolveNoting(path, followFinal: followFinal)
        } catch {
            throw ImageError(
                source: layer, message: "entry \(entry): more than \(symlinkHops) symbolic links on the way to \(path) (a loop?)")
        }
    }

    /// The node at `path` after following symlinks, and where it is.
    public func lookup(_ path: String) -> (path: String, node: FileNode)? {
        guard let resolved = try? resolve(path), let node = nodes[resolved] else { return nil }
        return (resolved, node)
    }

    public func children(of directory: String) -> [String] {
        (children[directory] ?? []).sorted()
    }

    public var count: Int { nodes.count - 1 }

    // MARK: paths

    static func absolute(_ relative: String) -> String { "/" + relative }

    static func join(_ directory: String, _ name: some StringProtocol) -> String {
        directory == "/" ? "/" + name : directory + "/" + name
    }

    static func split(_ path: String) -> (parent: String, leaf: String) {
        guard let slash = path.lastIndex(of: "/") else { return ("/", path) }
        let parent = path[..<slash]
        return (parent.isEmpty ? "/" : String(parent), String(path[path.index(after: slash)...]))
    }
}
