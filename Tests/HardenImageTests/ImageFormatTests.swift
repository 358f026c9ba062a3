import Foundation
import HardenArchive
import HardenImage
import HardenTestSupport
import Testing

/// One image in every form harden reads gives one filesystem; indexes pick the platform asked for.
@Suite struct ImageFormatTests {
    let images: TestImages
    let layers: [[(ArchiveEntry, Data)]] = [
        base + [dir("usr/bin"), executable("usr/bin/python3"), link("usr/bin/python", to: "python3"), dir("tmp", mode: 0o1777)],
        [whiteout("app/run"), executable("app/server"), hardlink("usr/bin/py", to: "usr/bin/python3"), opaque("etc")],
    ]

    init() throws { images = try TestImages() }

    func url(_ name: String) -> URL { images.directory.appendingPathComponent(name) }

    func blobs(_ compression: ArchiveWriter.Compression, platform: Platform = .current, content: [[(ArchiveEntry, Data)]]? = nil)
        throws -> (ImageConfig, [LayerBlob])
    {
        let blobs = try (content ?? layers).map { try ImageWriter.layer($0, compression: compression) }
        return (
            ImageWriter.config(
                layers: blobs, config: .init(user: "65532"), platform: platform, history: ["ADD base", "COPY app"]), blobs
        )
    }

    /// (path, kind, mode, size, link target) for every node: what must not depend on the form.
    func summary(_ path: String) throws -> [String] {
        let contents = try ImageReader().read(path)
        return contents.filesystem.nodes.keys.sorted().map { key in
            let node = contents.filesystem.nodes[key]!
            return
                "\(key) \(node.kind) \(String(node.mode, radix: 8)) \(node.size) \(node.linkTarget ?? "") \(node.hardlinkOf ?? "")"
        }
    }

    @Test func everyFormGivesTheSameFilesystem() throws {
        let (config, gzip) = try blobs(.gzip)
        try ImageWriter.writeLayout(config: config, layers: gzip, to: url("gzip"))
        let expected = try summary(url("gzip").path)
        #expect(expected.contains("/app/server file 755 17  "))
        #expect(expected.contains("/usr/bin/py file 755 17  /usr/bin/python3"))
        #expect(!expected.contains { $0.hasPrefix("/app/run ") || $0.hasPrefix("/etc/passwd ") })

        for compression in [ArchiveWriter.Compression.zstd, .none] {
            let (config, blobs) = try blobs(compression)
            try ImageWriter.writeLayout(config: config, layers: blobs, to: url("\(compression)"))
            #expect(try summary(url("\(compression)").path) == expected, "\(compression)")
        }

        try ImageWriter.writeTar(try ImageWriter.files(in: url("gzip")), to: url("oci.tar"))
        let ociArchive = try ImageReader().read(url("oci.tar").path)
        #expect(ociArchive.image.format == .ociArchive)
        #expect(try summary(url("oci.tar").path) == expected)

        let (plainConfig, plain) = try blobs(.none)
        try ImageWriter.writeDockerArchive(config: plainConfig, layers: plain, to: url("docker.tar"), tag: "example/app:1")
        let docker = try ImageReader().read(url("docker.tar").path)
        #expect(docker.image.format == .dockerArchive)
        #expect(docker.image.repoTags == ["example/app:1"])
        #expect(docker.image.layers.map(\.createdBy) == ["ADD base", "COPY app"])
        #expect(try summary(url("docker.tar").path) == expected)

        // `docker save | gzip`: members can't be read in place, they stream through libarchive.
        let packed = try ArchiveWriter(compression: .gzip)
        let reader = try ArchiveReader(path: url("docker.tar").path)
        while let entry = try reader.next() { try packed.add(entry, data: try reader.readData(limit: 1 << 24)) }
        try packed.finish().write(to: url("docker.tar.gz"))
        #expect(try summary(url("docker.tar.gz").path) == expected)
    }

