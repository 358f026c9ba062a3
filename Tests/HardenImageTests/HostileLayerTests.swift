import Foundation
import HardenArchive
import HardenImage
import HardenTestSupport
import Testing

/// Layers whose entries try to escape, confuse or exhaust the reader: each gives a clear
/// error naming the layer and the entry, or the view an engine would produce.
@Suite struct HostileLayerTests {
    let images: TestImages

    init() throws { images = try TestImages() }

    func error(_ layers: [[(ArchiveEntry, Data)]], limits: ImageLimits = ImageLimits()) throws -> String? {
        readError(try images.image(layers), limits: limits)
    }

    /// The digest of the last layer of the image `layers` would make.
    func lastLayerDigest(_ layers: [[(ArchiveEntry, Data)]]) throws -> String {
        try ImageWriter.layer(layers.last!, compression: .gzip).digest.description
    }

    @Test(arguments: ["../etc/passwd", "usr/../../etc/passwd", "a/b/../../../x", ".."])
    func dotDotNamesAreRefused(name: String) throws {
        let layers = [base + [file(name, "x")]]
        let message = try #require(try error(layers))
        #expect(message.contains("'..'"))
        #expect(message.contains("entry \(name)"))
        #expect(message.contains(try lastLayerDigest(layers)))
    }

    @Test(arguments: ["/etc/passwd", "//bin/sh"])
    func absoluteNamesAreRefused(name: String) throws {
        let message = try #require(try error([base + [file(name, "x")]]))
        #expect(message.contains("absolute name"))
        #expect(message.contains(name))
    }

    @Test func symlinkToRootThenAFileThroughItStaysInTheImage() throws {
        let fs = try view(
            images,
            [
                base + [
                    link("escape", to: "/"), file("escape/etc/shadow", "s"), link("up", to: "../../../.."), file("up/tmp/x", "x"),
                ]
            ])
        #expect(fs.nodes["/etc/shadow"]?.kind == .file)
        #expect(fs.nodes["/tmp/x"]?.kind == .file)
        #expect(fs.nodes["/escape"]?.kind == .symlink)
        #expect(fs.nodes.keys.allSatisfy { $0.hasPrefix("/") && !$0.contains("..") })
    }

    @Test func symlinkLoopsStopWithAnError() throws {
        let loop = try #require(try error([base + [link("a", to: "b"), link("b", to: "a"), file("a/x", "x")]]))
        #expect(loop.contains("entry a/x"))
        #expect(loop.contains("symbolic links"))
        let fs = try view(images, [base + [link("self", to: "self/next")]])
        #expect(throws: FileSystemView.ResolveError.self) { try fs.resolve("/self/x") }
        #expect(fs.lookup("/self/x") == nil)
    }

    @Test func longSymlinkChainsStopAtTheHopLimit() throws {
        let chain = (0..<60).map { link("l\($0)", to: "l\($0 + 1)") } + [link("l60", to: "/etc")]
        let fs = try view(images, [base + chain])
        #expect(try fs.resolve("/l25/passwd") == "/etc/passwd")  // 36 hops, under the default 40
        #expect(throws: FileSystemView.ResolveError.tooManyLinks("/l40")) { try fs.resolve("/l0/passwd") }
        var limits = ImageLimits()
        limits.symlinkHops = 5
        let message = try #require(try error([base + chain + [file("l0/new", "x")]], limits: limits))
        #expect(message.contains("more than 5 symbolic links"))
    }

    @Test func hardlinksToMissingOrOutsideTargetsAreRefused() throws {
        let missing = try #require(try error([base + [hardlink("bin/sh", to: "bin/nothing")]]))
        #expect(missing.contains("entry bin/sh is a hardlink to /bin/nothing, which does not exist"))
        for target in ["../etc/passwd", "/etc/passwd", "etc/../../passwd"] {
            let outside = try #require(try error([base + [hardlink("bin/sh", to: target)]]))
            #expect(outside.contains("outside the layer's relative names"), "\(target): \(outside)")
        }
        let directory = try #require(try error([base + [hardlink("etc2", to: "etc")]]))
        #expect(directory.contains("hardlink to the directory /etc"))
    }

    @Test func paxHardlinkCarryingDataIsRefused() throws {
        let tar = RawTar.archive(
            RawTar.entry("app/run", content: Data("\u{7F}ELF".utf8), pax: ["mtime": "0"]),
            RawTar.entry("bin/ls", type: "1", content: Data("evil".utf8), linkName: "app/run", pax: ["mtime": "0"]))
        let message = try #require(readError(try images.imageFromRawLayer(tar)))
        #expect(message.contains("entry bin/ls: is a hardlink that carries 4 bytes of data"), "\(message)")
    }

