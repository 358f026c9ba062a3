import Foundation
import HardenImage
import HardenPublish
import HardenRegistry
import HardenSigning
import HardenTestSupport
import Testing

/// Signatures and attestations on a real docker-registry (2.8: no referrers API, so the
/// `sha256-<hex>` tag index), checked by code nobody here wrote: `Checkers/cosign_check.py`
/// parses bundles with sigstore-protobuf-specs and verifies with PyCA cryptography,
/// securesystemslib and in-toto.
@Suite struct ImageSigningTests {
    static let checker = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Checkers/cosign_check.py").path

    /// What the checker printed, as JSON objects; a failed check throws with its message.
    func check(_ command: String, _ registry: LocalRegistry, _ repository: String, _ digest: String, _ key: String) throws
        -> [[String: Any]]
    {
        let output = try runToolWaiting(
            "/usr/bin/env", ["python3", Self.checker, command, registry.baseURL.absoluteString, repository, digest, key])
        return try #require(try JSONSerialization.jsonObject(with: output) as? [[String: Any]])
    }

    /// Pushes a small image and returns it with its reference and the referrer describing it.
    func pushed(_ images: TestImages, _ registry: LocalRegistry, repository: String, label: String) async throws
        -> (PushableImage, ImageReference, Referrer)
    {
        let path = try images.image([base, [file("/app/\(label)", "\(label)\n", mode: 0o755)]])
        let image = try PushableImage.read(path)
        let reference = try ImageReference(parsing: "\(registry.host)/\(repository):1")
        _ = try await ImagePush.push(image, to: reference, client: RegistryClient())
        return (image, reference, Referrer(mediaType: image.mediaType, digest: image.digest, size: Int64(image.manifest.count)))
    }

    static let provenance = BuildProvenance(
        recipe: "app", recipePath: "Recipes/app.yaml", recipeDigest: "sha256:" + String(repeating: "1", count: 64),
        inputDigest: "sha256:" + String(repeating: "2", count: 64),
        dependencies: [
            .init(
                name: "python:3.11-slim", uri: "docker-image-id://python:3.11-slim",
                digest: "sha256:" + String(repeating: "3", count: 64)),
            .init(name: "context", uri: nil, digest: "sha256:" + String(repeating: "4", count: 64)),
        ],
        builderID: "https://github.com/harden-build/harden@test", invocationID: "harden-build-7",
        startedOn: Date(timeIntervalSince1970: 1_765_000_000), finishedOn: Date(timeIntervalSince1970: 1_765_000_060),
        hardenVersion: "test")

