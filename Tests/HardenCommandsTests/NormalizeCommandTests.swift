import Foundation
import HardenImage
import HardenTestSupport
import Testing

/// `harden normalize` as a user runs it.
@Suite(.serialized) struct NormalizeCommandTests {
    @Test func writesTheLayoutTheLibraryWouldAtTheEpochAsked() async throws {
        let project = try Project()
        let images = try TestImages()
        defer { images.remove() }
        let image = try images.image([base, [file("app/data", "x")]])
        let output = project.root.appendingPathComponent("out")
        let expected = try ImageNormalizer(sourceDateEpoch: 1234).normalize(
            image, layout: project.root.appendingPathComponent("expected"))

        let byOption = try await project.harden(["normalize", image, "--output", output.path, "--source-date-epoch", "1234"])
        #expect(byOption.status == 0, "\(byOption.stderr)")
        #expect(byOption.stdout.contains("manifest \(expected.manifestDigest)\nconfig \(expected.configDigest)\n"))
        #expect(byOption.stdout.contains(" MB/s)"))

        let byEnvironment = try await project.harden(
            ["normalize", image, "--output", output.path, "--docker-archive", "image.tar"],
            environment: ["SOURCE_DATE_EPOCH": "1234"])
        #expect(byEnvironment.status == 0, "\(byEnvironment.stderr)")
        #expect(byEnvironment.stdout.contains("manifest \(expected.manifestDigest)"))
        let saved = try SavedImage.inspect(path: project.root.appendingPathComponent("image.tar").path)
        #expect(saved.configDigest == expected.configDigest)

        let missing = try await project.harden([
            "normalize", project.root.appendingPathComponent("nothing").path, "--output", "x",
        ])
        #expect(missing.status == 2)
    }

    /// The Debian builder base has every kind of finding (setuid files, a shell, root): none moves.
    @Test func aDebianImageVerifiesTheSameNormalized() async throws {
        let project = try Project()
        let output = project.root.appendingPathComponent("slim-oci").path
        let normalized = try await project.harden(
            ["normalize", DockerBuildTests.builderBase, "--output", output, "--source-date-epoch", "1700000000"])
        #expect(normalized.status == 0, "\(normalized.stderr)")
        #expect(try await findings(project, DockerBuildTests.builderBase) == findings(project, output))
        #expect(try await findings(project, output).count > 3)
    }

    /// `harden verify --format json` findings as (rule, path) pairs.
    func findings(_ project: Project, _ image: String) async throws -> [String] {
        let result = try await project.harden(["verify", image, "--format", "json"])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let findings = try #require(report["findings"] as? [[String: Any]])
        return findings.map { "\($0["rule"] as? String ?? "") \($0["path"] as? String ?? "")" }.sorted()
    }
}
