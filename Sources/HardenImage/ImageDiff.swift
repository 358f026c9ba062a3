import Foundation
import HardenArchive

/// What differs between two images: their configs, their final filesystems, and layer by layer.
///
/// Both images must be read with `hashContents` and `keepsLayers`, so that file contents
/// are compared by hash and layers by entry without reading anything twice.
public struct ImageDiff: Sendable, Encodable {
    /// One image as the diff saw it.
    public struct Side: Sendable, Codable {
        public var image: String
        public var format: String
        public var configDigest: Digest
        public var manifestDigest: Digest?
        public var layers: Int
        public var files: Int
        public var uncompressedBytes: Int64
    }

    /// A config field that differs; nil where one image does not have it.
    public struct ConfigChange: Sendable, Codable, Equatable {
        public var field: String
        public var a: String?
        public var b: String?
    }

    /// A file (or layer entry) that was added, removed or changed from A to B.
    public struct FileChange: Sendable, Codable, Equatable {
        public enum Change: String, Sendable, Codable { case added, removed, changed }
        public var path: String
        public var change: Change
        /// What changed: kind, mode, owner, content, link, mtime.
        public var fields: [String]
        public var a: FileFacts?
        public var b: FileFacts?
    }

    /// A layer position whose layers differ.
    public struct LayerChange: Sendable, Codable, Equatable {
        public var index: Int
        /// The layers' diff_ids (nil where one image has fewer layers).
        public var a: Digest?
        public var b: Digest?
        /// Why the layers differ when their entries alone don't say (a move, an order).
        public var notes: [String]
        public var entries: [FileChange]
    }

    public var a: Side
    public var b: Side
    public var semantic: Bool
    public var config: [ConfigChange]
    public var files: [FileChange]
    public var layers: [LayerChange]

    public var differences: Int { config.count + files.count + layers.count }
    public var identical: Bool { differences == 0 }

    enum CodingKeys: String, CodingKey { case a, b, semantic, config, files, layers, differences, identical }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(a, forKey: .a)
        try container.encode(b, forKey: .b)
        try container.encode(semantic, forKey: .semantic)
        try container.encode(config, forKey: .config)
        try container.encode(files, forKey: .files)
        try container.encode(layers, forKey: .layers)
        try container.encode(differences, forKey: .differences)
        try container.encode(identical, forKey: .identical)
    }

    /// Compares two images. `semantic` ignores timestamps (file mtimes, config and history
    /// `created`) and the order of a layer's entries.
    public init(_ a: ImageContents, _ b: ImageContents, semantic: Bool = false) {
        self.a = Side(a)
        self.b = Side(b)
        self.semantic = semantic
        config = ConfigComparison(semantic: semantic).changes(a.image.config, b.image.config)
        files = Self.compare(Self.facts(of: a.filesystem), Self.facts(of: b.filesystem), semantic: semantic)
        layers = Self.compareLayers(a, b, semantic: semantic)
    }

    // MARK: files

    static func facts(of filesystem: FileSystemView) -> [String: FileFacts] {
        var facts: [String: FileFacts] = [:]
        for (path, node) in filesystem.nodes where path != "/" { facts[path] = FileFacts(node) }
        return facts
    }

    static func facts(of layer: LayerContents) -> [String: FileFacts] {
        var facts: [String: FileFacts] = [:]
        for entry in layer.entries {
            let path = "/" + entry.path + (entry.role == .opaque ? "/.wh..wh..opq" : "")
            facts[path] = FileFacts(entry, layer: layer.layer.index)
        }
        return facts
    }

    /// Added, removed and changed paths, sorted by path.
    static func compare(_ a: [String: FileFacts], _ b: [String: FileFacts], semantic: Bool) -> [FileChange] {
        var changes: [FileChange] = []
        for path in Set(a.keys).union(b.keys).sorted() {
            switch (a[path], b[path]) {
            case (let old?, let new?):
                let fields = old.differences(from: new, semantic: semantic)
                if !fields.isEmpty { changes.append(FileChange(path: path, change: .changed, fields: fields, a: old, b: new)) }
            case (let old?, nil):
                changes.append(FileChange(path: path, change: .removed, fields: [], a: old, b: nil))
            case (nil, let new?):
                changes.append(FileChange(path: path, change: .added, fields: [], a: nil, b: new))
            case (nil, nil):
                continue
            }
        }
        return changes
    }

    // MARK: layers

    static func compareLayers(_ a: ImageContents, _ b: ImageContents, semantic: Bool) -> [LayerChange] {
        let idsA = a.image.layers.map(\.diffID)
        let idsB = b.image.layers.map(\.diffID)
        var changes: [LayerChange] = []
        for index in 0..<max(idsA.count, idsB.count) {
            let idA = index < idsA.count ? idsA[index] : nil
            let idB = index < idsB.count ? idsB[index] : nil
            if idA == idB { continue }
            var notes: [String] = []
            if let idA, let moved = idsB.firstIndex(of: idA) { notes.append("A's layer \(index + 1) is B's layer \(moved + 1)") }
            if let idB, let moved = idsA.firstIndex(of: idB) { notes.append("B's layer \(index + 1) is A's layer \(moved + 1)") }
            let entriesA = index < a.layers.count ? facts(of: a.layers[index]) : [:]
            let entriesB = index < b.layers.count ? facts(of: b.layers[index]) : [:]
            let entries = compare(entriesA, entriesB, semantic: semantic)
            if idA == nil { notes.append("only in B") }
            if idB == nil { notes.append("only in A") }
            if entries.isEmpty, idA != nil, idB != nil {
                // Same entries: the tars differ only in entry order or encoding.
                if semantic { continue }
                notes.append("same entries, in a different order or tar encoding")
            }
            changes.append(LayerChange(index: index, a: idA, b: idB, notes: notes, entries: entries))
        }
        return changes
    }
}

