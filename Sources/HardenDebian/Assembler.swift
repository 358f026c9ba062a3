import Foundation
import HardenArchive
import HardenConcurrency
import HardenImage

/// A `.deb` to unpack: the package's name, `name version` for messages, and its file.
public struct PackageFile: Sendable {
    public var name: String
    public var label: String
    public var path: String

    public init(name: String, label: String, path: String) {
        self.name = name
        self.label = label
        self.path = path
    }

    public init(_ package: BinaryPackage, path: String) {
        self.init(name: package.name, label: package.label, path: path)
    }
}

/// A path two packages (or a package and harden) both ship with different contents; the
/// first named keeps it.
public struct PathConflict: Sendable, Hashable, CustomStringConvertible {
    public var path: String
    public var kept: String
    public var dropped: String

    public init(path: String, kept: String, dropped: String) {
        self.path = path
        self.kept = kept
        self.dropped = dropped
    }

    public var description: String { "/\(path): \(kept) and \(dropped) differ; \(kept)'s is kept" }
}

/// An image root made from packages: one normalized layer, who owns each path, and the conflicts.
public struct Assembly: Sendable {
    /// One, or one per package group and the rest (`BaseLayout.groups`).
    public var layers: [LayerBlob]
    /// Path (`usr/bin/python3.11`) → the package that ships it, or `harden` for what it writes.
    public var owners: [String: String]
    public var conflicts: [PathConflict]
    /// Package → the maintainer scripts it has (`preinst`, `postinst`), none of which ran.
    public var scripts: [String: [String]]
    /// What harden wrote in the scripts' place (`/etc/ssl/certs/ca-certificates.crt from 146 certificates`).
    public var written: [String]
}

/// The distribution an image's `/etc/os-release` names, from the suite's Release file.
public struct OSRelease: Sendable, Equatable {
    /// `Debian`.
    public var origin: String
    /// `12.8`; the major part is `VERSION_ID`.
    public var version: String?
    public var codename: String?

    public init(origin: String, version: String?, codename: String?) {
        self.origin = origin
        self.version = version
        self.codename = codename
    }
}

/// Unpacks `.deb` files in process, with no maintainer script run: each one's ar container,
/// then its `data.tar.{xz,zst,gz}` and its `control` through libarchive. Paths are normalized;
/// one that leaves the root, a device node, a fifo or a socket fails the assembly. harden
/// writes what the scripts would have: `/var/lib/dpkg/status.d/<package>` (the control
/// stanza, and `<package>.md5sums`, as distroless does, so scanners see every package),
/// `/etc/passwd`, `/etc/group` and `/etc/nsswitch.conf` for root, nonroot (65532) and the
/// layout's accounts, and `/tmp` 1777.
public struct Assembler: Sendable {
    public static let nonrootID: Int64 = 65532
    public var sourceDateEpoch: Int64
    /// Of the layer blob; none suits `docker load` (which takes tars) and costs nothing.
    public var compression: ArchiveWriter.Compression

    public init(sourceDateEpoch: Int64 = 0, compression: ArchiveWriter.Compression = .gzip) {
        self.sourceDateEpoch = sourceDateEpoch
        self.compression = compression
    }

    private struct Contents: Sendable {
        var files: [(ArchiveEntry, Data)]
        var control: Data
        var md5sums: Data?
        var scripts: [String]
    }

    private struct Item {
        var entry: ArchiveEntry
        var data: Data
        var owner: String
        var layer: Int
    }

