import Foundation
import HardenArchive
import HardenImage
import HardenTestSupport
import Testing

/// Normalizing gives one image per content: order, times, owner names and compression don't matter.
@Suite struct ImageNormalizerTests {
    static let epoch: Int64 = 1_000_000
    static let epochText = "1970-01-12T13:46:40Z"
    let images: TestImages
    let normalizer = ImageNormalizer(sourceDateEpoch: epoch)

    init() throws { images = try TestImages() }

    func url(_ name: String) -> URL { images.directory.appendingPathComponent(name) }

    /// The same files every variant holds (owned by 1000), with `mtime` on each entry.
    func content(mtime: Int64) -> [(ArchiveEntry, Data)] {
        [dir("app"), file("app/main.py", "print('hi')\n"), dir("etc"), file("etc/hostname", "box\n")].map {
            var (entry, data) = $0
            entry.mtime = mtime
            (entry.uid, entry.gid) = (1000, 1000)
            return (entry, data)
        }
    }

    /// An OCI layout of `blobs` with the tests' usual config.
    func layout(_ blobs: [LayerBlob], name: String = UUID().uuidString) throws -> String {
        let config = ImageWriter.config(layers: blobs, config: .init(user: "65532", entrypoint: ["/app/run"]), history: ["COPY"])
        try ImageWriter.writeLayout(config: config, layers: blobs, to: url(name))
        return url(name).path
    }

    @discardableResult
    func normalize(_ path: String, _ name: String = UUID().uuidString) throws -> NormalizedImage {
        try normalizer.normalize(path, layout: url(name))
    }

    /// The same layer as GNU tar writes it: owner names, pax atime and ctime, uncompressed.
    func gnuTarLayer() throws -> LayerBlob {
        let tree = url("tree-\(UUID().uuidString)")
        for (entry, data) in content(mtime: 0) {
            let target = tree.appendingPathComponent(entry.path)
            if entry.type == .directory {
                try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
            } else {
                try data.write(to: target)
            }
            try FileManager.default.setAttributes([.posixPermissions: entry.mode], ofItemAtPath: target.path)
        }
        let tar = url("layer-\(UUID().uuidString).tar")
        let status = try CommandLine.run(
            "/usr/bin/tar", "--format=pax", "--owner=alice:1000", "--group=staff:1000", "-C", tree.path, "-cf", tar.path,
            "etc", "app")
        #expect(status == 0)
        let data = try Data(contentsOf: tar)
        return LayerBlob(
            data: data, digest: .sha256(data), diffID: .sha256(data), mediaType: "application/vnd.oci.image.layer.v1.tar")
    }

    @Test func sameContentGivesSameDigests() throws {
        let plain = try ImageWriter.layer(content(mtime: 5_000_000), compression: .gzip)
        let reordered = try ImageWriter.layer(content(mtime: 7_000_000).reversed(), compression: .zstd)
        var stamped = plain.data
        stamped[4] = 0x5A  // a gzip header time: not covered by the CRC
        let restamped = LayerBlob(data: stamped, digest: .sha256(stamped), diffID: plain.diffID, mediaType: plain.mediaType)
        let variants = try [[plain], [reordered], [restamped], [gnuTarLayer()]].map { try layout($0) }
        let results = try variants.map { try normalize($0) }
        #expect(Set(variants.map { try? ImageLocator().locate(ImageSource.open($0)).manifestDigest }).count == 4)
        #expect(Set(results.map(\.manifestDigest)).count == 1)
        #expect(Set(results.map(\.configDigest)).count == 1)
        #expect(results[0].bytesProcessed > 0)
    }

