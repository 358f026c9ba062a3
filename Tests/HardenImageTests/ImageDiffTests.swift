import Foundation
import HardenArchive
import HardenImage
import HardenTestSupport
import Testing

/// Pairs of images with known differences, and what the diff says of them.
@Suite struct ImageDiffTests {
    let images: TestImages
    let app: [(ArchiveEntry, Data)] = [
        dir("usr/bin"), executable("usr/bin/python3"), link("usr/bin/python", to: "python3"), file("app/config", "one"),
    ]

    init() throws { images = try TestImages() }

    func read(_ path: String) throws -> ImageContents {
        try ImageReader(hashContents: true, keepsLayers: true).read(path)
    }

    func diff(
        _ a: [[(ArchiveEntry, Data)]], _ b: [[(ArchiveEntry, Data)]], configA: ContainerConfig = .init(user: "65532"),
        configB: ContainerConfig = .init(user: "65532"), semantic: Bool = false
    ) throws -> ImageDiff {
        let pathA = try images.image(a, config: configA)
        let pathB = try images.image(b, config: configB)
        return ImageDiff(try read(pathA), try read(pathB), semantic: semantic)
    }

    func stamped(_ path: String, _ content: String, mtime: Int64) -> (ArchiveEntry, Data) {
        (ArchiveEntry(path: path, type: .regular, size: Int64(content.utf8.count), mtime: mtime), Data(content.utf8))
    }

    @Test func identicalImagesHaveNoDifferences() throws {
        let result = try diff([base, app], [base, app])
        #expect(result.identical)
        #expect(result.config.isEmpty && result.files.isEmpty && result.layers.isEmpty)
        #expect(result.a.layers == 2 && result.a.files == result.b.files)
    }

    @Test func aChangedFileNamesBothHashesAndItsLayer() throws {
        let changed = app.dropLast() + [file("app/config", "two")]
        let result = try diff([base, app], [base, Array(changed)])
        let change = try #require(result.files.first)
        #expect(result.files.count == 1)
        #expect(change.path == "/app/config" && change.change == .changed && change.fields == ["content"])
        #expect(change.a?.digest == Digest.sha256(Data("one".utf8)))
        #expect(change.b?.digest == Digest.sha256(Data("two".utf8)))
        #expect(change.a?.layer == 1 && change.b?.layer == 1)
        let layer = try #require(result.layers.first)
        #expect(result.layers.count == 1 && layer.index == 1)
        #expect(layer.entries.map(\.path) == ["/app/config"])
        #expect(result.differences == 2)
    }

    @Test func modeOwnerAndLinkTargetChanges() throws {
        let changed: [(ArchiveEntry, Data)] = [
            dir("usr/bin"), file("usr/bin/python3", "\u{7F}ELF\u{02}\u{01}\u{01} a program", mode: 0o700),
            link("usr/bin/python", to: "python3.11"), file("app/config", "one", uid: 65532),
        ]
        let result = try diff([base, app], [base, changed])
        let fields = Dictionary(uniqueKeysWithValues: result.files.map { ($0.path, $0.fields) })
        #expect(fields == ["/usr/bin/python3": ["mode"], "/usr/bin/python": ["link"], "/app/config": ["owner"]])
        let python = try #require(result.files.first { $0.path == "/usr/bin/python3" })
        #expect(python.a?.mode == "0755" && python.b?.mode == "0700")
        let config = try #require(result.files.first { $0.path == "/app/config" })
        #expect(config.a?.uid == 0 && config.b?.uid == 65532)
    }

    @Test func addedRemovedAndWhitedOutFiles() throws {
        let result = try diff([base + [file("old.txt")]], [base + [file("new.txt")], [whiteout("etc/passwd")]])
        #expect(result.files.map(\.path) == ["/etc/passwd", "/new.txt", "/old.txt"])
        #expect(result.files.map(\.change) == [.removed, .added, .removed])
        let extra = try #require(result.layers.last)
        #expect(extra.index == 1 && extra.a == nil && extra.notes == ["only in B"])
        #expect(extra.entries.map(\.path) == ["/etc/.wh.passwd"])
        #expect(extra.entries.first?.b?.kind == "whiteout")
    }

    @Test func configChangesAreNamedByField() throws {
        let result = try diff(
            [base], [base], configA: .init(user: "0", entrypoint: ["/app/run"], env: ["PATH=/bin", "MODE=a"]),
            configB: .init(user: "65532", entrypoint: ["/app/server"], env: ["PATH=/bin", "LANG=C"]))
        let changes = Dictionary(uniqueKeysWithValues: result.config.map { ($0.field, [$0.a, $0.b]) })
        #expect(changes["user"] == ["0", "65532"])
        #expect(changes["entrypoint"] == [#"["/app/run"]"#, #"["/app/server"]"#])
        #expect(changes["env MODE"] == ["a", nil])
        #expect(changes["env LANG"] == [nil, "C"])
        #expect(changes["env PATH"] == nil)
        #expect(result.files.isEmpty && result.layers.isEmpty)
    }

