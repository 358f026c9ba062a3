import Foundation
import HardenHistory
import HardenTestSupport
import Testing

/// `harden vex` and `harden scan --vex` as a user runs them: two builds of a recipe whose
/// image carries Werkzeug and urllib3, matched against the real PyPA records.
@Suite(.serialized) struct VexCommandTests {
    static let schema = CLI.packageRoot.appendingPathComponent("../shared/data/schemas/openvex-schema.json")
        .standardizedFileURL.path

    /// The PyPA records and the test fixtures (zlib's Debian advisory) in one folder.
    func advisories(_ project: Project) throws -> String {
        let folder = project.root.appendingPathComponent("osv")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for source in [
            CLI.packageRoot.appendingPathComponent("../shared/data/osv/PyPI").standardizedFileURL,
            URL(fileURLWithPath: ScanCommandTests.advisories),
        ] {
            for file in try FileManager.default.contentsOfDirectory(atPath: source.path) where file.hasSuffix(".json") {
                try FileManager.default.copyItem(
                    at: source.appendingPathComponent(file), to: folder.appendingPathComponent(file))
            }
        }
        return folder.path
    }

    /// A runtime-only recipe whose image has Werkzeug `werkzeug` and urllib3 1.26.15, with one
    /// urllib3 advisory accepted with a reason and a justification.
    func writeRecipe(_ project: Project, name: String, werkzeug: String) throws {
        try project.write("Recipes/app/werkzeug.txt", "Metadata-Version: 2.1\nName: Werkzeug\nVersion: \(werkzeug)\n")
        try project.write("Recipes/app/urllib3.txt", "Metadata-Version: 2.1\nName: urllib3\nVersion: 1.26.15\n")
        try project.write(
            "Recipes/\(name).yaml",
            """
            name: \(name)
            context: app
            tags: [harden-test/\(name):latest]
            runtime:
              from: \(DockerBuildTests.runtimeBase)
              user: "65532"
              copy:
                - {from: context, src: werkzeug.txt, dest: /app/deps/Werkzeug-\(werkzeug).dist-info/METADATA}
                - {from: context, src: urllib3.txt, dest: /app/deps/urllib3-1.26.15.dist-info/METADATA}
              entrypoint: [/usr/bin/python3, -c, "print('hi')"]
            scan:
              fail-on: [critical]
              ignores:
                - id: CVE-2023-43804
                  package: urllib3
                  reason: the app sends no Cookie headers through urllib3
                  justification: vulnerable_code_not_in_execute_path
            """)
    }

    /// Status by vulnerability name, and the statements as JSON.
    func statements(_ path: String) throws -> [(name: String, status: String, statement: [String: Any])] {
        let document = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        return (document["statements"] as? [[String: Any]] ?? []).map { statement in
            (
                (statement["vulnerability"] as? [String: Any])?["name"] as? String ?? "", statement["status"] as? String ?? "",
                statement
            )
        }
    }

    func validate(_ path: String) throws {
        let result = try CLI.shellWaiting("check-jsonschema --schemafile '\(Self.schema)' '\(path)'")
        #expect(result.status == 0, "OpenVEX does not validate: \(result.output)")
    }

