import Foundation
import HardenArchive
import HardenImage
import HardenTestSupport
import Testing

/// `harden diff` as a user runs it, on small images written by the tests.
@Suite struct DiffCommandTests {
    let project: Project
    let layers: [[(ArchiveEntry, Data)]] = [base, [dir("app/etc"), file("app/etc/config", "one")]]

    init() throws { project = try Project() }

    /// Writes the layers as an OCI layout (or a docker-archive) in the project and returns its name.
    func write(_ layers: [[(ArchiveEntry, Data)]], as name: String, dockerArchive: Bool = false) throws -> String {
        let blobs = try layers.map { try ImageWriter.layer($0, compression: .gzip) }
        let config = ImageWriter.config(layers: blobs, config: .init(user: "65532"), history: ["ADD base", "COPY app"])
        let url = project.root.appendingPathComponent(name)
        if dockerArchive {
            try ImageWriter.writeDockerArchive(config: config, layers: blobs, to: url)
        } else {
            try ImageWriter.writeLayout(config: config, layers: blobs, to: url)
        }
        return name
    }

    @Test func theSameImageInTwoFormsIsIdentical() async throws {
        let layout = try write(layers, as: "layout")
        let archive = try write(layers, as: "image.tar", dockerArchive: true)
        let result = try await project.harden(["diff", layout, archive])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("A: layout (oci-layout"))
        #expect(result.stdout.contains("B: image.tar (docker-archive"))
        #expect(result.stdout.hasSuffix("\nidentical\n"))
    }

    @Test func aChangedFileExitsOneAndIsNamed() async throws {
        let a = try write(layers, as: "a")
        let b = try write([base, [dir("app/etc"), file("app/etc/config", "two", mode: 0o600)]], as: "b")

        let text = try await project.harden(["diff", a, b])
        #expect(text.status == 1, "\(text.stderr)")
        #expect(text.stdout.contains("files changed (1):"))
        let two = Digest.sha256(Data("two".utf8)).hex.prefix(12)
        #expect(text.stdout.contains("~ /app/etc/config: mode 0644 → 0600, content sha256:"))
        #expect(text.stdout.contains("→ sha256:\(two)…"))
        #expect(text.stdout.contains("layer 2: sha256:"), "layers are counted from 1, as verify does")
        #expect(text.stdout.hasSuffix("\n2 differences\n"))

        let json = try await project.harden(["diff", a, b, "--format", "json"])
        #expect(json.status == 1)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(report["identical"] as? Bool == false)
        #expect(report["differences"] as? Int == 2)
        let files = try #require(report["files"] as? [[String: Any]])
        #expect(files.map { $0["path"] as? String } == ["/app/etc/config"])
        #expect(files.first?["fields"] as? [String] == ["mode", "content"])
        #expect((files.first?["b"] as? [String: Any])?["digest"] as? String == "sha256:" + Digest.sha256(Data("two".utf8)).hex)
    }

    @Test func longSectionsAreCappedInTextOnly() async throws {
        let many = (0..<250).map { file("many/f\($0)", "\($0)") }
        let a = try write([base], as: "a")
        let b = try write([base, [dir("many")] + many], as: "b")
        let text = try await project.harden(["diff", a, b])
        #expect(text.status == 1)
        #expect(text.stdout.contains("files added (251):"))
        #expect(text.stdout.contains("  … and 51 more"))
        let json = try await project.harden(["diff", a, b, "--format", "json"])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect((report["files"] as? [[String: Any]])?.count == 251)
    }

    @Test func anUnreadableImageExitsTwo() async throws {
        let a = try write(layers, as: "a")
        try project.write("junk.tar", "not an image")
        let result = try await project.harden(["diff", a, "junk.tar"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("harden: junk.tar:"))
        #expect(result.stdout.isEmpty)
    }
}