/// What the diff compares of one file or layer entry.
public struct FileFacts: Sendable, Codable, Equatable {
    /// file, directory, symlink, hardlink, characterDevice, blockDevice, fifo, socket, whiteout, opaque.
    public var kind: String
    /// Octal, e.g. `0755`.
    public var mode: String
    public var uid: Int64
    public var gid: Int64
    public var size: Int64
    public var mtime: Int64
    /// A symlink's target, or the path a hardlink entry links to.
    public var linkTarget: String?
    public var digest: Digest?
    /// The layer that wrote this version.
    public var layer: Int

    init(_ node: FileNode) {
        kind = node.kind.rawValue
        mode = Self.octal(node.mode)
        uid = node.uid
        gid = node.gid
        size = node.size
        mtime = node.mtime
        linkTarget = node.linkTarget
        digest = node.content.digest
        layer = node.layer
    }

    init(_ entry: LayerEntry, layer: Int) {
        let header = entry.header
        switch entry.role {
        case .whiteout: kind = "whiteout"
        case .opaque: kind = "opaque"
        case .file: kind = Self.name(of: header.type)
        }
        mode = Self.octal(header.mode)
        uid = header.uid
        gid = header.gid
        size = header.size
        mtime = header.mtime
        linkTarget = header.symlinkTarget ?? header.hardlinkTarget
        digest = entry.content.digest
        self.layer = layer
    }

    static func octal(_ mode: UInt32) -> String { String(format: "%04o", mode & 0o7777) }

    static func name(of type: EntryType) -> String {
        switch type {
        case .regular: "file"
        case .directory: "directory"
        case .symlink: "symlink"
        case .hardlink: "hardlink"
        case .characterDevice: "characterDevice"
        case .blockDevice: "blockDevice"
        case .fifo: "fifo"
        case .socket: "socket"
        case .other: "other"
        }
    }

    /// The names of the fields that differ (the layer a file came from is not one).
    func differences(from other: FileFacts, semantic: Bool) -> [String] {
        var fields: [String] = []
        if kind != other.kind { fields.append("kind") }
        if mode != other.mode { fields.append("mode") }
        if uid != other.uid || gid != other.gid { fields.append("owner") }
        if digest != other.digest || size != other.size { fields.append("content") }
        if linkTarget != other.linkTarget { fields.append("link") }
        if !semantic, mtime != other.mtime { fields.append("mtime") }
        return fields
    }
}

