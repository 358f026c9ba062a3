import Foundation
import HardenArchive
import HardenImage
import HardenPublish
import HardenRegistry
import HardenTestSupport
import Testing

/// Pushes to a real docker-registry on 127.0.0.1, checked with skopeo, which nobody here wrote.
@Suite struct ImagePushTests {
    func layout(_ images: TestImages, label: String = "one") throws -> String {
        try images.image([
            base,
            [
                file("/app/run", "#!/app \(label)\n", mode: 0o755),
                file("/app/data/\(label).txt", String(repeating: label, count: 5000)),
            ],
        ])
    }

    func skopeo(_ arguments: [String]) throws -> Data {
        try runToolWaiting("/usr/bin/skopeo", arguments)
    }

    @Test func theRegistryStoresTheImageAsHardenWroteIt() async throws {
        let images = try TestImages()
        defer { images.remove() }
        let path = try layout(images)
        let image = try PushableImage.read(path)
        try await LocalRegistry.run { registry in
            let destination = try ImageReference(parsing: "\(registry.host)/harden-test/app:1")
            let first = try await ImagePush.push(image, to: destination, client: RegistryClient())
            #expect(first.manifestDigest == image.digest)
            #expect(first.blobsSent == image.blobs.count && first.blobsPresent == 0)
            #expect(first.bytesSent == image.blobs.reduce(0) { $0 + $1.size })

            // The tag's raw manifest is the layout's, byte for byte.
            let raw = try skopeo(["inspect", "--raw", "--tls-verify=false", "docker://\(destination)"])
            #expect(raw == image.manifest)
            #expect(Digest.sha256(raw).description == image.digest)
            // A copy back to an OCI layout has the same layers.
            let copy = images.directory.appendingPathComponent("copy").path
            _ = try skopeo(["copy", "--src-tls-verify=false", "docker://\(destination)", "oci:\(copy):1"])
            let copied = try PushableImage.read(copy)
            #expect(copied.digest == image.digest)
            #expect(copied.blobs.map(\.digest) == image.blobs.map(\.digest))

            // Everything is there now: nothing is sent again, under another tag too.
            let again = try await ImagePush.push(
                image, to: try ImageReference(parsing: "\(registry.host)/harden-test/app:2"), client: RegistryClient())
            #expect(again.blobsSent == 0 && again.blobsPresent == image.blobs.count && again.bytesSent == 0)
            #expect(again.manifestDigest == image.digest)
        }
    }

