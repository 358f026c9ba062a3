import Foundation
import HardenBuild
import HardenHistory
import HardenImage
import HardenTestSupport
import Testing

/// `harden push` as a user runs it, against a real docker-registry on 127.0.0.1.
@Suite struct PushCommandTests {
    struct Pushed: Decodable {
        let destination: String
        let manifestDigest: String
        let blobsSent: Int
        let blobsPresent: Int
    }

    /// Recipe "app"'s last successful build, as harden build records it and keeps its layout;
    /// gives the history it is in.
    @discardableResult
    func keepBuild(
        of layout: String, in project: Project, imageID: String, inputParts: [String: String] = [:],
        baseImages: [String: String] = [:]
    ) async throws -> BuildStore {
        let state = StateDirectory(root: project.root.appendingPathComponent(".harden"))
        let kept = state.imageLayout(recipe: "app", imageID: imageID)
        try FileManager.default.createDirectory(at: kept.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: layout, toPath: kept.path)
        let store = try BuildStore(path: state.database.path)
        _ = try await store.insert(
            BuildRecord(
                recipe: "app", status: .succeeded, reasons: ["new recipe"], inputDigest: "sha256:in", inputParts: inputParts,
                baseImages: baseImages, runtimeImage: imageID, startedAt: Date(), finishedAt: Date()))
        return store
    }

    @Test func aLayoutAndARecipesLastBuildArePushedAsThemselves() async throws {
        let project = try Project()
        let images = try TestImages()
        defer { images.remove() }
        let layout = try images.image([base, [file("/app/run", "#!/app\n", mode: 0o755)]])
        let digest = try #require(
            try JSONDecoder().decode(ImageIndex.self, from: Data(contentsOf: URL(fileURLWithPath: layout + "/index.json")))
                .manifests.first?.digest.description)

        // The recipe's last successful build.
        let store = try await keepBuild(of: layout, in: project, imageID: "sha256:" + String(repeating: "ab", count: 32))

        try await LocalRegistry.run { registry in
            let first = try await project.harden(["push", layout, "\(registry.host)/harden-test/cli:1", "--format", "json"])
            #expect(first.status == 0, "\(first.stderr)")
            let pushed = try JSONDecoder().decode(Pushed.self, from: Data(first.stdout.utf8))
            #expect(pushed.manifestDigest == digest && pushed.blobsSent == 3 && pushed.blobsPresent == 0)

            let byRecipe = try await project.harden(["push", "app", "\(registry.host)/harden-test/cli:2"])
            #expect(byRecipe.status == 0, "\(byRecipe.stderr)")
            #expect(byRecipe.stdout.contains("pushed \(registry.host)/harden-test/cli:2@\(digest)"), "\(byRecipe.stdout)")
            #expect(
                byRecipe.stdout.contains("0 sent (0 bytes), 0 mounted from another repository, 3 already there"),
                "\(byRecipe.stdout)")