    @Test func aRecipesBuildsGiveValidVEXThatScanReadsBack() async throws {
        let project = try Project()
        let name = "vex-\(UUID().uuidString.prefix(8).lowercased())"
        let tag = "harden-test/\(name):latest"
        defer { _ = try? CLI.shellWaiting("docker image rm \(tag)") }
        let osv = try advisories(project)

        // Before any build: a clear error, and no file.
        try writeRecipe(project, name: name, werkzeug: "2.2.2")
        let none = try await project.harden(["vex", name, "--output", "never.json"])
        #expect(none.status == 2, "\(none.stderr)")
        #expect(none.stderr.contains("no successful build in .harden: run harden build \(name) first"), "\(none.stderr)")
        #expect(!FileManager.default.fileExists(atPath: project.root.appendingPathComponent("never.json").path))

        let first = try await project.harden(["build", "--advisories", osv])
        #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
        let a = project.root.appendingPathComponent("a.json").path
        let vexA = try await project.harden(["vex", name, "--output", a, "--author", "ops@example.com"])
        #expect(vexA.status == 0, "\(vexA.stderr)")
        try validate(a)
        let byName = Dictionary(try statements(a).map { ($0.name, $0) }, uniquingKeysWith: { x, _ in x })
        #expect(byName["CVE-2023-43804"]?.status == "not_affected")
        #expect(byName["CVE-2023-43804"]?.statement["justification"] as? String == "vulnerable_code_not_in_execute_path")
        #expect(byName["CVE-2023-23934"]?.status == "affected")
        #expect(
            byName["CVE-2023-23934"]?.statement["action_statement"] as? String == "Update Werkzeug from 2.2.2 to 2.2.3 or later.")
        // Same build, same bytes; the product is the layout's manifest digest that harden push would send.
        let again = try await project.harden(["vex", name, "--author", "ops@example.com"])
        #expect(again.stdout == (try String(contentsOfFile: a, encoding: .utf8)))
        let record = try #require(try await DockerBuildTests().store(project).builds().first)
        let layout = project.root.appendingPathComponent(".harden/images/\(name)/\(record.runtimeImage!.dropFirst(7)).oci")
        let index = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: layout.appendingPathComponent("index.json")))
                as? [String: Any])
        let manifest = try #require((index["manifests"] as? [[String: Any]])?.first?["digest"] as? String)
        let products = try #require(byName["CVE-2023-43804"]?.statement["products"] as? [[String: Any]])
        #expect(
            (products.first?["@id"] as? String)?.hasPrefix(
                "pkg:oci/\(name)@\(manifest.replacingOccurrences(of: ":", with: "%3A"))?") == true)
        #expect(
            products.last?["@id"] as? String
                == "pkg:docker/harden-test/\(name)@\(record.runtimeImage!.replacingOccurrences(of: ":", with: "%3A"))")

        // Werkzeug updated: two advisories are fixed in the second build.
        try writeRecipe(project, name: name, werkzeug: "2.2.3")
        let second = try await project.harden(["build", "--advisories", osv])
        #expect(second.status == 0, "\(second.stdout)\(second.stderr)")
        let b = project.root.appendingPathComponent("b.json").path
        let vexB = try await project.harden(["vex", name, "--output", b])
        #expect(vexB.status == 0, "\(vexB.stderr)")
        #expect(vexB.stderr.contains("(1 not_affected, 3 affected, 2 fixed)"), "\(vexB.stderr)")
        try validate(b)
        let fixed = try statements(b).filter { $0.status == "fixed" }.map(\.name)
        #expect(fixed == ["CVE-2023-23934", "CVE-2023-25577"])

        // Read back by scan, on the image as the engine has it: exactly the not_affected finding is accepted.
        let scanned = try await project.harden(["scan", tag, "--advisories", osv, "--vex", b, "--format", "json"])
        #expect(scanned.status == 1, "\(scanned.stderr)")  // Werkzeug's CVE-2023-46136 is high: it fails the default gate
        let report = try #require(try JSONSerialization.jsonObject(with: Data(scanned.stdout.utf8)) as? [String: Any])
        let findings = try #require(report["findings"] as? [[String: Any]])
        let ignored = findings.filter { $0["verdict"] as? String == "ignored" }
        #expect(ignored.compactMap { ($0["vulnerability"] as? [String: Any])?["id"] as? String } == ["PYSEC-2023-192"])
        #expect(ignored.first?["reason"] as? String == "the app sends no Cookie headers through urllib3")
        #expect((ignored.first?["ignoredBy"] as? String)?.hasPrefix("\(b): statements[") == true)
        #expect((report["staleStatements"] as? [Any])?.isEmpty == true)

        // The first build's document is about another image: stale, and it accepts nothing.
        let old = try await project.harden(["scan", tag, "--advisories", osv, "--vex", a])
        #expect(old.stdout.contains("stale VEX statement: CVE-2023-43804 (\(a): statements["), "\(old.stdout)")
        #expect(old.stdout.contains("is not about this image"), "\(old.stdout)")
        #expect(!old.stdout.contains("ignored by"), "\(old.stdout)")

        // A recipe's report is used as it is: scan options are refused.
        let withOptions = try await project.harden(["vex", name, "--scanner", "trivy"])
        #expect(withOptions.status == 2)
        #expect(withOptions.stderr.contains("is a recipe"), "\(withOptions.stderr)")

        // Pushed with --attest vex: the signed attestation is the build's OpenVEX, about the pushed digest.
        let key = try await project.harden(["key", "generate", "--output", "keys"])
        #expect(key.status == 0, "\(key.stderr)")
        try await LocalRegistry.run { registry in
            let pushed = try await project.harden([
                "push", name, "\(registry.host)/harden-test/\(name):1", "--sign-key", "keys/harden.key", "--attest", "vex",
            ])
            #expect(pushed.status == 0, "\(pushed.stderr)")
            #expect(pushed.stdout.contains("vex: https://openvex.dev/ns attached"), "\(pushed.stdout)")
            let latest = try #require(try await DockerBuildTests().store(project).builds().first?.runtimeImage)
            let pushedLayout = project.root.appendingPathComponent(".harden/images/\(name)/\(latest.dropFirst(7)).oci")
            let digest = try #require(
                (try JSONSerialization.jsonObject(with: Data(contentsOf: pushedLayout.appendingPathComponent("index.json")))
                    as? [String: Any]).flatMap { ($0["manifests"] as? [[String: Any]])?.first?["digest"] as? String })
            #expect(pushed.stdout.contains("@\(digest)"), "\(pushed.stdout)")  // the layout's digest, pushed as itself
            let checked = try await CLI.shell(
                "python3 '\(CLI.packageRoot.path)/Tests/HardenPublishTests/Checkers/cosign_check.py' bundles "
                    + "http://\(registry.host) harden-test/\(name) \(digest) '\(project.root.path)/keys/harden.pub'")
            #expect(checked.status == 0, "\(checked.output)")
            let found = try #require(try JSONSerialization.jsonObject(with: Data(checked.output.utf8)) as? [[String: Any]])
            let vex = try #require(found.first { $0["predicateType"] as? String == "https://openvex.dev/ns" }?["predicate"])
            let attested = project.root.appendingPathComponent("attested.json").path
            try JSONSerialization.data(withJSONObject: vex).write(to: URL(fileURLWithPath: attested))
            try validate(attested)
            let statuses = try statements(attested)
            #expect(statuses.contains { $0.name == "CVE-2023-43804" && $0.status == "not_affected" })
            let products = statuses.flatMap { ($0.statement["products"] as? [[String: Any]]) ?? [] }
            #expect(
                products.contains {
                    ($0["@id"] as? String)?.hasPrefix(
                        "pkg:oci/\(name)@\(digest.replacingOccurrences(of: ":", with: "%3A"))?repository_url=\(registry.host.replacingOccurrences(of: ":", with: "%3A"))/harden-test/\(name)") == true
                }, "\(products)")
        }
    }

    @Test func anImageIsScannedAndIgnoresWithoutAReasonAreLeftOut() async throws {
        let project = try Project()
        let archive = try ScanCommandTests().saved(DockerBuildTests.builderBase, in: project)
        let output = project.root.appendingPathComponent("image.vex.json").path
        let written = try await project.harden(["vex", archive, "--advisories", ScanCommandTests.advisories, "--output", output])
        #expect(written.status == 0, "\(written.stderr)")
        try validate(output)
        #expect(try statements(output).map(\.status) == ["affected"])  // zlib, no fix known

        // Its only finding accepted by a bare .trivyignore line: left out, said, and nothing to state.
        try project.write(".trivyignore", "CVE-2023-45853\n")
        let bare = project.root.appendingPathComponent("bare.json").path
        let unstated = try await project.harden([
            "vex", archive, "--advisories", ScanCommandTests.advisories, "--ignore-file", ".trivyignore", "--output", bare,
        ])
        #expect(unstated.status == 0, "\(unstated.stderr)")
        #expect(unstated.stderr.contains("CVE-2023-45853 in zlib1g is ignored by .trivyignore:1 without a reason: left out"))
        #expect(unstated.stderr.contains("nothing to state, no document written"), "\(unstated.stderr)")
        #expect(!FileManager.default.fileExists(atPath: bare))
    }

    @Test func badVEXFilesAndAgesAreBadInput() async throws {
        let project = try Project()
        let archive = try ScanCommandTests().saved(DockerBuildTests.runtimeBase, in: project)
        try project.write("broken.json", #"{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "x", "author": "a","#)
        let broken = try await project.harden([
            "scan", archive, "--advisories", ScanCommandTests.advisories, "--vex", "broken.json",
        ])
        #expect(broken.status == 2)
        #expect(broken.stderr.contains("harden: broken.json: is not JSON"), "\(broken.stderr)")
        #expect(broken.stderr.contains("hint: --vex takes OpenVEX 0.2.0 JSON documents"), "\(broken.stderr)")
        let missing = try await project.harden([
            "scan", archive, "--advisories", ScanCommandTests.advisories, "--vex", "nope.json",
        ])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("nope.json: cannot be read"), "\(missing.stderr)")
        let age = try await project.harden(["scan", archive, "--vex-max-age", "0"])
        #expect(age.status == 2)
        #expect(age.stderr.contains("--vex-max-age must be a whole number of days, at least 1"), "\(age.stderr)")
    }
}