    @Test func portsVolumesLabelsAndStopSignalAreCompared() throws {
        let json = #"""
            {"User":"65532","ExposedPorts":{"8080/tcp":{}},"Volumes":{"/data":{}},"Labels":{"tier":"web"},"StopSignal":"SIGTERM"}
            """#
        let other = #"{"User":"65532","ExposedPorts":{"9090/tcp":{}},"Labels":{"tier":"api"},"StopSignal":"SIGINT"}"#
        let configA = try JSONDecoder().decode(ContainerConfig.self, from: Data(json.utf8))
        let configB = try JSONDecoder().decode(ContainerConfig.self, from: Data(other.utf8))
        let result = try diff([base], [base], configA: configA, configB: configB)
        #expect(
            result.config.map { "\($0.field): \($0.a ?? "-") → \($0.b ?? "-")" } == [
                "stop signal: SIGTERM → SIGINT", "label tier: web → api", "exposed port 8080/tcp: 8080/tcp → -",
                "exposed port 9090/tcp: - → 9090/tcp", "volume /data: /data → -",
            ])
    }

    @Test func configAndHistoryCreatedDifferUnlessSemantic() throws {
        let blobs = [try ImageWriter.layer(base)]
        var paths: [String] = []
        for created in ["2024-01-01T00:00:00Z", "2025-06-01T00:00:00Z"] {
            var config = ImageWriter.config(layers: blobs, config: .init(user: "65532"), history: ["ADD base"])
            config.created = created
            config.history?[0].created = created
            let url = images.directory.appendingPathComponent(created)
            try ImageWriter.writeLayout(config: config, layers: blobs, to: url)
            paths.append(url.path)
        }
        let strict = ImageDiff(try read(paths[0]), try read(paths[1]))
        #expect(strict.config.map(\.field) == ["created", "history[0] created"])
        #expect(strict.files.isEmpty && strict.layers.isEmpty)
        #expect(ImageDiff(try read(paths[0]), try read(paths[1]), semantic: true).identical)
    }

    @Test func timestampsDifferUnlessSemantic() throws {
        let a = [base + [stamped("app/data", "same", mtime: 1_000)]]
        let b = [base + [stamped("app/data", "same", mtime: 2_000)]]
        let strict = try diff(a, b)
        #expect(strict.files.map(\.fields) == [["mtime"]])
        #expect(strict.layers.count == 1)
        #expect(try diff(a, b, semantic: true).identical)
    }

    @Test func entryOrderDiffersUnlessSemantic() throws {
        let strict = try diff([base + [file("a"), file("b")]], [base + [file("b"), file("a")]])
        #expect(strict.files.isEmpty)
        #expect(strict.layers.map(\.notes) == [["same entries, in a different order or tar encoding"]])
        #expect(try diff([base + [file("a"), file("b")]], [base + [file("b"), file("a")]], semantic: true).identical)
    }

    @Test func swappedLayersGiveTheSameFilesButDifferentLayers() throws {
        let first = [file("first.txt", "1")], second = [file("second.txt", "2")]
        let result = try diff([base, first, second], [base, second, first])
        #expect(result.files.isEmpty)
        #expect(result.layers.map(\.index) == [1, 2])
        #expect(result.layers[0].notes == ["A's layer 2 is B's layer 3", "B's layer 2 is A's layer 3"])
        #expect(result.layers[0].entries.map(\.change) == [.removed, .added])
        #expect(!result.identical)
    }

    @Test func contentsAreHashedOnlyWhenAsked() throws {
        let path = try images.image([base])
        #expect(try ImageReader().read(path).filesystem.nodes["/etc/passwd"]?.content.digest == nil)
        #expect(try ImageReader().read(path).layers.isEmpty)
        let hashed = try read(path)
        #expect(hashed.filesystem.nodes["/app/run"]?.content.digest == Digest.sha256(Data(base[3].1)))
        #expect(hashed.layers.count == 1)
    }

    @Test func oneImageInTwoFormsIsIdentical() throws {
        let blobs = try [base, app].map { try ImageWriter.layer($0, compression: .gzip) }
        let config = ImageWriter.config(layers: blobs, config: .init(user: "65532"), history: ["ADD base", "COPY app"])
        let layout = images.directory.appendingPathComponent("layout")
        let archive = images.directory.appendingPathComponent("docker.tar")
        try ImageWriter.writeLayout(config: config, layers: blobs, to: layout)
        try ImageWriter.writeDockerArchive(config: config, layers: blobs, to: archive)
        let results = ImageReader(hashContents: true, keepsLayers: true).read([layout.path, archive.path])
        let result = ImageDiff(try results[0].get(), try results[1].get())
        #expect(result.identical)
        #expect(result.a.format == "oci-layout" && result.b.format == "docker-archive")
    }
}