    /// Engines from Docker 25 save an OCI layout with a `manifest.json` beside it.
    @Test func ociCompatibleDockerSaveReads() throws {
        let (config, blobs) = try blobs(.none)
        let descriptor = try ImageWriter.writeLayout(config: config, layers: blobs, to: url("layout"))
        var files = try ImageWriter.files(in: url("layout"))
        let manifest =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: url("layout/blobs/sha256/\(descriptor.digest.hex)"))) as! [String: Any]
        let configDigest = Digest((manifest["config"] as! [String: Any])["digest"] as! String)!
        let legacy = [
            DockerArchiveManifest(
                config: "blobs/sha256/\(configDigest.hex)", repoTags: ["example/app:2"],
                layers: blobs.map { "blobs/sha256/\($0.digest.hex)" })
        ]
        files.append(("manifest.json", ImageWriter.encode(legacy)))
        try ImageWriter.writeTar(files.sorted { $0.0 < $1.0 }, to: url("docker25.tar"))
        let contents = try ImageReader().read(url("docker25.tar").path)
        #expect(contents.image.format == .dockerArchive)
        #expect(contents.image.manifestDigest == descriptor.digest)
        #expect(contents.filesystem.nodes["/app/server"]?.kind == .file)
    }

    @Test func indexSelectsThePlatformAsked() throws {
        let amd64 = Platform(os: "linux", architecture: "amd64")
        let arm64 = Platform(os: "linux", architecture: "arm64", variant: "v8")
        let (amdConfig, amdBlobs) = try blobs(.gzip, platform: amd64, content: [base + [executable("bin/only-amd64")]])
        let (armConfig, armBlobs) = try blobs(.gzip, platform: arm64, content: [base + [executable("bin/only-arm64")]])
        let amdDescriptor = try ImageWriter.writeLayout(config: amdConfig, layers: amdBlobs, to: url("multi"))
        let armDescriptor = try ImageWriter.writeLayout(config: armConfig, layers: armBlobs, to: url("arm"))
        for (name, data) in try ImageWriter.files(in: url("arm")) where name.hasPrefix("blobs/") {
            try data.write(to: url("multi/" + name))
        }
        // An attestation manifest (platform unknown/unknown), as BuildKit adds, must be skipped.
        var attestation = amdDescriptor
        attestation.platform = Platform(os: "unknown", architecture: "unknown")
        let index = ImageIndex(
            schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [attestation, armDescriptor, amdDescriptor])
        try ImageWriter.encode(index).write(to: url("multi/index.json"))

        let onAMD = try ImageReader(platform: amd64).read(url("multi").path)
        #expect(onAMD.filesystem.nodes["/bin/only-amd64"] != nil)
        let onARM = try ImageReader(platform: Platform(os: "linux", architecture: "arm64")).read(url("multi").path)
        #expect(onARM.filesystem.nodes["/bin/only-arm64"] != nil)
        #expect(onARM.image.platform == arm64)

        let missing = try #require(readError(url("multi").path, platform: Platform(os: "linux", architecture: "s390x")))
        #expect(missing.contains("no manifest for linux/s390x"))
        #expect(missing.contains("linux/arm64/v8"))
        #expect(missing.contains("--platform"))

        // The same index nested one level down (an index of indexes).
        let nestedData = ImageWriter.encode(index)
        let nestedDigest = Digest.sha256(nestedData)
        try nestedData.write(to: url("multi/blobs/sha256/\(nestedDigest.hex)"))
        let outer = ImageIndex(
            schemaVersion: 2, mediaType: MediaType.ociIndex,
            manifests: [Descriptor(mediaType: MediaType.ociIndex, digest: nestedDigest, size: Int64(nestedData.count))])
        try ImageWriter.encode(outer).write(to: url("multi/index.json"))
        #expect(try ImageReader(platform: arm64).read(url("multi").path).filesystem.nodes["/bin/only-arm64"] != nil)
    }

    @Test func imageForAnotherPlatformSaysSo() throws {
        let (config, blobs) = try blobs(.gzip, platform: Platform(os: "linux", architecture: "riscv64"))
        try ImageWriter.writeDockerArchive(config: config, layers: blobs, to: url("riscv.tar"))
        let message = try #require(readError(url("riscv.tar").path))
        #expect(message.contains("the image is for linux/riscv64"))
        #expect(
            try ImageReader(platform: Platform(os: "linux", architecture: "riscv64")).read(url("riscv.tar").path).filesystem.count
                > 0)
    }
}
