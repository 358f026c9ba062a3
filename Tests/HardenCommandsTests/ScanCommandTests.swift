import Foundation
import HardenBuild
import HardenImage
import HardenScan
import Testing

/// `harden sbom` and `harden scan` as a user runs them, on the local bases saved from the engine.
@Suite(.serialized) struct ScanCommandTests {
    static let advisories = CLI.packageRoot.appendingPathComponent("Tests/HardenScanTests/Fixtures/osv").path

    func saved(_ image: String, in project: Project) throws -> String {
        let archive = project.root.appendingPathComponent(
            "\(image.split(separator: "/").last!.replacingOccurrences(of: ":", with: "-")).tar"
        ).path
        let result = try CLI.shellWaiting("docker save -o '\(archive)' \(image)")
        #expect(result.status == 0, "\(result.output)")
        return archive
    }

    /// (type, name, version) of every deb and PyPI package in a CycloneDX document, by purl.
    static func packages(inCycloneDX path: String, excludingLocations excluded: String? = nil) throws -> Set<String> {
        let document = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        var found = Set<String>()
        for component in document["components"] as? [[String: Any]] ?? [] {
            guard let purl = component["purl"] as? String, purl.hasPrefix("pkg:deb/") || purl.hasPrefix("pkg:pypi/") else {
                continue
            }
            let properties = component["properties"] as? [[String: String]] ?? []
            if let excluded,
                properties.contains(where: { $0["name"] == "harden:package:location" && $0["value"]!.contains(excluded) })
            {
                continue
            }
            let type = purl.hasPrefix("pkg:deb/") ? "deb" : "pypi"
            let name = (component["name"] as? String ?? "").lowercased().replacingOccurrences(of: "_", with: "-")
            found.insert("\(type) \(name) \(component["version"] as? String ?? "")")
        }
        return found
    }