    @Test func aSignatureAndAttestationsAreReadAndVerifiedBySomeoneElsesCode() async throws {
        let images = try TestImages()
        defer { images.remove() }
        let keys = try SigningKeys.generate(into: images.directory.appendingPathComponent("keys").path)
        let key = try SigningKeys.loadPrivate(keys.privateKey)
        try await LocalRegistry.run { registry in
            let (image, reference, subject) = try await pushed(images, registry, repository: "signed/app", label: "one")
            let attestations = [
                Attestation(
                    name: "provenance", predicateType: BuildProvenance.predicateType, predicate: try Self.provenance.predicate())
            ]
            let attached = try await ImageSigning.sign(
                subject, in: reference, key: key, attestations: attestations, legacy: true, client: RegistryClient())
            #expect(attached.map(\.name) == ["signature", "provenance"])
            #expect(attached.allSatisfy { !$0.alreadyThere && $0.source == ReferrersSource.tagIndex.rawValue })
            #expect(
                attached.map(\.legacyTag) == [
                    "sha256-\(image.digest.dropFirst(7)).sig", "sha256-\(image.digest.dropFirst(7)).att",
                ])

            let bundles = try check("bundles", registry, "signed/app", image.digest, keys.publicKey)
            #expect(
                Set(bundles.compactMap { $0["predicateType"] as? String }) == [
                    SignatureCheck.signaturePredicateType, BuildProvenance.predicateType,
                ])
            // The SLSA fields, as the independent parser read them out of the signed statement.
            let slsa = try #require(
                bundles.first { $0["predicateType"] as? String == BuildProvenance.predicateType }?["predicate"] as? [String: Any])
            let definition = try #require(slsa["buildDefinition"] as? [String: Any])
            #expect(definition["buildType"] as? String == BuildProvenance.buildType)
            let dependencies = try #require(definition["resolvedDependencies"] as? [[String: Any]])
            #expect(dependencies.compactMap { $0["name"] as? String } == ["context", "python:3.11-slim"])
            let recipe = try #require((definition["externalParameters"] as? [String: Any])?["recipe"] as? [String: Any])
            #expect((recipe["digest"] as? [String: String])?["sha256"] == String(repeating: "1", count: 64))
            let run = try #require(slsa["runDetails"] as? [String: Any])
            let metadata = try #require(run["metadata"] as? [String: String])
            #expect(
                metadata == [
                    "invocationId": "harden-build-7", "startedOn": "2025-12-06T05:46:40Z", "finishedOn": "2025-12-06T05:47:40Z",
                ])
            let legacy = try check("legacy", registry, "signed/app", image.digest, keys.publicKey)
            #expect(legacy.count == 1)
            let legacyAttestations = try check("attestations", registry, "signed/app", image.digest, keys.publicKey)
            #expect(legacyAttestations.count == 1)

            // harden's own check agrees, and finds each one once.
            let found = try await SignatureCheck.find(image.digest, in: reference, key: key.publicKey, client: RegistryClient())
            #expect(found.count == 4 && found.allSatisfy(\.valid), "\(found)")

            // Signing the same digest again with the same key writes nothing.
            let again = try await ImageSigning.sign(
                subject, in: reference, key: key, attestations: attestations, legacy: true, client: RegistryClient())
            #expect(again.allSatisfy { $0.alreadyThere }, "\(again)")
            #expect(try await registry.manifestRequests("PUT", repository: "signed/app", expected: 7) == 7)
        }
    }

    /// The other way round: what independent code signed (with a key it made) is accepted;
    /// a statement over another digest, another key, a changed byte and no signature are not.
    @Test func signaturesMadeElsewhereAreCheckedAndBadOnesRefused() async throws {
        let images = try TestImages()
        defer { images.remove() }
        let keyDirectory = images.directory.appendingPathComponent("keys")
        let keys = try SigningKeys.generate(into: keyDirectory.path)
        let key = try SigningKeys.loadPrivate(keys.privateKey)
        try await LocalRegistry.run { registry in
            let (image, reference, subject) = try await pushed(images, registry, repository: "other/app", label: "two")
            let (unsigned, unsignedReference, _) = try await pushed(
                images, registry, repository: "other/unsigned", label: "three")
            #expect(
                try await SignatureCheck.find(
                    unsigned.digest, in: unsignedReference, key: key.publicKey, client: RegistryClient()
                ).isEmpty)

            _ = try await runTool(
                "/usr/bin/env",
                ["python3", Self.checker, "sign", registry.baseURL.absoluteString, "other/app", image.digest, keyDirectory.path])
            let other = try SigningKeys.loadPublic(keyDirectory.appendingPathComponent("other.pub").path)
            let byOther = try await SignatureCheck.find(image.digest, in: reference, key: other, client: RegistryClient())
            #expect(byOther.count == 1 && byOther[0].valid && byOther[0].kind == .signature, "\(byOther)")
            // harden's key did not make it.
            let byMine = try await SignatureCheck.find(image.digest, in: reference, key: key.publicKey, client: RegistryClient())
            #expect(byMine.count == 1 && !byMine[0].valid && byMine[0].problem?.contains("another key") == true, "\(byMine)")

            // harden signs too; the entry the other tool put in the tag index survives.
            _ = try await ImageSigning.sign(
                subject, in: reference, key: key, attestations: [], legacy: false, client: RegistryClient())
            let (listed, source) = try await Referrers.list(image.digest, in: reference, client: RegistryClient())
            #expect(source == .tagIndex && listed.count == 2)
            #expect(
                try await SignatureCheck.find(image.digest, in: reference, key: other, client: RegistryClient()).filter(\.valid)
                    .count == 1)

            // A statement naming another digest, attached to this image, is refused.
            _ = try await runTool(
                "/usr/bin/env",
                [
                    "python3", Self.checker, "sign", registry.baseURL.absoluteString, "other/app", image.digest,
                    keyDirectory.path, unsigned.digest,
                ])
            let moved = try SigningKeys.loadPublic(keyDirectory.appendingPathComponent("other.pub").path)
            let overOther = try await SignatureCheck.find(image.digest, in: reference, key: moved, client: RegistryClient())
            #expect(overOther.contains { !$0.valid && $0.problem?.contains("names \(unsigned.digest)") == true }, "\(overOther)")
            #expect(!overOther.contains { $0.valid })

            // One changed byte in a bundle harden made: the signature no longer holds.
            let mine = try #require(
                listed.first { $0.annotations?["org.opencontainers.image.created"] != "2026-12-07T00:00:00.000Z" })
            let manifest = try #require(try await RegistryClient().fetchManifest(reference.pinned(mine.digest)))
            let layer = try #require(
                (try JSONSerialization.jsonObject(with: manifest.bytes) as? [String: Any])?["layers"] as? [[String: Any]])
            var bundle = try await RegistryClient().fetchBlob(try #require(layer.first?["digest"] as? String), in: reference)
            let decoded = try JSONDecoder().decode(SigstoreBundle.self, from: bundle)
            let envelope = try #require(decoded.dsseEnvelope)
            var payload = try #require(Data(base64Encoded: envelope.payload))
            payload[payload.count - 2] ^= 0x01
            var altered = decoded
            altered.dsseEnvelope?.payload = payload.base64EncodedString()
            bundle = try altered.encoded()
            _ = try await Referrers.attach(
                artifactType: SigstoreBundle.mediaType, layer: bundle, layerTitle: "altered.sigstore.json",
                annotations: ["dev.sigstore.bundle.content": "dsse-envelope"], subject: subject, in: reference,
                client: RegistryClient())
            let afterChange = try await SignatureCheck.find(
                image.digest, in: reference, key: key.publicKey, client: RegistryClient())
            #expect(afterChange.contains { !$0.valid && $0.problem?.contains("altered") == true }, "\(afterChange)")
            #expect(afterChange.filter(\.valid).count == 1)
        }
    }

    /// A `sha256-<hex>` tag holding something that is not an index is left as it is, and said.
    @Test func aReferrersTagThatIsNotAnIndexStopsSigningAndIsLeftAlone() async throws {
        let images = try TestImages()
        defer { images.remove() }
        let key = try SigningKeys.loadPrivate(
            try SigningKeys.generate(into: images.directory.appendingPathComponent("k").path).privateKey)
        try await LocalRegistry.run { registry in
            let (image, reference, subject) = try await pushed(images, registry, repository: "garbage/app", label: "four")
            // Another image manifest under the referrers tag.
            let squatter = reference.tagged(Referrers.tagName(for: image.digest))
            _ = try await ImagePush.push(image, to: squatter, client: RegistryClient())
            do {
                _ = try await ImageSigning.sign(
                    subject, in: reference, key: key, attestations: [], legacy: false, client: RegistryClient())
                Issue.record("signed over a tag that is not an index")
            } catch let error as PushError {
                #expect(
                    error.message.contains("the referrers tag \(Referrers.tagName(for: image.digest)) is not an OCI image index"),
                    "\(error)")
                #expect(error.message.contains(registry.host) && error.message.contains("garbage/app"), "\(error)")
            }
            #expect(try await RegistryClient().fetchManifest(squatter)?.digest == image.digest)
        }
    }

    /// A `.sig` tag that holds something else than an image manifest with layers stops
    /// `--legacy-sig` with the tag named, and is left as it was.
    @Test func aLegacySignatureTagThatIsNotAManifestIsLeftAlone() async throws {
        let images = try TestImages()
        defer { images.remove() }
        let key = try SigningKeys.loadPrivate(
            try SigningKeys.generate(into: images.directory.appendingPathComponent("k").path).privateKey)
        try await LocalRegistry.run { registry in
            let (image, reference, subject) = try await pushed(images, registry, repository: "legacy/app", label: "five")
            let tag = reference.tagged(Referrers.tagName(for: image.digest) + ".sig")
            let index = Data(
                #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"\#(image.mediaType)","digest":"\#(image.digest)","size":\#(image.manifest.count)}]}"#
                    .utf8)
            let squatted = try await RegistryClient().putManifest(index, mediaType: MediaType.ociIndex, to: tag)
            do {
                _ = try await ImageSigning.sign(
                    subject, in: reference, key: key, attestations: [], legacy: true, client: RegistryClient())
                Issue.record("a legacy signature was appended to an index")
            } catch let error as PushError {
                #expect(error.message.contains("the tag \(tag.tag ?? "") is not an image manifest with layers"), "\(error)")
                #expect(error.message.contains(registry.host) && error.message.contains("legacy/app"), "\(error)")
            }
            #expect(try await RegistryClient().fetchManifest(tag)?.digest == squatted)
        }
    }

    /// A registry with the referrers API (scripted: Debian's registry has none) gets the bundles
    /// as referrers and no `sha256-<hex>` tag index; verifying finds them there.
    @Test func aRegistryWithTheReferrersAPIGetsNoTagIndex() async throws {
        let images = try TestImages()
        defer { images.remove() }
        let key = try SigningKeys.loadPrivate(
            try SigningKeys.generate(into: images.directory.appendingPathComponent("k").path).privateKey)
        let image = try PushableImage.read(try images.image([base, [file("/app/six", "six\n", mode: 0o755)]]))
        try await FaultyRegistry.run(mode: "referrers") { registry in
            let reference = try ImageReference(parsing: "\(registry.host)/oci11/app:1")
            let pushed = try await ImagePush.push(image, to: reference, client: RegistryClient())
            #expect(pushed.manifestDigest == image.digest)
            let subject = Referrer(mediaType: image.mediaType, digest: image.digest, size: Int64(image.manifest.count))
            let attestations = [
                Attestation(
                    name: "provenance", predicateType: BuildProvenance.predicateType, predicate: try Self.provenance.predicate())
            ]
            let attached = try await ImageSigning.sign(
                subject, in: reference, key: key, attestations: attestations, legacy: false, client: RegistryClient())
            #expect(attached.map(\.name) == ["signature", "provenance"])
            #expect(attached.allSatisfy { $0.source == ReferrersSource.referrersAPI.rawValue }, "\(attached)")
            #expect(!registry.log.contains("PUT /v2/oci11/app/manifests/sha256-"), "\(registry.log)")

            let found = try await SignatureCheck.find(image.digest, in: reference, key: key.publicKey, client: RegistryClient())
            #expect(found.count == 2 && found.allSatisfy { $0.valid }, "\(found)")
            #expect(found.allSatisfy { $0.location.contains("referrers API") }, "\(found)")
            let again = try await ImageSigning.sign(
                subject, in: reference, key: key, attestations: attestations, legacy: false, client: RegistryClient())
            #expect(again.allSatisfy { $0.alreadyThere }, "\(again)")
        }
    }
}