    @Test(arguments: [".wh.", "etc/.wh.", ".wh..", ".wh..wh.x", "etc/.wh..wh.passwd"])
    func malformedWhiteoutsAreRefused(name: String) throws {
        let message = try #require(try error([base, [file(name, "")]]))
        #expect(message.contains("whiteout"))
        #expect(message.contains("entry \(name)"))
    }

    @Test func opaqueMarkerAfterItsSiblingsKeepsThem() throws {
        let fs = try view(
            images,
            [
                base + [dir("etc/apt"), file("etc/apt/sources.list"), executable("usr/bin/dash")],
                [file("etc/new", "kept"), dir("usr/bin"), executable("usr/bin/python3"), opaque("etc"), opaque("usr/bin")],
            ])
        #expect(fs.nodes["/etc/new"]?.kind == .file)
        #expect(fs.nodes["/usr/bin/python3"]?.kind == .file)
        #expect(fs.nodes["/etc/apt"] == nil)
        #expect(fs.nodes["/etc/passwd"] == nil)
        #expect(fs.nodes["/usr/bin/dash"] == nil)
        #expect(fs.children(of: "/etc") == ["new"])
    }

    @Test func whiteoutThroughASymlinkedParentIsRefused() throws {
        // overlay2 keeps /real/sh here while a copying driver deletes it: refusing beats guessing.
        let layers = [base + [dir("real"), executable("real/sh"), link("link", to: "real")], [whiteout("link/sh")]]
        let message = try #require(try error(layers))
        #expect(message.contains("entry link/.wh.sh"))
        #expect(message.contains("/link is a symbolic link"))
        let opaqueThroughLink = try #require(try error([layers[0], [opaque("link")]]))
        #expect(opaqueThroughLink.contains("entry link/.wh..wh..opq"))
    }

    @Test func whiteoutsAndReplacementsFollowTheLayerRules() throws {
        let fs = try view(
            images,
            [
                base + [dir("opt/tool"), file("opt/tool/a"), file("var/data"), executable("bin/sh")],
                [
                    file("opt/tool", "now a file"), dir("var/data"), file("var/data/inner"), whiteout("bin/sh"),
                    whiteout("no/such/file"),
                ],
            ])
        #expect(fs.nodes["/opt/tool"]?.kind == .file)
        #expect(fs.nodes["/opt/tool/a"] == nil)
        #expect(fs.nodes["/var/data"]?.kind == .directory)
        #expect(fs.nodes["/var/data/inner"]?.kind == .file)
        #expect(fs.nodes["/bin/sh"] == nil)
        #expect(fs.nodes["/no"] == nil)
    }

    /// A symlink whose target steps back with `..` through a path that does not exist yet
    /// resolves differently once a later layer adds that path: the later entry follows the
    /// new path, as the kernel would.
    @Test func aPathAppearingLaterChangesWhereADotDotSymlinkLeads() throws {
        let fs = try view(
            images,
            [
                base + [dir("real"), link("a", to: "x/../real"), file("a/f1", "1")],
                [link("x", to: "y/z"), file("a/f2", "2")],
            ])
        #expect(fs.nodes["/real/f1"]?.kind == .file)
        #expect(fs.nodes["/y/real/f2"]?.kind == .file)
        #expect(fs.nodes["/real/f2"] == nil)
    }

    /// More than one trailing slash names the same directory as none.
    @Test func trailingSlashesNameTheSameEntry() throws {
        let message = try #require(try error([base + [dir("data"), dir("data//")]]))
        #expect(message.contains("appears twice in the same layer"))
    }

    @Test(arguments: [("a", "a"), ("./a", "a"), ("dir/", "dir"), ("x/.wh.y", "x/.wh.y")])
    func duplicatePathsInOneLayerAreRefused(first: String, second: String) throws {
        let entry: (String) -> (ArchiveEntry, Data) = { $0.hasSuffix("/") ? dir($0) : file($0, "") }
        let secondEntry = first.hasSuffix("/") ? dir(second) : file(second, "")
        let message = try #require(try error([base + [entry(first), secondEntry]]))
        #expect(message.contains("appears twice in the same layer"))
    }