    @Test(arguments: [DockerBuildTests.builderBase, DockerBuildTests.runtimeBase])
    func sbomsAreValidDeterministicAndMatchDpkg(image: String) async throws {
        let project = try Project()
        let archive = try saved(image, in: project)
        for format in ["cyclonedx", "spdx"] {
            let output = project.root.appendingPathComponent("sbom.\(format).json").path
            let result = try await project.harden(["sbom", archive, "--format", format, "--output", output])
            #expect(result.status == 0, "\(result.stderr)")
            let validation = try await CLI.shell("python3 '\(CLI.packageRoot.path)/scripts/validate-sbom.py' \(format) '\(output)'")
            #expect(validation.status == 0, "\(format): \(validation.output)")
            let again = try await project.harden(["sbom", archive, "--format", format])
            #expect(
                again.stdout == (try String(contentsOfFile: output, encoding: .utf8)), "\(format) output differs between runs")
        }
        // The deb packages are exactly what dpkg itself lists (distroless has no dpkg: its status.d is the record).
        let cyclonedx = project.root.appendingPathComponent("sbom.cyclonedx.json").path
        let debs = try Self.packages(inCycloneDX: cyclonedx).filter { $0.hasPrefix("deb ") }
        #expect(debs.count > 5)
        if image == DockerBuildTests.builderBase {
            let listed = try await CLI.shell(
                "docker run --rm --network none \(image) dpkg-query -W -f '${db:Status-Status} ${Package} ${Version}\\n'")
            #expect(listed.status == 0)
            let installed = Set(
                listed.output.split(separator: "\n").filter { $0.hasPrefix("installed ") }.map { "deb " + $0.dropFirst(10) })
            #expect(debs == installed)
        }
    }

    /// The (name, version) sets of harden, syft and trivy agree; the README explains each difference.
    @Test(arguments: [DockerBuildTests.builderBase, DockerBuildTests.runtimeBase])
    func catalogAgreesWithSyftAndTrivy(image: String) async throws {
        let project = try Project()
        let archive = try saved(image, in: project)
        let ours = project.root.appendingPathComponent("harden.json").path
        #expect(try await project.harden(["sbom", archive, "--output", ours]).status == 0)
        let syft = project.root.appendingPathComponent("syft.json").path
        let syftRun = try await CLI.shell("syft scan 'docker-archive:\(archive)' -q -o 'cyclonedx-json=\(syft)'")
        #expect(syftRun.status == 0, "\(syftRun.output)")
        let trivy = project.root.appendingPathComponent("trivy.json").path
        let trivyRun = try await CLI.shell(
            "trivy image --input '\(archive)' --format cyclonedx --output '\(trivy)' --quiet --cache-backend memory")
        #expect(trivyRun.status == 0, "\(trivyRun.output)")

        let harden = try Self.packages(inCycloneDX: ours)
        let bySyft = try Self.packages(inCycloneDX: syft)
        #expect(
            Self.agreement(harden, bySyft) >= 0.99,
            "harden only: \(harden.subtracting(bySyft)); syft only: \(bySyft.subtracting(harden))")
        // Trivy leaves out Python distributions that dpkg installed (it counts the deb instead).
        let hardenForTrivy = try Self.packages(inCycloneDX: ours, excludingLocations: "/usr/lib/python3/dist-packages/")
        let byTrivy = try Self.packages(inCycloneDX: trivy)
        #expect(
            Self.agreement(hardenForTrivy, byTrivy) >= 0.99,
            "harden only: \(hardenForTrivy.subtracting(byTrivy)); trivy only: \(byTrivy.subtracting(hardenForTrivy))")
    }

    static func agreement(_ a: Set<String>, _ b: Set<String>) -> Double {
        a.union(b).isEmpty ? 1 : Double(a.intersection(b).count) / Double(a.union(b).count)
    }

    @Test func builtinScanGateAndFormats() async throws {
        let project = try Project()
        let archive = try saved(DockerBuildTests.builderBase, in: project)
        // zlib has an advisory with no fix (the fixture DEBIAN-CVE-2023-45853); Debian rates it unimportant: low.
        let text = try await project.harden(["scan", archive, "--advisories", Self.advisories])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("CVE-2023-45853  zlib1g"))
        #expect(text.stdout.contains("PASS (fails on: critical, high)"))

        try project.write("strict.yaml", "fail-on: [critical, high, low]\n")
        let strict = try await project.harden([
            "scan", archive, "--advisories", Self.advisories, "--policy", "strict.yaml", "--format", "json",
        ])
        #expect(strict.status == 1)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(strict.stdout.utf8)) as? [String: Any])
        #expect(report["passed"] as? Bool == false)

        try project.write("unfixed.yaml", "fail-on: [low]\nignore-unfixed: true\n")
        #expect(
            try await project.harden(["scan", archive, "--advisories", Self.advisories, "--policy", "unfixed.yaml"]).status == 0)

        try project.write(
            "accepted.yaml",
            """
            fail-on: [low]
            ignore-file: .trivyignore
            ignores:
              - id: CVE-2023-45853
                package: zlib1g
                reason: minizip is not built in Debian's zlib
                expires: 2099-01-01
              - id: CVE-2000-0001
                reason: an old one
                expires: 2001-01-01
            """)
        try project.write(".trivyignore", "# nothing here applies\nCVE-1999-0001\n")
        let accepted = try await project.harden(["scan", archive, "--advisories", Self.advisories, "--policy", "accepted.yaml"])
        #expect(accepted.status == 0, "\(accepted.stdout)\(accepted.stderr)")
        #expect(accepted.stdout.contains("ignored by scan.ignores[0]"))
        #expect(accepted.stdout.contains("expired ignore: CVE-2000-0001"))
        #expect(accepted.stdout.contains("stale ignore: CVE-1999-0001 (.trivyignore:2)"))

        let sarifFile = project.root.appendingPathComponent("scan.sarif").path
        let sarif = try await project.harden([
            "scan", archive, "--advisories", Self.advisories, "--format", "sarif", "--output", sarifFile, "--policy",
            "strict.yaml",
        ])
        #expect(sarif.status == 1)
        let log = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: sarifFile))) as? [String: Any])
        #expect(log["version"] as? String == "2.1.0")
        let results = try #require((log["runs"] as? [[String: Any]])?.first?["results"] as? [[String: Any]])
        #expect(results.contains { $0["ruleId"] as? String == "CVE-2023-45853" && $0["level"] as? String == "error" })
    }

    /// The real trivy binary, run the way harden runs it, with the one scanner that works offline.
    /// An image without os-release: its Debian packages are reported as not checked, never as
    /// clean, in text and JSON, and `fail-on-unmatched` fails the gate on them.
    /// An image whose os-release is gone: the Debian release is inferred from base-files, and
    /// the report says so.
    @Test func theReleaseOfAnImageWithoutOSReleaseIsInferredAndSaid() async throws {
        let project = try Project()
        let archive = try image(project, "RUN rm -f /etc/os-release /usr/lib/os-release")
        let text = try await project.harden(["scan", archive, "--advisories", Self.advisories])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("  release: Debian:12, inferred from base-files 12."), "\(text.stdout)")
        #expect(!text.stdout.contains("not checked:"), "\(text.stdout)")
        #expect(text.stdout.contains("CVE-2023-45853"), "\(text.stdout)")
    }

    /// An os-release naming another system: the deb packages are not checked, the report says
    /// how many and why, and `fail-on-unmatched` fails the gate on them.
    @Test func packagesThatCannotBeCheckedAreSaidAndCanFailTheGate() async throws {
        let project = try Project()
        let archive = try image(
            project, #"RUN printf 'ID=ubuntu\nVERSION_ID=\"24.04\"\n' > /usr/lib/os-release && rm -f /etc/os-release"#)
        let text = try await project.harden(["scan", archive, "--advisories", Self.advisories])
        #expect(text.status == 0, "\(text.stderr)")
        let line = try #require(
            text.stdout.split(separator: "\n").first { $0.contains("not checked:") && $0.contains(" deb packages") })
        #expect(line.contains("ID=ubuntu, which has no Debian advisories to match"), "\(line)")
        #expect(text.stdout.contains("packages not checked, not clean"), "\(text.stdout)")

        try project.write("unmatched.yaml", "fail-on-unmatched: true\n")
        let strict = try await project.harden([
            "scan", archive, "--advisories", Self.advisories, "--policy", "unmatched.yaml", "--format", "json",
        ])
        #expect(strict.status == 1, "\(strict.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(strict.stdout.utf8)) as? [String: Any])
        #expect(report["passed"] as? Bool == false)
        let groups = try #require(report["unmatched"] as? [[String: Any]])
        let debs = try #require(groups.first { $0["ecosystem"] as? String == "deb" })
        #expect((debs["count"] as? Int ?? 0) > 5)
    }

    /// The builder base with one more Dockerfile line, saved as a docker-archive.
    func image(_ project: Project, _ line: String) throws -> String {
        let tag = "harden-test/os-release:\(UUID().uuidString.prefix(8).lowercased())"
        try project.write("Dockerfile.test", "FROM \(DockerBuildTests.builderBase)\n\(line)\n")
        let built = try CLI.shellWaiting(
            "DOCKER_BUILDKIT=0 docker build -q -t \(tag) -f '\(project.root.path)/Dockerfile.test' '\(project.root.path)'")
        #expect(built.status == 0, "\(built.output)")
        defer { _ = try? CLI.shellWaiting("docker image rm \(tag)") }
        return try saved(tag, in: project)
    }

    @Test func trivyRunsOnTheSavedImageAndItsReportIsRead() async throws {
        let project = try Project()
        let archive = try saved(DockerBuildTests.runtimeBase, in: project)
        var trivy = ExternalScanner(tool: .trivy, timeout: .seconds(300))
        trivy.trivyScanners = ["secret"]
        let scratch = project.root.appendingPathComponent(".harden/tmp")
        let found = try await trivy.scan(image: archive, format: .dockerArchive, diffIDs: [], scratch: scratch)
        #expect(found.isEmpty)  // a secret scan reports no vulnerabilities
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).isEmpty)  // its report file is gone

        var slow = trivy
        slow.timeout = .milliseconds(1)
        do {
            _ = try await slow.scan(image: archive, format: .dockerArchive, diffIDs: [], scratch: scratch)
            Issue.record("a 1 ms timeout did not stop trivy")
        } catch {
            #expect(error.description.contains("did not finish within"))
        }
    }

    @Test func compareShowsTheTableUsersMadeByHand() async throws {
        let project = try Project()
        let slim = try saved(DockerBuildTests.builderBase, in: project)
        let json = try await project.harden([
            "compare", slim, DockerBuildTests.runtimeBase, "--advisories", Self.advisories, "--format", "json",
        ])
        #expect(json.status == 0, "\(json.stderr)")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(rows.count == 2)
        #expect(rows[0]["shell"] as? Bool == true)
        #expect(rows[0]["packageManager"] as? Bool == true)
        #expect(rows[0]["user"] as? String == "root (unset)")
        #expect(rows[1]["shell"] as? Bool == false)
        #expect(rows[1]["packageManager"] as? Bool == false)
        #expect(rows[1]["user"] as? String == "65532")
        #expect((rows[0]["packages"] as? Int ?? 0) > (rows[1]["packages"] as? Int ?? 0))
        #expect((rows[1]["vulnerabilities"] as? [String: Int])?["low"] == 1)  // zlib's unfixed advisory

        let markdown = try await project.harden(["compare", slim, DockerBuildTests.runtimeBase, "--format", "markdown"])
        #expect(markdown.status == 0)
        let lines = markdown.stdout.split(separator: "\n")
        #expect(lines.count == 4)
        #expect(lines[0].hasPrefix("| image | base | size | packages | critical | high |"))
        #expect(lines[3].contains("| — |"))  // no advisories: no vulnerability counts
        #expect(markdown.stderr.contains("vulnerability columns left empty"))

        #expect(try await project.harden(["compare", slim]).status == 2)
    }

    @Test func scannersThatCannotRunExitTwoWithOneLine() async throws {
        let project = try Project()
        let archive = try saved(DockerBuildTests.runtimeBase, in: project)
        let noAdvisories = try await project.harden(["scan", archive], environment: ["HARDEN_ADVISORIES": ""])
        #expect(noAdvisories.status == 2)
        #expect(noAdvisories.stderr.contains("--advisories"))

        let noDatabase = try await project.harden(
            ["scan", archive, "--scanner", "trivy"],
            environment: ["TRIVY_CACHE_DIR": project.root.appendingPathComponent("empty-cache").path])
        #expect(noDatabase.status == 2)
        #expect(noDatabase.stderr.contains("trivy: no vulnerability database"))
        #expect(noDatabase.stderr.contains("trivy image --download-db-only"))

        let noBinary = try await project.harden(["scan", archive, "--scanner", "grype"], environment: ["PATH": "/usr/bin:/bin"])
        #expect(noBinary.status == 2)
        #expect(noBinary.stderr.contains("grype: grype is not installed"))

        let broken = project.root.appendingPathComponent("osv")
        try FileManager.default.createDirectory(at: broken, withIntermediateDirectories: true)
        try Data("{\"id\": 3}".utf8).write(to: broken.appendingPathComponent("bad.json"))
        let badAdvisory = try await project.harden(["scan", archive, "--advisories", broken.path])
        #expect(badAdvisory.status == 2)
        #expect(badAdvisory.stderr.contains("bad.json: id: is not a string"), "\(badAdvisory.stderr)")

        let output = project.root.appendingPathComponent("never.json").path
        _ = try await project.harden([
            "scan", project.root.appendingPathComponent("missing.tar").path, "--advisories", Self.advisories, "--output", output,
        ])
        #expect(!FileManager.default.fileExists(atPath: output))
    }
}
