import Foundation
import HardenArchive
import HardenImage
import HardenTestSupport
import Testing

/// Damaged or lying blobs and documents: every one is caught before its content is trusted.
@Suite struct HostileDocumentTests {
    let images: TestImages

    init() throws { images = try TestImages() }

    func layout(_ compression: ArchiveWriter.Compression = .gzip) throws -> (String, LayoutEditor) {
        let layers = [
            base + [
                dir("usr/bin"), executable("usr/bin/python3"), file("usr/lib/data", String(repeating: "payload ", count: 4000)),
            ]
        ]
        let blobs = try layers.map { try ImageWriter.layer($0, compression: compression) }
        let url = images.directory.appendingPathComponent(UUID().uuidString)
        try ImageWriter.writeLayout(config: ImageWriter.config(layers: blobs, config: .init(user: "1")), layers: blobs, to: url)
        return (url.path, LayoutEditor(url.path))
    }

    @Test func cleanLayoutReads() throws {
        let (path, _) = try layout()
        #expect(readError(path) == nil)
    }

    @Test func truncatedGzipIsAnError() throws {
        let (path, editor) = try layout()
        let blob = try editor.layerData(0)
        try editor.replaceLayer(0, with: blob.prefix(blob.count / 2), updateDescriptor: true)
        let message = try #require(readError(path))
        #expect(message.contains("layer sha256:"))
        #expect(
            message.contains("truncated") || message.contains("unexpected end") || message.contains("premature"), "\(message)")
    }

    @Test(arguments: [ArchiveWriter.Compression.none, .gzip, .zstd])
    func changedByteIsCaught(compression: ArchiveWriter.Compression) throws {
        let (path, editor) = try layout(compression)
        let digest = try editor.layers[0]["digest"] as! String
        var blob = try editor.layerData(0)
        blob[blob.count / 2] ^= 0x01
        try editor.replaceLayer(0, with: blob, updateDescriptor: false)
        let message = try #require(readError(path))
        #expect(message.contains("layer \(digest)"))
        if compression == .none {
            #expect(message.contains("the blob hashes to sha256:"))
            #expect(message.contains("changed or damaged"))
        }
    }

    @Test func recompressedBlobIsCheckedByItsNewDigest() throws {
        let (path, editor) = try layout(.gzip)
        let layers = [
            base + [
                dir("usr/bin"), executable("usr/bin/python3"), file("usr/lib/data", String(repeating: "payload ", count: 4000)),
            ]
        ]
        let zstd = try ImageWriter.layer(layers[0], compression: .zstd)
        let before = try ImageReader().read(path).filesystem.nodes

        // Same diff_id under the old digest's name: the blob digest no longer matches.
        try editor.replaceLayer(0, with: zstd.data, updateDescriptor: false)
        let swapped = try #require(readError(path))
        #expect(swapped.contains("its descriptor says") || swapped.contains("changed or damaged"), "\(swapped)")

        // Recompressed and described honestly: a valid image with the same filesystem.
        try editor.replaceLayer(0, with: zstd.data, updateDescriptor: true)
        try editor.editManifest { manifest in
            var layers = manifest["layers"] as! [[String: Any]]
            layers[0]["mediaType"] = zstd.mediaType
            manifest["layers"] = layers
        }
        #expect(try ImageReader().read(path).filesystem.nodes == before)
    }

    @Test func layerOfTheWrongDiffIDIsCaught() throws {
        let (path, editor) = try layout()
        let other = try ImageWriter.layer([file("something", "else")], compression: .gzip)
        try editor.replaceLayer(0, with: other.data, updateDescriptor: true)
        let message = try #require(readError(path))
        #expect(message.contains("the uncompressed tar hashes to \(other.diffID)"))
        #expect(message.contains("config's diff_id is"))
    }

    @Test func sizeMismatchIsCaught() throws {
        let (path, editor) = try layout()
        try editor.editManifest { manifest in
            var layers = manifest["layers"] as! [[String: Any]]
            layers[0]["size"] = (layers[0]["size"] as! Int) + 1
            manifest["layers"] = layers
        }
        let message = try #require(readError(path))
        #expect(message.contains("its descriptor says"))
    }

    @Test(arguments: [
        "sha256:XYZ", "md5:d41d8cd98f00b204e9800998ecf8427e", "sha256:" + String(repeating: "A", count: 64),
        "sha256:" + String(repeating: "a", count: 63), "sha256:../../../etc/passwd", "",
    ])
    func badDigestStringsAreRefused(digest: String) throws {
        let (path, editor) = try layout()
        var index = try editor.index
        var descriptors = index["manifests"] as! [[String: Any]]
        descriptors[0]["digest"] = digest
        index["manifests"] = descriptors
        try editor.setIndex(index)
        let message = try #require(readError(path))
        #expect(message.contains("index.json"))
        #expect(message.contains("is not a sha256 digest"), "\(message)")
    }

    @Test func manifestThatIsAlsoAnIndexIsRefused() throws {
        let (path, editor) = try layout()
        let manifestDescriptor = (try editor.index["manifests"] as! [[String: Any]])[0]
        try editor.editManifest { $0["manifests"] = [manifestDescriptor] }
        let message = try #require(readError(path))
        #expect(message.contains("either an index or a manifest"))

        let (second, secondEditor) = try layout()
        var index = try secondEditor.index
        index["layers"] = try secondEditor.layers
        try secondEditor.setIndex(index)
        #expect(try #require(readError(second)).contains("either an index or a manifest"))
    }

    @Test func mediaTypesMustAgree() throws {
        let (path, editor) = try layout()
        try editor.editManifest { $0["mediaType"] = MediaType.dockerManifest }
        #expect(try #require(readError(path)).contains("says it is \(MediaType.dockerManifest)"))

        let (second, secondEditor) = try layout()
        try secondEditor.editManifest { manifest in
            var layers = manifest["layers"] as! [[String: Any]]
            layers[0]["mediaType"] = "application/vnd.example.not-a-layer"
            manifest["layers"] = layers
        }
        #expect(try #require(readError(second)).contains("which is not a tar layer"))
    }

    @Test func layerBytesMustMatchTheirMediaType() throws {
        let (path, editor) = try layout(.none)
        try editor.editManifest { manifest in
            var layers = manifest["layers"] as! [[String: Any]]
            layers[0]["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip"
            manifest["layers"] = layers
        }
        #expect(
            try #require(readError(path)).contains(
                "is declared application/vnd.oci.image.layer.v1.tar+gzip but its bytes are an uncompressed tar"))
    }

    @Test func oversizedJSONIsRefused() throws {
        let (path, editor) = try layout()
        var index = try editor.index
        index["annotations"] = ["padding": String(repeating: "x", count: 5 << 20)]
        try editor.setIndex(index)
        let message = try #require(readError(path))
        #expect(message.contains("index.json"))
        #expect(message.contains("limit"), "\(message)")

        let (second, secondEditor) = try layout()
        try secondEditor.editManifest { $0["annotations"] = ["padding": String(repeating: "y", count: 5 << 20)] }
        #expect(try #require(readError(second)).contains("limit"))
    }

    @Test func missingBlobsAndNotImagesAreNamed() throws {
        let (path, editor) = try layout()
        try FileManager.default.removeItem(at: editor.blobURL(try editor.layers[0]["digest"] as! String))
        #expect(try #require(readError(path)).contains("is missing"))

        let empty = images.directory.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        #expect(try #require(readError(empty.path)).contains("not an image"))

        let text = images.directory.appendingPathComponent("notes.txt")
        try Data("hello\n".utf8).write(to: text)
        #expect(readError(text.path) != nil)

        #expect(try #require(readError(images.directory.appendingPathComponent("absent").path)).contains("absent"))
    }
}