    /// `release`: the distribution `/etc/os-release` names when no package (`base-files`) ships it.
    public func assemble(_ packages: [PackageFile], release: OSRelease? = nil, layout: BaseLayout = BaseLayout())
        throws(DebianError) -> Assembly
    {
        let (layerOf, layerCount) = try layout.layers(of: packages.map(\.name))
        var items: [String: Item] = [:]
        var order: [String] = []
        var conflicts: [PathConflict] = []
        func add(_ entry: ArchiveEntry, _ data: Data, owner: String, layer: Int) {
            if let present = items[entry.path] {
                if !Self.same(present.entry, present.data, entry, data) {
                    conflicts.append(PathConflict(path: entry.path, kept: present.owner, dropped: owner))
                }
                return
            }
            items[entry.path] = Item(entry: entry, data: data, owner: owner, layer: layer)
            order.append(entry.path)
        }
        var scripts: [String: [String]] = [:]
        for (entry, data) in Self.accounts(layout.accounts) { add(entry, data, owner: "harden", layer: 0) }
        // Unpacking (xz, zstd) is most of the time: every package on its own core, merged in order.
        let reads = concurrentMap(packages.count) { index in
            Result { () throws(DebianError) -> Contents in try read(packages[index]) }
        }
        for (package, contents) in zip(packages, reads) {
            let contents = try contents.get()
            let (files, control, md5sums, maintainerScripts) = (contents.files, contents.control, contents.md5sums, contents.scripts)
            if !maintainerScripts.isEmpty { scripts[package.name] = maintainerScripts }
            let layer = layerOf[package.name, default: 0]
            let status = "var/lib/dpkg/status.d/\(package.name)"
            add(ArchiveEntry(path: status, type: .regular, mode: 0o644), control, owner: "harden", layer: layer)
            if let md5sums {
                add(ArchiveEntry(path: status + ".md5sums", type: .regular, mode: 0o644), md5sums, owner: "harden", layer: layer)
            }
            for (entry, data) in files { add(entry, data, owner: package.name, layer: layer) }
        }
        // Made from every package's files: in the last layer.
        let derived = SystemFiles.derive(from: items.mapValues { ($0.entry, $0.data) }, release: release)
        for (entry, data) in derived.files { add(entry, data, owner: "harden", layer: layerCount - 1) }
        // Every parent a directory in each layer: a package's own tar has them, harden's files need them.
        var layerEntries = [[(ArchiveEntry, Data)]](repeating: [], count: layerCount)
        var layerPaths = [Set<String>](repeating: [], count: layerCount)
        for path in order { if let item = items[path] { layerPaths[item.layer].insert(path) } }
        for path in order {
            guard let item = items[path] else { continue }
            layerEntries[item.layer].append((item.entry, item.data))
            var parent = (path as NSString).deletingLastPathComponent
            while !parent.isEmpty, layerPaths[item.layer].insert(parent).inserted {
                let present = items[parent]?.entry
                if let present, present.type != .directory { break }
                layerEntries[item.layer].append((present ?? ArchiveEntry(path: parent, type: .directory, mode: 0o755), Data()))
                parent = (parent as NSString).deletingLastPathComponent
            }
        }
        let entries = layerEntries
        let epoch = sourceDateEpoch
        let compression = compression
        let written = concurrentMap(layerCount) { number in
            Result { () throws(ImageError) -> LayerBlob in
                try ImageWriter.normalizedLayer(entries[number], sourceDateEpoch: epoch, compression: compression)
            }
        }
        var layers: [LayerBlob] = []
        for (number, result) in written.enumerated() {
            do {
                layers.append(try result.get())
            } catch {
                throw DebianError(
                    .unsafeContent, "cannot write layer \(number + 1) of \(layerCount) of \(packages.count) packages: \(error.description)")
            }
        }
        return Assembly(
            layers: layers, owners: items.mapValues(\.owner), conflicts: conflicts, scripts: scripts, written: derived.notes)
    }

    private static func same(_ a: ArchiveEntry, _ aData: Data, _ b: ArchiveEntry, _ bData: Data) -> Bool {
        if a.type == .directory && b.type == .directory { return true }
        return a.type == b.type && a.mode == b.mode && a.symlinkTarget == b.symlinkTarget
            && a.hardlinkTarget == b.hardlinkTarget && aData == bData
    }

    /// root and nonroot, as distroless's images have them, and `extra`.
    private static func accounts(_ extra: [BaseLayout.Account]) -> [(ArchiveEntry, Data)] {
        var passwd = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
        var group = "root:x:0:\nnonroot:x:65532:\n"
        var groups: Set<Int> = [0, 65532]
        for account in extra {
            passwd += "\(account.name):x:\(account.uid):\(account.gid):\(account.name):\(account.home):/sbin/nologin\n"
            if groups.insert(account.gid).inserted { group += "\(account.name):x:\(account.gid):\n" }
        }
        let nsswitch = """
            passwd: files
            group: files
            shadow: files
            hosts: files dns
            networks: files
            protocols: files
            services: files
            ethers: files
            rpc: files

            """
        return [
            (ArchiveEntry(path: "etc/passwd", type: .regular, mode: 0o644), Data(passwd.utf8)),
            (ArchiveEntry(path: "etc/group", type: .regular, mode: 0o644), Data(group.utf8)),
            (ArchiveEntry(path: "etc/nsswitch.conf", type: .regular, mode: 0o644), Data(nsswitch.utf8)),
            (ArchiveEntry(path: "tmp", type: .directory, mode: 0o1777), Data()),
            (ArchiveEntry(path: "root", type: .directory, mode: 0o700), Data()),
            (ArchiveEntry(path: "home/nonroot", type: .directory, mode: 0o700, uid: nonrootID, gid: nonrootID), Data()),
        ]
            + extra.map { account in
                let home = String(account.home.drop { $0 == "/" })
                return (ArchiveEntry(path: home, type: .directory, mode: 0o700, uid: Int64(account.uid), gid: Int64(account.gid)), Data())
            }
    }