extension ImageDiff.Side {
    init(_ contents: ImageContents) {
        let image = contents.image
        self.init(
            image: image.source.displayName, format: image.format.rawValue, configDigest: image.configDigest,
            manifestDigest: image.manifestDigest, layers: image.layers.count, files: contents.filesystem.count,
            uncompressedBytes: contents.uncompressedBytes)
    }
}

/// Compares two image configs field by field; maps (env, labels) and sets (ports, volumes) by key.
struct ConfigComparison {
    var semantic: Bool

    func changes(_ a: ImageConfig, _ b: ImageConfig) -> [ImageDiff.ConfigChange] {
        var changes: [ImageDiff.ConfigChange] = []
        func field(_ name: String, _ old: String?, _ new: String?) {
            if old != new { changes.append(.init(field: name, a: old, b: new)) }
        }
        func map(_ name: String, _ old: [String: String], _ new: [String: String]) {
            for key in Set(old.keys).union(new.keys).sorted() { field("\(name) \(key)", old[key], new[key]) }
        }
        field("os", a.os, b.os)
        field("architecture", a.architecture, b.architecture)
        field("variant", a.variant, b.variant)
        if !semantic { field("created", a.created, b.created) }
        let old = a.config, new = b.config
        field("user", old?.user, new?.user)
        field("entrypoint", Self.list(old?.entrypoint), Self.list(new?.entrypoint))
        field("cmd", Self.list(old?.cmd), Self.list(new?.cmd))
        field("workdir", old?.workingDir, new?.workingDir)
        field("stop signal", old?.stopSignal, new?.stopSignal)
        field("shell", Self.list(old?.shell), Self.list(new?.shell))
        field("healthcheck", Self.list(old?.healthcheck?.test), Self.list(new?.healthcheck?.test))
        field("onbuild", Self.list(old?.onBuild), Self.list(new?.onBuild))
        map("env", Self.variables(old?.env), Self.variables(new?.env))
        map("label", old?.labels ?? [:], new?.labels ?? [:])
        map("exposed port", Self.set(old?.exposedPorts), Self.set(new?.exposedPorts))
        map("volume", Self.set(old?.volumes), Self.set(new?.volumes))
        changes += history(a.history ?? [], b.history ?? [])
        return changes
    }

    private func history(_ a: [ImageConfig.History], _ b: [ImageConfig.History]) -> [ImageDiff.ConfigChange] {
        var changes: [ImageDiff.ConfigChange] = []
        for index in 0..<max(a.count, b.count) {
            let old = index < a.count ? a[index] : nil
            let new = index < b.count ? b[index] : nil
            let name = "history[\(index)]"
            guard let old, let new else {
                changes.append(.init(field: name, a: old.map(Self.step), b: new.map(Self.step)))
                continue
            }
            if old.createdBy != new.createdBy {
                changes.append(.init(field: name + " created_by", a: old.createdBy, b: new.createdBy))
            }
            if old.comment != new.comment { changes.append(.init(field: name + " comment", a: old.comment, b: new.comment)) }
            if (old.emptyLayer ?? false) != (new.emptyLayer ?? false) {
                changes.append(
                    .init(field: name + " empty_layer", a: String(old.emptyLayer ?? false), b: String(new.emptyLayer ?? false)))
            }
            if !semantic, old.created != new.created {
                changes.append(.init(field: name + " created", a: old.created, b: new.created))
            }
        }
        return changes
    }

    private static func step(_ history: ImageConfig.History) -> String { history.createdBy ?? history.comment ?? "(no command)" }

    /// A JSON array, as a Dockerfile's exec form reads.
    static func list(_ values: [String]?) -> String? {
        guard let values else { return nil }
        let data = (try? JSONSerialization.data(withJSONObject: values, options: [.withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// `KEY=VALUE` lines → key → value.
    static func variables(_ env: [String]?) -> [String: String] {
        var variables: [String: String] = [:]
        for line in env ?? [] {
            let parts = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            variables[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        return variables
    }

    static func set(_ keys: [String: ContainerConfig.EmptyObject]?) -> [String: String] {
        Dictionary(uniqueKeysWithValues: (keys ?? [:]).keys.map { ($0, $0) })
    }
}
