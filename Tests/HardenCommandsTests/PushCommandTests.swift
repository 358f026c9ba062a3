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

    @Test func aLayoutAndARecipesLastBuildArePushedAsThemselves() async throws {
        let project = try Project()
        let images = try TestImages()
        defer { images.remove() }
        let layout = try images.image([base, [file("/app/run", "#!/app\n", mode: 0o755)]])
        let digest = try #require(
            try JSONDecoder().decode(ImageIndex.self, from: Data(contentsOf: URL(fileURLWithPath: layout + "/index.json")))
                .manifests.first?.digest.description)

        // The recipe's last successful build, as harden build records it and keeps its layout.
        let state = StateDirectory(root: project.root.appendingPathComponent(".harden"))
        let imageID = "sha256:" + String(repeating: "ab", count: 32)
        let kept = state.imageLayout(recipe: "app", imageID: imageID)
        try FileManager.default.createDirectory(at: kept.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: layout, toPath: kept.path)
        let store = try BuildStore(path: state.database.path)
        _ = try await store.insert(
            BuildRecord(
                recipe: "app", status: .succeeded, reasons: ["new recipe"], inputDigest: "sha256:in", inputParts: [:],
                baseImages: [:], runtimeImage: imageID, startedAt: Date(), finishedAt: Date()))

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
}