    /// A package's data entries (paths normalized), its `control` and its `md5sums`.
    private func read(_ package: PackageFile) throws(DebianError) -> Contents {
        let name = "\(package.label) (\(package.path))"
        func unsafe(_ why: String) -> DebianError {
            DebianError(
                .unsafeContent,
                "\(name): \(why); the package is damaged or hostile: exclude it, or fetch it again from a trusted mirror")
        }
        var files: [(ArchiveEntry, Data)] = []
        var control: Data?
        var md5sums: Data?
        var scripts: [String] = []
        var sawData = false
        var seen: Set<String> = []
        do {
            let deb = try ArchiveReader(path: package.path, mode: .debianPackage)
            while let member = try deb.next() {
                if member.path == "debian-binary" {
                    let version = try deb.readData(limit: 64)
                    guard version.starts(with: Data("2.".utf8)) else { throw unsafe("debian-binary is not format 2.x") }
                } else if member.path.hasPrefix("control.tar") {
                    let tar = try ArchiveReader(source: EntrySource(deb), name: "\(name) \(member.path)", mode: .debianTar)
                    while let entry = try tar.next() {
                        switch Self.normalize(entry.path) {
                        case "control"?: control = try tar.readData(limit: 1 << 20)
                        case "md5sums"?: md5sums = try tar.readData(limit: 64 << 20)
                        case let name? where Self.maintainerScripts.contains(name): scripts.append(name)
                        default: continue
                        }
                    }
                } else if member.path.hasPrefix("data.tar") {
                    sawData = true
                    let tar = try ArchiveReader(source: EntrySource(deb), name: "\(name) \(member.path)", mode: .debianTar)
                    while var entry = try tar.next() {
                        guard let path = Self.normalize(entry.path) else {
                            throw unsafe("\(member.path) entry '\(entry.path)' leaves the image root")
                        }
                        if path.isEmpty { continue }
                        entry.path = path
                        seen.insert(path)
                        switch entry.type {
                        case .regular:
                            files.append((entry, try tar.readData(limit: 1 << 30)))
                        case .directory, .symlink:
                            files.append((entry, Data()))
                        case .hardlink:
                            guard let target = entry.hardlinkTarget.flatMap(Self.normalize), !target.isEmpty, target != path,
                                seen.contains(target)
                            else {
                                throw unsafe(
                                    "\(member.path) entry '\(path)' is a hard link to '\(entry.hardlinkTarget ?? "")', not to a file before it"
                                )
                            }
                            entry.hardlinkTarget = target
                            files.append((entry, Data()))
                        case .characterDevice, .blockDevice, .fifo, .socket, .other:
                            throw unsafe(
                                "\(member.path) entry '\(path)' is a \(entry.type) node, which an image built from packages never needs"
                            )
                        }
                    }
                }
            }
        } catch let error as DebianError {
            throw error
        } catch {
            throw DebianError(.unsafeContent, "\(name): cannot read the package: \(error); fetch it again or exclude it")
        }
        guard sawData, let control else { throw unsafe("it has no data.tar or no control file") }
        return Contents(files: files, control: control, md5sums: md5sums, scripts: scripts.sorted())
    }

    static let maintainerScripts: Set<String> = ["preinst", "postinst", "config"]

    /// `./usr//bin/` → `usr/bin`; nil when a `..` would climb out.
    static func normalize(_ path: String) -> String? {
        var parts: [Substring] = []
        for part in path.split(separator: "/") where part != "." {
            if part == ".." { return nil }
            parts.append(part)
        }
        return parts.joined(separator: "/")
    }
}