    @Test func ownerNamesAndVolatileTimesAreDropped() throws {
        let tree = url("tree")
        try FileManager.default.createDirectory(at: tree.appendingPathComponent("app"), withIntermediateDirectories: true)
        try Data("x".utf8).write(to: tree.appendingPathComponent("app/x"))
        let tar = url("gnu.tar")
        #expect(
            try CommandLine.run(
                "/usr/bin/tar", "--format=pax", "--owner=alice:1000", "--group=staff:1000", "-C", tree.path, "-cf", tar.path,
                "app")
                == 0)
        let raw = try Data(contentsOf: tar)
        #expect(raw.range(of: Data("alice".utf8)) != nil && raw.range(of: Data("atime=".utf8)) != nil)
        let blob = LayerBlob(
            data: raw, digest: .sha256(raw), diffID: .sha256(raw), mediaType: "application/vnd.oci.image.layer.v1.tar")
        let result = try normalize(try layout([blob]), "out")
        let layer = try Self.uncompressed(url("out/blobs/sha256/\(result.layerDigests[0].hex)"))
        #expect(layer.range(of: Data("alice".utf8)) == nil)
        #expect(layer.range(of: Data("staff".utf8)) == nil)
        #expect(layer.range(of: Data("atime=".utf8)) == nil && layer.range(of: Data("ctime=".utf8)) == nil)
        let entries = try ImageReader(keepsLayers: true).read(url("out").path).layers[0].entries
        #expect(entries.map(\.header.uid) == [1000, 1000])
    }

    @Test func normalizingTwiceGivesIdenticalBytes() throws {
        let raw = try images.image(
            [base, [file("app/b", "2"), file("app/a", "1"), whiteout("etc/passwd")]], config: .init(env: ["A=1"]))
        let first = try normalize(raw, "one")
        let second = try normalize(raw, "two")
        #expect(first == second)
        let one = try ImageWriter.files(in: url("one"))
        let two = try ImageWriter.files(in: url("two"))
        #expect(one.map(\.0) == two.map(\.0) && one.map(\.1) == two.map(\.1))
        #expect(try normalize(url("one").path, "three") == first, "normalizing is idempotent")
    }

    @Test func theDockerArchiveHasPlainTarsAndEveryCompressionGivesOneImageID() throws {
        let raw = try images.image([base, [file("app/a", "1")]], config: .init(env: ["A=1"]))
        let gzip = try normalizer.normalize(raw, layout: url("gzip"), dockerArchive: url("gzip.tar"))
        var plain = normalizer
        plain.compression = .none
        let none = try plain.normalize(raw, layout: url("none"))
        var zstd = normalizer
        zstd.compression = .zstd
        let packed = try zstd.normalize(raw, layout: url("zstd"))
        #expect(gzip.configDigest == none.configDigest && none.configDigest == packed.configDigest)
        #expect(gzip.manifestDigest != none.manifestDigest)
        #expect(none.layerDigests == none.diffIDs, "uncompressed blobs are their own diff_ids")

        // docker load takes the layers as plain tars: each member hashes to its diff_id.
        let archive = try ImageSource.open(url("gzip.tar").path)
        for (index, diffID) in gzip.diffIDs.enumerated() {
            let member = try archive.read("\(String(format: "%064x", index + 1))/layer.tar", limit: 1 << 24)
            #expect(Digest.sha256(member) == diffID)
        }
    }

    @Test func hardlinkWhoseTargetSortsAfterItStaysValid() throws {
        let raw = try images.image([
            [
                dir("z"), file("z/data", "shared bytes", mode: 0o755), dir("a"), hardlink("a/link", to: "z/data"),
                hardlink("m", to: "z/data"),
            ]
        ])
        try normalize(raw, "out")
        let contents = try ImageReader(hashContents: true, keepsLayers: true).read(url("out").path)
        let entries = contents.layers[0].entries
        #expect(entries.map(\.path) == ["a", "a/link", "m", "z", "z/data"])
        #expect(entries.map(\.header.type) == [.directory, .regular, .hardlink, .directory, .hardlink])
        #expect(entries.compactMap(\.header.hardlinkTarget) == ["a/link", "a/link"])
        let nodes = contents.filesystem.nodes
        for path in ["/a/link", "/m", "/z/data"] {
            let node = try #require(nodes[path], "\(path)")
            #expect(node.kind == .file && node.size == 12 && node.mode == 0o755)
            #expect(node.content.digest == .sha256(Data("shared bytes".utf8)))
        }
    }

    @Test func aHardlinkIntoALowerLayerIsLeftAsItIs() throws {
        let raw = try images.image([[dir("z"), file("z/data", "below")], [dir("a"), hardlink("a/link", to: "z/data")]])
        try normalize(raw, "out")
        let contents = try ImageReader(hashContents: true, keepsLayers: true).read(url("out").path)
        #expect(contents.layers[1].entries.map(\.header.hardlinkTarget) == [nil, "z/data"])
        #expect(contents.filesystem.nodes["/a/link"]?.content.digest == .sha256(Data("below".utf8)))
    }

    @Test func aPathTwiceInOneLayerIsRefused() throws {
        let raw = try images.image([[file("etc/x", "1"), file("./etc/x", "2")]])
        #expect(throws: ImageError.self) { try normalize(raw) }
    }

    @Test func theRootEntryIsKeptFirst() throws {
        let raw = try images.image([[file("b", "1"), dir("./", mode: 0o700)]])
        let result = try normalize(raw, "out")
        let layer = try Self.uncompressed(url("out/blobs/sha256/\(result.layerDigests[0].hex)"))
        let reader = try ArchiveReader(source: MemorySource(layer), name: "layer", mode: .plainTar)
        var paths: [String] = []
        while let entry = try reader.next() { paths.append(entry.path) }
        #expect(paths == ["./", "b"])
    }

    @Test func whiteoutsSurviveAndTheFilesystemIsTheSame() throws {
        let raw = try images.image([
            base + [dir("opt"), dir("opt/x"), file("opt/x/old"), file("app/old")],
            [whiteout("app/old"), opaque("opt/x"), file("opt/x/new"), link("opt/latest", to: "x/new"), device("dev-null")],
        ])
        try normalize(raw, "out")
        let normalized = try ImageReader(hashContents: true, keepsLayers: true).read(url("out").path)
        let roles = normalized.layers[1].entries.map(\.role)
        #expect(roles.contains(.whiteout("app/old")) && roles.contains(.opaque))
        #expect(try Self.nodes(raw) == Self.nodes(url("out").path))
        #expect(normalized.filesystem.nodes["/app/old"] == nil && normalized.filesystem.nodes["/opt/x/old"] == nil)
    }

    @Test func configCreatedIsTheEpochAndTheRestStays() throws {
        let blob = try ImageWriter.layer(base, compression: .gzip)
        let config = """
            {"architecture":"\(Platform.current.architecture)","os":"linux","created":"2024-05-01T10:00:00.123456789Z",
             "author":"someone","container":"0123abcd","container_config":{"Hostname":"0123abcd"},
             "config":{"User":"65532","Env":["PATH=/usr/bin","A=1"],"Entrypoint":["/app/run"],"Image":"sha256:feed",
                       "Labels":{"x":"y"},"ArgsEscaped":true},
             "rootfs":{"type":"layers","diff_ids":["\(blob.diffID)"]},
             "history":[{"created":"2024-05-01T09:00:00Z","created_by":"FROM x"},
                        {"created":"2024-05-01T10:00:00Z","created_by":"ENV A=1","empty_layer":true}]}
            """
        try ImageWriter.writeLayout(configData: Data(config.utf8), platform: nil, layers: [blob], to: url("raw"))
        let result = try normalize(url("raw").path, "out")
        let data = try Data(contentsOf: url("out/blobs/sha256/\(result.configDigest.hex)"))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["created"] as? String == Self.epochText)
        let history = try #require(object["history"] as? [[String: Any]])
        #expect(history.map { $0["created"] as? String } == [Self.epochText, Self.epochText])
        #expect(history.map { $0["created_by"] as? String } == ["FROM x", "ENV A=1"])
        #expect(history[1]["empty_layer"] as? Bool == true)
        #expect(object["author"] as? String == "someone")
        #expect(object["container"] == nil && object["container_config"] == nil)
        let settings = try #require(object["config"] as? [String: Any])
        #expect(settings["Env"] as? [String] == ["PATH=/usr/bin", "A=1"])
        #expect(settings["Entrypoint"] as? [String] == ["/app/run"])
        #expect(settings["User"] as? String == "65532")
        #expect(settings["Labels"] as? [String: String] == ["x": "y"])
        #expect(settings["Image"] == nil)
        #expect(String(decoding: data, as: UTF8.self).contains(#""ArgsEscaped":true"#))
        let rootfs = try #require(object["rootfs"] as? [String: Any])
        #expect(rootfs["diff_ids"] as? [String] == result.diffIDs.map(\.description))
    }

    /// Not only clamped: a file copied from a checkout keeps its checkout time, older than the
    /// commit on one machine and newer on another; a cached layer keeps the time it was built.
    @Test func everyMtimeBecomesTheEpoch() throws {
        var old = file("old", "o")
        old.0.mtime = 500
        var new = file("new", "n")
        new.0.mtime = Self.epoch + 86_400
        try normalize(try images.image([[old, new]]), "out")
        let entries = try ImageReader(keepsLayers: true).read(url("out").path).layers[0].entries
        #expect(entries.map(\.path) == ["new", "old"])
        #expect(entries.map(\.header.mtime) == [Self.epoch, Self.epoch])
    }

    @Test func extendedAttributesAreKept() throws {
        var ping = executable("bin/ping")
        ping.0.xattrs = ["security.capability": Data([1, 0, 0, 2, 0, 0x20, 0, 0])]
        try normalize(try images.image([[dir("bin"), ping]]), "out")
        let entries = try ImageReader(keepsLayers: true).read(url("out").path).layers[0].entries
        #expect(entries.last?.header.xattrs == ping.0.xattrs)
    }

    @Test func theDockerArchiveHoldsTheSameImage() throws {
        let raw = try images.image([base, [file("app/data", "x")]])
        let result = try normalizer.normalize(
            raw, layout: url("out"), dockerArchive: url("image.tar"), tag: "harden-test/normalized:1")
        let saved = try SavedImage.inspect(path: url("image.tar").path)
        #expect(saved.configDigest == result.configDigest && saved.repoTags == ["harden-test/normalized:1"])
        #expect(try Self.nodes(url("image.tar").path) == Self.nodes(url("out").path))
    }

    /// Every node of the final filesystem, mtimes and hardlink direction aside.
    static func nodes(_ path: String) throws -> [String: FileNode] {
        try ImageReader(hashContents: true).read(path).filesystem.nodes.mapValues {
            var node = $0
            node.mtime = 0
            node.hardlinkOf = nil
            return node
        }
    }

    /// A layer blob's tar bytes.
    static func uncompressed(_ blob: URL) throws -> Data {
        let reader = try ArchiveReader(path: blob.path, mode: .decompressOnly)
        _ = try reader.next()
        return try reader.readData(limit: 1 << 24)
    }
}

extension CommandLine {
    /// Runs a program and returns its exit status.
    static func run(_ program: String, _ arguments: String...) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}
