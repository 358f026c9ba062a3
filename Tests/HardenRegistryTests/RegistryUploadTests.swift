import Foundation
import HardenRegistry
import HardenTestSupport
import Testing

/// The push half of the client against a real registry behind a token service: the token it
/// asks for names `pull,push`, and what it uploads is what the registry then serves.
@Suite struct RegistryUploadTests {
    @Test func aPushAsksForAPushTokenAndIsServedBack() async throws {
        try await TokenService.run(login: "pusher:s3cret") { tokens in
            try await LocalRegistry.run(auth: tokens.registryAuth) { registry in
                try await withScratchDirectory { scratch in
                    let layer = scratch.appendingPathComponent("layer")
                    try Data("a layer\n".utf8).write(to: layer)
                    let layerDigest = try sha256Digest(try Data(contentsOf: layer))
                    let config = scratch.appendingPathComponent("config")
                    try Data(
                        #"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["\#(layerDigest)"]}}"#.utf8
                    )
                    .write(to: config)
                    let configDigest = try sha256Digest(try Data(contentsOf: config))
                    let manifest = Data(
                        """
                        {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",\
                        "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"\(configDigest)","size":\(try Data(contentsOf: config).count)},\
                        "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"\(layerDigest)","size":8}]}
                        """.utf8)
                    let reference = try ImageReference(parsing: "\(registry.host)/private/app:1")
                    let login = DockerCredentials(logins: [registry.host: .init(username: "pusher", password: "s3cret")])
                    let client = RegistryClient(credentials: login)

                    for (digest, file) in [(layerDigest, layer), (configDigest, config)] {
                        #expect(try await !client.hasBlob(digest, in: reference))
                        let size = Int64(try Data(contentsOf: file).count)
                        try await client.uploadBlob(digest, size: size, file: file.path, to: reference)
                        #expect(try await client.hasBlob(digest, in: reference))
                    }
                    let stored = try await client.putManifest(
                        manifest, mediaType: "application/vnd.oci.image.manifest.v1+json", to: reference)
                    #expect(stored == (try sha256Digest(manifest)))
                    #expect(tokens.issued(scope: "repository:private/app:pull,push") == ["pusher"])
                    #expect(try await RegistryClient(credentials: login).digest(of: reference) == stored)

                    // Without the login the token service refuses, and the push says what to do.
                    let anonymous = await #expect(throws: RegistryError.self) {
                        try await RegistryClient().hasBlob(layerDigest, in: reference)
                    }
                    #expect(anonymous?.code == .credentialsMissing)
                }
            }
        }
    }
}
