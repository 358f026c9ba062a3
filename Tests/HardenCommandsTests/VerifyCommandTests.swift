import Foundation
import FoundationXML
import Testing

/// `harden verify` as a user runs it, on the local bases (real images in the engine).
@Suite(.serialized) struct VerifyCommandTests {
    @Test func aDistrolessImagePassesByReference() async throws {
        let project = try Project()
        let result = try await project.harden(["verify", DockerBuildTests.runtimeBase])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("pass  shell"))
        #expect(result.stdout.hasSuffix("PASS\n"))
        #expect(result.stderr.contains("saving \(DockerBuildTests.runtimeBase)"))
        // The temporary archive is gone.
        let leftovers = try FileManager.default.contentsOfDirectory(
            atPath: project.root.appendingPathComponent(".harden/tmp").path)
        #expect(leftovers.isEmpty)
    }

    @Test func aDebianImageFailsWithEveryFormat() async throws {
        let project = try Project()
        let archive = project.root.appendingPathComponent("slim.tar").path
        #expect(try await CLI.shell("docker save -o '\(archive)' \(DockerBuildTests.builderBase)").status == 0)

        let text = try await project.harden(["verify", archive])
        #expect(text.status == 1)
        #expect(text.stdout.contains("FAIL  shell"))
        #expect(text.stdout.contains("/usr/bin/sh links to /usr/bin/dash"))

        let json = try await project.harden(["verify", archive, "--format", "json"])
        #expect(json.status == 1)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(report["passed"] as? Bool == false)
        let findings = try #require(report["findings"] as? [[String: Any]])
        let rules = Set(findings.compactMap { $0["rule"] as? String })
        #expect(rules.isSuperset(of: ["shell", "package-manager", "root-user", "setuid"]))

        let sarif = try await project.harden(["verify", archive, "--format", "sarif"])
        let log = try #require(try JSONSerialization.jsonObject(with: Data(sarif.stdout.utf8)) as? [String: Any])
        #expect(log["version"] as? String == "2.1.0")
        let run = try #require((log["runs"] as? [[String: Any]])?.first)
        let driver = try #require((run["tool"] as? [String: Any])?["driver"] as? [String: Any])
        #expect((driver["rules"] as? [[String: Any]])?.count == 9)
        let results = try #require(run["results"] as? [[String: Any]])
        #expect(results.count == findings.count)
        for result in results {
            #expect(result["ruleId"] is String)
            #expect((result["locations"] as? [[String: Any]])?.isEmpty == false)
            #expect(["error", "warning", "note"].contains(result["level"] as? String ?? ""))
        }

        let junit = try await project.harden(["verify", archive, "--format", "junit"])
        let document = try XMLDocument(data: Data(junit.stdout.utf8))
        let cases = try document.nodes(forXPath: "//testcase")
        #expect(cases.count == 9)
        let failures = try document.nodes(forXPath: "//testcase/failure")
        #expect(failures.count == rules.count)
    }

    @Test func aPolicyFileWaivesWithReasonsAndExpiry() async throws {
        let project = try Project()
        let archive = project.root.appendingPathComponent("slim.tar").path
        #expect(try await CLI.shell("docker save -o '\(archive)' \(DockerBuildTests.builderBase)").status == 0)
        try project.write(
            "policy.yaml",
            """
            allow-root: true
            allow-shell: true
            allow-package-manager: true
            exceptions:
              - rule: setuid
                path: /usr/bin/*
                reason: shadow and util-linux tools of the base
                expires: 2999-01-01
              - rule: setuid
                path: /usr/sbin/unix_chkpwd
                reason: expired on purpose
                expires: 2000-01-01
            """)
        let result = try await project.harden(["verify", archive, "--policy", "policy.yaml"])
        #expect(result.status == 1)
        #expect(result.stdout.contains("FAIL  setuid: 1 finding"))
        #expect(result.stdout.contains("/usr/sbin/unix_chkpwd is setgid"))
        #expect(result.stdout.contains("waived setuid: /usr/bin/su is setuid"))
        #expect(result.stdout.contains("expired exception: setuid /usr/sbin/unix_chkpwd expired 2000-01-01"))
    }

    @Test func badInputsExitTwoWithAClearMessage() async throws {
        let project = try Project()
        try project.write("junk.tar", String(repeating: "not a tar ", count: 100))
        var result = try await project.harden(["verify", "junk.tar"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("junk.tar"))

        result = try await project.harden(["verify", "no-such-image-here:latest"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("neither a file nor a directory"))

        try project.write("policy.yaml", "allow-shel: true\n")
        result = try await project.harden(["verify", "junk.tar", "--policy", "policy.yaml"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("policy.yaml:1:1"))
        #expect(result.stderr.contains("did you mean 'allow-shell'"))

        try project.write("policy.yaml", "exceptions:\n  - rule: setuid\n")
        result = try await project.harden(["verify", "junk.tar", "--policy", "policy.yaml"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("reason"))

        result = try await project.harden(["verify", "junk.tar", "--platform", "amd64"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("os/arch"))
    }
}