    /// A blob over the chunk size goes up in PATCH chunks; the registry puts them together into
    /// the blob the layout has, under its digest.
    @Test func aBlobOverTheChunkSizeGoesUpInChunks() async throws {
        let images = try TestImages()
        defer { images.remove() }
        // Random bytes: gzip cannot make the layer smaller than a few chunks.
        let noise = Data((0..<300_000).map { _ in UInt8.random(in: 0...255) })
        let path = try images.image([base, [file("/app/noise.bin", noise)]])
        let image = try PushableImage.read(path)
        let largest = try #require(image.blobs.map(\.size).max())
        #expect(largest > 4 * 65_536)
        try await LocalRegistry.run { registry in
            let destination = try ImageReference(parsing: "\(registry.host)/harden-test/chunked:1")
            let pushed = try await ImagePush.push(image, to: destination, client: RegistryClient(uploadChunkSize: 65_536))
            #expect(pushed.manifestDigest == image.digest && pushed.blobsSent == image.blobs.count)
            let copy = images.directory.appendingPathComponent("chunked-copy").path
            _ = try skopeo(["copy", "--src-tls-verify=false", "docker://\(destination)", "oci:\(copy):1"])
            let copied = try PushableImage.read(copy)
            #expect(copied.digest == image.digest)
            for (blob, back) in zip(image.blobs, copied.blobs) {
                #expect(
                    try Data(contentsOf: URL(fileURLWithPath: back.path)) == Data(contentsOf: URL(fileURLWithPath: blob.path)))
            }
        }
    }

    /// With token authentication, a mount asks for a token that may also pull from the source
    /// repository (without it, a registry would refuse the mount and the blob would be sent).
    @Test func aMountsTokenMayPullFromTheSourceRepository() async throws {
        let images = try TestImages()
        defer { images.remove() }
        let image = try PushableImage.read(try layout(images, label: "token"))
        try await FaultyRegistry.run(mode: "token") { registry in
            let destination = try ImageReference(parsing: "\(registry.host)/harden-test/faulty:1")
            let pushed = try await ImagePush.push(
                image, to: destination, client: RegistryClient(), mountFrom: ["harden-test/earlier"])
            #expect(pushed.blobsMounted == image.blobs.count && pushed.blobsSent == 0, "\(registry.log)")
            #expect(
                registry.log.contains(
                    "TOKEN /token?service=faulty&scope=repository:harden-test/faulty:pull,push&scope=repository:harden-test/earlier:pull"),
                "\(registry.log)")
        }
    }

    /// A chunk the registry refuses ends the push naming the bytes it held.
    @Test func aRefusedChunkNamesItsBytes() async throws {
        let images = try TestImages()
        defer { images.remove() }
        let image = try PushableImage.read(try layout(images, label: "chunks"))
        try await FaultyRegistry.run(mode: "chunk416") { registry in
            let destination = try ImageReference(parsing: "\(registry.host)/harden-test/faulty:1")
            do {
                _ = try await ImagePush.push(image, to: destination, client: RegistryClient(uploadChunkSize: 16))
                Issue.record("a refused chunk went unnoticed")
            } catch let error as PushError {
                #expect(error.message.contains("uploading bytes 0-15 of blob \(image.blobs[0].digest)"), "\(error)")
                #expect(error.message.contains("BLOB_UPLOAD_INVALID"), "\(error)")
            }
            #expect(registry.log.contains("PATCH /v2/upload/1?state=abc 0-15"), "\(registry.log)")
            #expect(!registry.log.contains("PUT /v2/harden-test/faulty/manifests/"), "\(registry.log)")
        }
    }

    /// An OCI archive is pushed with its own manifest; a classic docker-archive with the one
    /// harden writes: its config (the image ID) and its uncompressed layers as they are, sent from
    /// inside the tar, and the same archive always gives the same digest.
    @Test func archivesArePushedFromInsideTheTar() async throws {
        let images = try TestImages()
        defer { images.remove() }
        let layers = [base, [file("/app/run", "#!/app archive\n", mode: 0o755)]]
        let blobs = try layers.map { try ImageWriter.layer($0, compression: .gzip) }
        let config = ImageWriter.config(
            layers: blobs, config: ContainerConfig(user: "65532", entrypoint: ["/app/run"]), history: ["RUN a", "RUN b"])
        let dockerArchive = images.directory.appendingPathComponent("saved.tar")
        try ImageWriter.writeDockerArchive(config: config, layers: blobs, to: dockerArchive, tag: "app:1")
        let layout = images.directory.appendingPathComponent("layout")
        try ImageWriter.writeLayout(config: config, layers: blobs, to: layout)
        let ociArchive = images.directory.appendingPathComponent("layout.tar")
        try ImageWriter.writeTar(try ImageWriter.files(in: layout), to: ociArchive)

        let saved = try PushableImage.read(dockerArchive.path)
        #expect(saved.manifestComposed)
        #expect(try PushableImage.read(dockerArchive.path).digest == saved.digest)
        #expect(saved.blobs.dropFirst().map(\.digest) == config.rootfs.diffIDs.map(\.description))
        #expect(saved.blobs.allSatisfy { $0.path == dockerArchive.path && $0.offset > 0 })
        let fromTar = try PushableImage.read(ociArchive.path)
        #expect(!fromTar.manifestComposed)
        #expect(fromTar.digest == (try PushableImage.read(layout.path)).digest)

        try await LocalRegistry.run { registry in
            for (name, image) in [("saved", saved), ("oci", fromTar)] {
                let destination = try ImageReference(parsing: "\(registry.host)/harden-test/\(name):1")
                let pushed = try await ImagePush.push(image, to: destination, client: RegistryClient())
                #expect(pushed.manifestDigest == image.digest)
                let raw = try skopeo(["inspect", "--raw", "--tls-verify=false", "docker://\(destination)"])
                #expect(raw == image.manifest)
                // skopeo reads it back as the image it was: same config, the layers unpack to the diff_ids.
                let inspected = try JSONSerialization.jsonObject(
                    with: try skopeo(["inspect", "--config", "--raw", "--tls-verify=false", "docker://\(destination)"]))
                let diffIDs = ((inspected as? [String: Any])?["rootfs"] as? [String: Any])?["diff_ids"] as? [String]
                #expect(diffIDs == config.rootfs.diffIDs.map(\.description))
            }
        }
    }

    /// A docker-archive with compressed layers cannot be pushed as it is: said, with what to do.
    @Test func aDockerArchiveWithCompressedLayersIsRefused() throws {
        let images = try TestImages()
        defer { images.remove() }
        var blob = try ImageWriter.layer(base, compression: .gzip)
        blob.tar = nil  // the archive keeps the gzip bytes
        let config = ImageWriter.config(layers: [blob], config: ContainerConfig(user: "65532"), history: ["RUN a"])
        let archive = images.directory.appendingPathComponent("gzip.tar")
        try ImageWriter.writeDockerArchive(config: config, layers: [blob], to: archive)
        #expect {
            _ = try PushableImage.read(archive.path)
        } throws: { error in
            let error = error as? PushError
            return error?.message.contains("is compressed") == true && error?.hint?.contains("harden normalize") == true
        }
    }

    /// Blobs another repository of the registry holds are mounted, not sent; a repository that
    /// does not hold them falls back to an upload.
    @Test func blobsAreMountedFromARepositoryThatHasThem() async throws {
        let images = try TestImages()
        defer { images.remove() }
        let image = try PushableImage.read(try layout(images, label: "mounted"))
        try await LocalRegistry.run { registry in
            let first = try ImageReference(parsing: "\(registry.host)/harden-test/first:1")
            _ = try await ImagePush.push(image, to: first, client: RegistryClient())
            let mounted = try await ImagePush.push(
                image, to: try ImageReference(parsing: "\(registry.host)/harden-test/second:1"), client: RegistryClient(),
                mountFrom: ["harden-test/empty", "harden-test/first"])
            #expect(mounted.blobsMounted == image.blobs.count && mounted.blobsSent == 0 && mounted.bytesSent == 0)
            let raw = try skopeo(["inspect", "--raw", "--tls-verify=false", "docker://\(registry.host)/harden-test/second:1"])
            #expect(raw == image.manifest)

            let sent = try await ImagePush.push(
                image, to: try ImageReference(parsing: "\(registry.host)/harden-test/third:1"), client: RegistryClient(),
                mountFrom: ["harden-test/empty"])
            #expect(sent.blobsMounted == 0 && sent.blobsSent == image.blobs.count)
        }
    }

    @Test func aRegistryAskingForALoginGetsTheDockerConfigsOne() async throws {
        let images = try TestImages()
        defer { images.remove() }
        let image = try PushableImage.read(try layout(images, label: "auth"))
        try await LocalRegistry.run(auth: .htpasswd(user: "pusher", password: "s3cret")) { registry in
            let destination = try ImageReference(parsing: "\(registry.host)/harden-test/private:1")
            let login = DockerCredentials(logins: [registry.host: .init(username: "pusher", password: "s3cret")])
            let pushed = try await ImagePush.push(image, to: destination, client: RegistryClient(credentials: login))
            #expect(pushed.manifestDigest == image.digest)
            let raw = try skopeo([
                "inspect", "--raw", "--tls-verify=false", "--creds", "pusher:s3cret", "docker://\(destination)",
            ])
            #expect(Digest.sha256(raw).description == image.digest)

            // Without the login: refused, with what to do.
            do {
                _ = try await ImagePush.push(
                    image, to: try ImageReference(parsing: "\(registry.host)/harden-test/private:2"), client: RegistryClient())
                Issue.record("an anonymous push was taken")
            } catch let error as PushError {
                #expect(error.message.contains(registry.host), "\(error)")
                #expect(error.hint?.contains("docker login") == true, "\(error)")
            }
        }
    }

    /// A layer whose bytes are not its digest is refused by the registry, and the tag is not made.
    @Test func aDamagedLayerIsRefusedAndNothingIsTagged() async throws {
        let images = try TestImages()
        defer { images.remove() }
        let path = try layout(images, label: "damaged")
        let image = try PushableImage.read(path)
        let layer = try #require(image.blobs.last)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: layer.path))
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: layer.path))
        try await LocalRegistry.run { registry in
            let destination = try ImageReference(parsing: "\(registry.host)/harden-test/damaged:1")
            do {
                _ = try await ImagePush.push(image, to: destination, client: RegistryClient())
                Issue.record("a damaged layer was pushed")
            } catch let error as PushError {
                #expect(error.message.contains("uploading blob \(layer.digest)"), "\(error)")
                #expect(error.message.contains("DIGEST_INVALID"), "\(error)")
            }
            await #expect {
                _ = try await RegistryClient().digest(of: destination)
            } throws: { error in
                (error as? RegistryError)?.code == .notFound
            }
        }
    }

    @Test func anIncompleteLayoutNamesTheMissingFile() throws {
        let images = try TestImages()
        defer { images.remove() }
        let path = try layout(images, label: "incomplete")
        let layer = try #require(try PushableImage.read(path).blobs.last)
        try FileManager.default.removeItem(atPath: layer.path)
        #expect {
            _ = try PushableImage.read(path)
        } throws: { error in
            "\(error)".contains(layer.path) && "\(error)".contains("missing")
        }
        #expect {
            _ = try PushableImage.read(images.directory.path)
        } throws: { error in
            "\(error)".contains("not an OCI layout")
        }
    }

    /// Only a layout of one image manifest, whose blobs are regular files inside it, is pushed.
    @Test func aLayoutWithMoreThanOneImageOrABlobOutsideItIsRefused() throws {
        let images = try TestImages()
        defer { images.remove() }
        let path = try layout(images, label: "refused")
        let indexURL = URL(fileURLWithPath: path + "/index.json")
        let original = try Data(contentsOf: indexURL)
        var index = try #require(try JSONSerialization.jsonObject(with: original) as? [String: Any])
        let entries = try #require(index["manifests"] as? [[String: Any]])
        index["manifests"] = entries + entries
        try JSONSerialization.data(withJSONObject: index).write(to: indexURL)
        #expect {
            _ = try PushableImage.read(path)
        } throws: { error in
            "\(error)".contains("lists 2 entries")
        }
        try original.write(to: indexURL)

        // A blob replaced by a link to a file of the same size outside the layout.
        let layer = try #require(try PushableImage.read(path).blobs.last)
        let outside = images.directory.appendingPathComponent("outside")
        try FileManager.default.copyItem(atPath: layer.path, toPath: outside.path)
        try FileManager.default.removeItem(atPath: layer.path)
        try FileManager.default.createSymbolicLink(atPath: layer.path, withDestinationPath: outside.path)
        #expect {
            _ = try PushableImage.read(path)
        } throws: { error in
            "\(error)".contains("not a file inside the layout")
        }
    }

    @Test func aRegistryThatIsNotThereIsNamed() async throws {
        let images = try TestImages()
        defer { images.remove() }
        let image = try PushableImage.read(try layout(images, label: "nowhere"))
        let port = try freePort()
        do {
            _ = try await ImagePush.push(
                image, to: try ImageReference(parsing: "127.0.0.1:\(port)/harden-test/app:1"), client: RegistryClient())
            Issue.record("a push to nothing succeeded")
        } catch let error as PushError {
            #expect(error.message.contains("127.0.0.1:\(port)"), "\(error)")
            #expect(error.message.contains("connection refused"), "\(error)")
        }
    }

    /// Faults a real registry cannot be made to show: each push ends in an error that names the
    /// registry, the repository and the step, and the tag is never written. Only the stall case
    /// has a short stall limit: on a loaded CI host, 1 s and then 5 s made slow answers look like stalls.
    @Test(arguments: [
        ("nochallenge", "answered 401 for blob", "without a WWW-Authenticate challenge"),
        ("upload404", "answered 404 to starting the upload of blob", "NAME_UNKNOWN"),
        ("redirect", "redirected uploading blob", "http://127.0.0.2:9/elsewhere"),
        ("mismatch", "answered HTTP 400 to uploading blob", "DIGEST_INVALID"),
        ("stall", "for blob sha256:", "nothing was sent or received for 5 s"),
    ])
    func aFaultyRegistryEndsThePushWithTheStepNamed(mode: String, step: String, detail: String) async throws {
        let images = try TestImages()
        defer { images.remove() }
        let image = try PushableImage.read(try layout(images, label: "faulty"))
        try await FaultyRegistry.run(mode: mode) { registry in
            let destination = try ImageReference(parsing: "\(registry.host)/harden-test/faulty:1")
            do {
                _ = try await ImagePush.push(
                    image, to: destination,
                    client: RegistryClient(timeout: .seconds(30), uploadStall: .seconds(mode == "stall" ? 5 : 30)))
                Issue.record("a push to a faulty registry (\(mode)) succeeded")
            } catch let error as PushError {
                #expect(error.message.contains(registry.host), "\(error)")
                #expect(error.message.contains(step) && error.message.contains(detail), "\(error)")
                #expect(mode == "nochallenge" || error.message.contains("harden-test/faulty"), "\(error)")
            }
            #expect(!registry.log.contains("PUT /v2/harden-test/faulty/manifests/"), "\(registry.log)")
        }
    }
}