    /// libarchive (like every C reader) ends a pax name at its NUL: the entry is seen as
    /// `bin/sh`, the reading that keeps a smuggled shell visible to the verifier.
    @Test func aNulByteInAPaxNameEndsTheName() throws {
        let tar = RawTar.archive(RawTar.entry("placeholder", content: Data("x".utf8), pax: ["path": "bin/sh\u{0}.txt"]))
        let fs = try ImageReader().read(try images.imageFromRawLayer(tar)).filesystem
        #expect(fs.nodes["/bin/sh"]?.kind == .file)
        #expect(fs.nodes["/placeholder"] == nil)
    }

    @Test func limitsStopHugeLayersWithClearErrors() throws {
        var limits = ImageLimits()
        limits.entries = 100
        let many = try #require(try error([(0..<150).map { file("f\($0)", "") }], limits: limits))
        #expect(many.contains("more than 100 entries (limit)"))

        limits = ImageLimits()
        limits.pathLength = 100
        let long = String(repeating: "d/", count: 60) + "file"
        let longName = try #require(try error([[file(long, "")]], limits: limits))
        #expect(longName.contains("longer than 100 bytes (limit)"))
        let fs = try view(images, [[file(long, "")]])  // pax carries it whole under the default limit
        #expect(fs.nodes["/" + long]?.kind == .file)
    }

    @Test func gzipBombStopsAtTheByteCap() throws {
        let zeros = Data(count: 64 << 20)
        let path = try images.image([[file("bomb", zeros)]])
        let blobBytes = try LayoutEditor(path).layerData(0).count
        #expect(blobBytes < 1 << 20)  // 64 MiB of zeros, a few hundred KiB compressed
        var limits = ImageLimits()
        limits.totalBytes = 4 << 20
        let message = try #require(readError(path, limits: limits))
        #expect(message.contains("is larger than 4194304 bytes (limit)"))
        #expect(message.contains("--max-bytes"))
    }
}

/// A tar written byte by byte, for headers libarchive's writer refuses to produce.
enum RawTar {
    /// One entry, preceded by a pax header when `pax` has records.
    static func entry(
        _ name: String, type: Character = "0", content: Data = Data(), linkName: String = "", pax: [String: String] = [:]
    ) -> Data {
        var out = Data()
        if !pax.isEmpty {
            let records = pax.keys.sorted().map { record($0, pax[$0]!) }.reduce(Data(), +)
            out += header("PaxHeader", type: "x", size: records.count) + padded(records)
        }
        return out + header(name, type: type, size: content.count, linkName: linkName) + padded(content)
    }

    static func archive(_ entries: Data...) -> Data { entries.reduce(Data(), +) + Data(count: 1024) }

    /// `<length> <key>=<value>\n`, where the length counts itself.
    private static func record(_ key: String, _ value: String) -> Data {
        let body = " \(key)=\(value)\n".utf8.count
        var length = body + 1
        while String(length).utf8.count + body != length { length = String(length).utf8.count + body }
        return Data("\(length) \(key)=\(value)\n".utf8)
    }

    private static func header(_ name: String, type: Character, size: Int, linkName: String = "") -> Data {
        var block = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int, width: Int) {
            for (i, byte) in text.utf8.prefix(width).enumerated() { block[offset + i] = byte }
        }
        put(name, at: 0, width: 100)
        put("0000755", at: 100, width: 8)
        put("0000000", at: 108, width: 8)
        put("0000000", at: 116, width: 8)
        put(String(format: "%011o", size), at: 124, width: 12)
        put("00000000000", at: 136, width: 12)
        put(String(type), at: 156, width: 1)
        put(linkName, at: 157, width: 100)
        put("ustar\u{0}00", at: 257, width: 8)
        for i in 148..<156 { block[i] = 0x20 }
        let sum = block.reduce(0) { $0 + Int($1) }
        put(String(format: "%06o", sum) + "\u{0} ", at: 148, width: 8)
        return Data(block)
    }

    private static func padded(_ data: Data) -> Data { data + Data(count: (512 - data.count % 512) % 512) }
}

extension TestImages {
    /// An OCI layout whose only layer is `tar`, uncompressed, exactly as given.
    func imageFromRawLayer(_ tar: Data) throws -> String {
        let blob = LayerBlob(
            data: tar, digest: .sha256(tar), diffID: .sha256(tar), mediaType: "application/vnd.oci.image.layer.v1.tar")
        let url = directory.appendingPathComponent(UUID().uuidString)
        try ImageWriter.writeLayout(config: ImageWriter.config(layers: [blob], config: .init(user: "1")), layers: [blob], to: url)
        return url.path
    }
}