            // Both pushes are in the history: a push to another repository mounts from them.
            let pushes = try await store.pushes(registry: registry.host)
            #expect(pushes.map(\.tag) == ["2", "1"] && pushes.map(\.recipe) == ["app", nil])
            #expect(pushes.allSatisfy { $0.digest == digest })
            let elsewhere = try await project.harden(["push", "app", "\(registry.host)/harden-test/elsewhere:1"])
            #expect(elsewhere.status == 0, "\(elsewhere.stderr)")
            #expect(elsewhere.stdout.contains("0 sent (0 bytes), 3 mounted from another repository"), "\(elsewhere.stdout)")
        }
    }

    /// What `docker save` wrote (docker 20.10: a classic archive, no manifest of its own) goes
    /// up from inside the tar with the image ID docker gave it.
    @Test func aDockerSaveArchiveKeepsItsImageID() async throws {
        let project = try Project()
        let image = "harden-local/python3-debian12:nonroot"
        let archive = project.root.appendingPathComponent("saved.tar").path
        let saved = try await CLI.shell("docker save -o \(archive) \(image) && docker image inspect --format '{{.Id}}' \(image)")
        #expect(saved.status == 0, "\(saved.output)")
        let imageID = saved.output.trimmingCharacters(in: .whitespacesAndNewlines)
        try await LocalRegistry.run { registry in
            let destination = "\(registry.host)/harden-test/saved:1"
            let first = try await project.harden(["push", archive, destination, "--format", "json"])
            #expect(first.status == 0, "\(first.stderr)")
            #expect(first.stderr.contains("docker-archive with no manifest of its own"), "\(first.stderr)")
            let pushed = try JSONDecoder().decode(Pushed.self, from: Data(first.stdout.utf8))
            let raw = try await runTool("/usr/bin/skopeo", ["inspect", "--raw", "--tls-verify=false", "docker://\(destination)"])
            #expect(try sha256Digest(raw) == pushed.manifestDigest)
            let config = try await runTool(
                "/usr/bin/skopeo", ["inspect", "--config", "--raw", "--tls-verify=false", "docker://\(destination)"])
            #expect(try sha256Digest(config) == imageID)
            // The same archive again: the same digest, nothing sent.
            let again = try await project.harden(["push", archive, "\(registry.host)/harden-test/saved:2", "--format", "json"])
            let second = try JSONDecoder().decode(Pushed.self, from: Data(again.stdout.utf8))
            #expect(second.manifestDigest == pushed.manifestDigest && second.blobsSent == 0)
        }
    }

    @Test(arguments: [
        (["push", "nothing-built", "127.0.0.1:5000/x:1"], "no build history"),
        (["push", ".", "127.0.0.1:5000/x:1"], "not an OCI layout"),
        (["push", ".", "127.0.0.1:5000/UPPER:1"], "invalid image reference"),
        (["push", ".", "127.0.0.1:5000/x@sha256:" + String(repeating: "0", count: 64)], "name the tag"),
        (["push", ".", "127.0.0.1:5000/x"], "name the tag"),
        (["push", ".", "127.0.0.1:5000/x:1@sha256:" + String(repeating: "0", count: 64)], "and no digest"),
    ])
    func badInputExitsTwoWithWhatIsWrong(arguments: [String], expected: String) async throws {
        let project = try Project()
        let result = try await project.harden(arguments)
        #expect(result.status == 2)
        #expect(result.stderr.contains(expected), "\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    /// `push --sign-key --attest` then `verify-signature`, as a user runs them: the exit status
    /// says signed (0), not signed by this key (1) or could not look (2).
    @Test func aSignedPushIsVerifiedAndOtherKeysAndUnsignedImagesAreNot() async throws {
        let project = try Project()
        let images = try TestImages()
        defer { images.remove() }
        let layout = try images.image([base, [file("app/run", "#!/app signed\n", mode: 0o755)]])
        let unsignedLayout = try images.image([base, [file("app/run", "#!/app unsigned\n", mode: 0o755)]])
        try await keepBuild(
            of: layout, in: project, imageID: "sha256:" + String(repeating: "cd", count: 32),
            inputParts: ["recipe.runtime.user": "1", "context/app.py": "2"],
            baseImages: ["python:3.11-slim": "sha256:" + String(repeating: "ef", count: 32)])
        for name in ["mine", "other"] {
            let made = try await project.harden(["key", "generate", "--output", "keys/\(name)"])
            #expect(made.status == 0, "\(made.stderr)")
        }

        try await LocalRegistry.run { registry in
            let destination = "\(registry.host)/harden-test/signed:1"
            let pushed = try await project.harden([
                "push", "app", destination, "--sign-key", "keys/mine/harden.key", "--attest", "sbom,provenance", "--legacy-sig",
            ])
            #expect(pushed.status == 0, "\(pushed.stderr)")
            for line in [
                "signature: https://sigstore.dev/cosign/sign/v1 attached (sha256-<hex> tag index), tag sha256-",
                "sbom-cyclonedx: https://cyclonedx.org/bom attached", "sbom-spdx: https://spdx.dev/Document attached",
                "provenance: https://slsa.dev/provenance/v1 attached",
            ] {
                #expect(pushed.stdout.contains(line), "\(pushed.stdout)")
            }
            // The same push again signs nothing new.
            let again = try await project.harden([
                "push", "app", destination, "--sign-key", "keys/mine/harden.key", "--attest", "sbom,provenance",
            ])
            #expect(
                again.status == 0 && again.stdout.components(separatedBy: "already signed by this key").count == 5,
                "\(again.stdout)")
            // The SBOMs came from one read of the image, whose catalog is kept by image ID; a kept
            // catalog that cannot be read is made again.
            let imageID = try ImageLocator().locate(try ImageSource.open(layout)).configDigest
            let kept = project.root.appendingPathComponent(".harden/catalogs/\(imageID.hex).json")
            let catalog = try Data(contentsOf: kept)
            #expect(String(decoding: catalog, as: UTF8.self).contains(imageID.description))
            try Data("garbage".utf8).write(to: kept)
            let remade = try await project.harden([
                "push", "app", "\(registry.host)/harden-test/signed-again:1", "--sign-key", "keys/mine/harden.key",
                "--attest", "sbom",
            ])
            #expect(remade.status == 0, "\(remade.stderr)")
            #expect(try Data(contentsOf: kept) == catalog)

            let verified = try await project.harden([
                "verify-signature", destination, "--key", "keys/mine/harden.pub", "--attestations",
            ])
            #expect(verified.status == 0, "\(verified.stderr)")
            #expect(verified.stdout.contains("signed by keys/mine/harden.pub"), "\(verified.stdout)")
            #expect(
                verified.stdout.contains("attestation https://slsa.dev/provenance/v1 [sigstore-bundle]"), "\(verified.stdout)")
            #expect(verified.stdout.contains("signature [cosign-simple-signing] at tag sha256-"), "\(verified.stdout)")
            #expect(!verified.stdout.contains("invalid"), "\(verified.stdout)")

            let otherKey = try await project.harden(["verify-signature", destination, "--key", "keys/other/harden.pub"])
            #expect(otherKey.status == 1, "\(otherKey.stdout)")
            #expect(otherKey.stdout.contains("NOT signed by keys/other/harden.pub"), "\(otherKey.stdout)")
            #expect(otherKey.stdout.contains("signed with another key"), "\(otherKey.stdout)")

            let unsigned = "\(registry.host)/harden-test/unsigned:1"
            #expect(try await project.harden(["push", unsignedLayout, unsigned]).status == 0)
            let none = try await project.harden([
                "verify-signature", unsigned, "--key", "keys/mine/harden.pub", "--format", "json",
            ])
            #expect(none.status == 1)
            let report = try #require(try JSONSerialization.jsonObject(with: Data(none.stdout.utf8)) as? [String: Any])
            #expect(report["valid"] as? Bool == false && (report["found"] as? [Any])?.isEmpty == true, "\(none.stdout)")

            // A key that cannot sign stops the push before anything is sent.
            let badKey = try await project.harden([
                "push", "app", "\(registry.host)/harden-test/badkey:1", "--sign-key", "keys/mine/harden.pub",
            ])
            #expect(badKey.status == 2 && badKey.stderr.contains("not an ECDSA P-256 private key"), "\(badKey.stderr)")
            #expect(try await registry.manifestRequests("PUT", repository: "harden-test/badkey", expected: 0) == 0)
            let attestWithoutKey = try await project.harden([
                "push", "app", "\(registry.host)/harden-test/x:1", "--attest", "sbom",
            ])
            #expect(attestWithoutKey.status == 2 && attestWithoutKey.stderr.contains("need --sign-key"))
        }
        let nowhere = try await project.harden([
            "verify-signature", "127.0.0.1:\(try freePort())/harden-test/signed:1", "--key", "keys/mine/harden.pub",
        ])
        #expect(nowhere.status == 2 && nowhere.stderr.contains("connection refused"), "\(nowhere.stderr)")
    }
}
