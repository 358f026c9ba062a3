import Foundation
import HardenAdvisories
import HardenProcess
import Testing

@testable import HardenScan

let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

func fixture(_ name: String) throws -> Data { try Data(contentsOf: fixtures.appendingPathComponent(name)) }

@Suite struct ScannerReportTests {
    let diffIDs = ["sha256:" + String(repeating: "1", count: 64), "sha256:" + String(repeating: "2", count: 64)]

    @Test func trivyReport() throws {
        let found = try TrivyReport.parse(try fixture("reports/trivy.json"), diffIDs: diffIDs)
        #expect(found.count == 3)
        let ssl = try #require(found.first { $0.id == "CVE-2023-5363" })
        #expect(ssl.package == "libssl3")
        #expect(ssl.ecosystem == "deb")
        #expect(ssl.fixedVersion == "3.0.11-1~deb12u2")
        #expect(ssl.severity == .high)
        #expect(ssl.layer == 0)
        #expect(ssl.aliases == ["DSA-5532-1"])
        let flask = try #require(found.first { $0.package == "Flask" })
        #expect(flask.ecosystem == "python")
        #expect(flask.layer == 1)
        #expect(flask.purl == "pkg:pypi/flask@2.2.4")
        #expect(found.first { $0.package == "zlib1g" }?.fixedVersion == nil)
    }

    @Test func grypeReport() throws {
        let found = try GrypeReport.parse(try fixture("reports/grype.json"), diffIDs: diffIDs)
        #expect(found.map(\.id) == ["GHSA-m2qf-hxjv-5gpq", "GHSA-h5c8-rqwp-cp95", "CVE-2023-45853"])
        #expect(found[0].primaryID == "CVE-2023-30861")
        #expect(found[0].fixedVersion == "2.2.5")
        #expect(found[0].layer == 1)
        #expect(found[0].location == "/app/deps/Flask-2.2.4.dist-info/METADATA")
        #expect(found[2].severity == .low)
        #expect(found[2].fixedVersion == nil)
    }

    @Test(arguments: ["{}", "[]", #"{"Results": [{"Vulnerabilities": [{"PkgName": "x"}]}]}"#, "not json"])
    func damagedTrivyReportsAreNamed(text: String) {
        let data = Data(text.utf8)
        if text == "{}" {
            #expect((try? TrivyReport.parse(data))?.isEmpty == true)
            return
        }
        do {
            _ = try TrivyReport.parse(data)
            Issue.record("parsed \(text)")
        } catch {
            #expect(error.description.hasPrefix("trivy: the report is not Trivy JSON"))
        }
    }

    @Test func damagedGrypeReportSaysWhatIsMissing() {
        do {
            _ = try GrypeReport.parse(Data(#"{"matches": [{"vulnerability": {"id": "CVE-1"}}]}"#.utf8))
            Issue.record("parsed a match with no artifact")
        } catch {
            #expect(error.description.contains("missing matches.0.artifact"))
        }
    }
}

@Suite struct ScanGateTests {
    /// Today's date as expiries are written: the UTC day, the same as a formatter gives.
    @Test(arguments: [0.0, 951_782_399, 951_782_400, 1_709_251_199, 1_798_761_599, 4_102_444_800])
    func todayIsTheUTCDay(seconds: Double) {
        let now = Date(timeIntervalSince1970: seconds)
        #expect(IgnoreFiles.today(now) == IgnoreFiles.dayFormat.string(from: now))
    }

    func finding(
        _ id: String, _ package: String, _ severity: Severity, fixed: String? = "2.0", aliases: [String] = [],
        scanner: String = "builtin"
    ) -> Vulnerability {
        Vulnerability(
            id: id, aliases: aliases, package: package, version: "1.0", ecosystem: "python", fixedVersion: fixed,
            severity: severity, scanners: [scanner])
    }

    @Test func mergeCountsOneVulnerabilityOncePerPackageVersion() throws {
        let trivy = try TrivyReport.parse(try fixture("reports/trivy.json"))
        let grype = try GrypeReport.parse(try fixture("reports/grype.json"))
        let merged = FindingMerger.merge([trivy, grype])
        #expect(merged.count == 4)  // flask (both), jinja2 (grype), libssl3 (trivy), zlib1g (both)
        let flask = try #require(merged.first { $0.primaryID == "CVE-2023-30861" })
        #expect(flask.scanners == ["grype", "trivy"])
        #expect(flask.aliases.contains("GHSA-m2qf-hxjv-5gpq"))
        let zlib = try #require(merged.first { $0.package == "zlib1g" })
        #expect(zlib.severity == .critical)  // the worse of critical (trivy) and negligible (grype)
        #expect(merged.first?.severity == .critical)
    }

    @Test func failOnSeveritiesDecide() {
        let gate = ScanGate(failOn: [.critical, .high], today: "2026-11-23")
        let passing = gate.judge(
            [finding("CVE-1", "a", .medium), finding("CVE-2", "b", .low)], image: "x", scanners: ["builtin"])
        #expect(passing.passed)
        #expect(passing.findings.allSatisfy { $0.verdict == .reported })
        let failing = gate.judge([finding("CVE-3", "c", .high)], image: "x", scanners: ["builtin"])
        #expect(!failing.passed)
        #expect(failing.findings[0].verdict == .fails)
    }

    @Test func ignoreUnfixedSkipsFindingsWithoutAFix() {
        let gate = ScanGate(failOn: [.critical], ignoreUnfixed: true, today: "2026-11-23")
        let report = gate.judge(
            [finding("CVE-1", "a", .critical, fixed: nil), finding("CVE-2", "b", .critical)], image: "x", scanners: [])
        #expect(report.findings.map(\.verdict) == [.unfixed, .fails])
        #expect(!report.passed)
    }

    @Test func ignoresApplyUntilTheirLastDayThenExpire() {
        let ignores = [
            VulnerabilityIgnore(id: "CVE-1", reason: "not reachable", expires: "2026-11-23", source: "policy[0]"),
            VulnerabilityIgnore(id: "CVE-2", reason: "old", expires: "2026-11-22", source: "policy[1]"),
            VulnerabilityIgnore(id: "CVE-9", reason: "gone", source: "policy[2]"),
            VulnerabilityIgnore(id: "GHSA-x", package: "other", reason: "wrong package", source: "policy[3]"),
        ]
        let gate = ScanGate(failOn: [.high], ignores: ignores, today: "2026-11-23")
        let report = gate.judge(
            [finding("CVE-1", "a", .high), finding("CVE-2", "b", .high), finding("CVE-3", "c", .high, aliases: ["GHSA-x"])],
            image: "x", scanners: [])
        #expect(report.findings.map(\.verdict) == [.ignored, .fails, .fails])
        #expect(report.findings[0].ignoredBy == "policy[0]")
        #expect(report.findings[0].reason == "not reachable")
        #expect(ScanReportWriter.render(report, as: .text, version: "test").contains("— ignored by policy[0]: not reachable"))
        #expect(ScanReportWriter.render(report, as: .json, version: "test").contains(#""reason" : "not reachable""#))
        #expect(report.expiredIgnores.map(\.id) == ["CVE-2"])
        #expect(report.staleIgnores.map(\.id) == ["CVE-9", "GHSA-x"])
        #expect(!report.passed)
    }

    @Test func aliasesAndPackageNamesMatchIgnores() {
        let ignore = VulnerabilityIgnore(id: "GHSA-m2qf-hxjv-5gpq", package: "Flask", source: "p")
        #expect(ignore.matches(finding("CVE-2023-30861", "flask", .high, aliases: ["GHSA-m2qf-hxjv-5gpq"])))
        #expect(!ignore.matches(finding("CVE-2023-30861", "quart", .high, aliases: ["GHSA-m2qf-hxjv-5gpq"])))
    }

    @Test func trivyignoreLines() throws {
        let text = """
            # accepted risks
            CVE-2023-45853
            CVE-2023-5363 exp:2026-12-01
            \tGHSA-h5c8-rqwp-cp95   exp:2024-01-01  # old

            """
        let ignores = try IgnoreFiles.plain(text, file: ".trivyignore")
        #expect(ignores.map(\.id) == ["CVE-2023-45853", "CVE-2023-5363", "GHSA-h5c8-rqwp-cp95"])
        #expect(ignores.map(\.expires) == [nil, "2026-11-30", "2023-12-31"])  // Trivy stops ignoring on the date itself
        #expect(ignores[1].source == ".trivyignore:3")
        for bad in ["CVE-1 exp:2026-13-01", "CVE-1 until:2026-01-01", "CVE-1 exp:tomorrow"] {
            #expect(throws: IgnoreFileError.self) { try IgnoreFiles.plain(bad, file: "f") }
        }
    }

    @Test func trivyignoreYAML() throws {
        let text = """
            vulnerabilities:
              - id: CVE-2023-30861
                paths: ["/app/deps/*"]
                statement: sessions are not used
                expired_at: 2027-01-01
              - id: CVE-2023-5363
                purls: ["pkg:deb/debian/libssl3@3.0.11-1~deb12u1?arch=amd64&distro=debian-12.2"]
            misconfigurations:
              - id: AVD-DS-0002
            """
        let ignores = try IgnoreFiles.yaml(text, file: ".trivyignore.yaml")
        #expect(ignores.count == 2)
        #expect(ignores[0].reason == "sessions are not used")
        #expect(ignores[0].expires == "2026-12-31")
        var flask = finding("CVE-2023-30861", "Flask", .high)
        flask.location = "/app/deps/Flask-2.2.4.dist-info/METADATA"
        #expect(ignores[0].matches(flask))
        flask.location = "/usr/lib/python3/dist-packages/Flask-2.2.4.dist-info"
        #expect(!ignores[0].matches(flask))
        #expect(throws: IgnoreFileError.self) {
            try IgnoreFiles.yaml("vulnerabilities:\n  - id: X\n    expired_at: soon\n", file: "f")
        }
        #expect(throws: IgnoreFileError.self) { try IgnoreFiles.yaml("vulnerabilities: 3\n", file: "f") }
    }
}

@Suite struct AdvisoryStoreTests {
    @Test func loadsADirectoryOfSingleAndListedAdvisories() throws {
        let matcher = try AdvisoryMatcher(database: AdvisoryDatabase.open(fixtures.appendingPathComponent("osv").path))
        #expect(matcher.count == 4)
        let packages = [
            Package(kind: .python, name: "Flask", version: "2.2.4", location: "/app/deps/Flask-2.2.4.dist-info", layer: 1),
            Package(kind: .python, name: "Jinja2", version: "3.1.3", location: "/app/deps/Jinja2-3.1.3.dist-info", layer: 1),
            Package(
                kind: .deb, name: "libssl3", version: "3.0.11-1~deb12u1", sourceName: "openssl", location: "/var/lib/dpkg/status",
                layer: 0),
            Package(
                kind: .deb, name: "zlib1g", version: "1:1.2.13.dfsg-1", sourceName: "zlib", location: "/var/lib/dpkg/status",
                layer: 0),
        ]
        let found = try matcher.match(packages, os: OperatingSystem(id: "debian", versionID: "12"))
        #expect(Set(found.map(\.id)) == ["GHSA-m2qf-hxjv-5gpq", "DSA-5532-1", "DEBIAN-CVE-2023-45853"])
        #expect(found.first { $0.id == "DSA-5532-1" }?.severity == .high)  // from its CVSS vector (7.5)
        #expect(found.first { $0.id == "DEBIAN-CVE-2023-45853" }?.fixedVersion == nil)
    }

    @Test func badFilesAreNamed() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("harden-osv-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("nested"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data(#"{"summary": "no id"}"#.utf8).write(to: directory.appendingPathComponent("nested/broken.json"))
        do {
            _ = try AdvisoryDatabase.open(directory.path)
            Issue.record("loaded an advisory without an id")
        } catch {
            #expect(error.description.contains("nested/broken.json"))
            #expect(error.description.contains("id: is missing"))
        }
        #expect(throws: AdvisoryError.self) { try AdvisoryDatabase.open(directory.appendingPathComponent("absent").path) }
    }

    /// Unmatched packages are reported in every format; `fail-on-unmatched` fails the gate on them.
    @Test(arguments: [false, true])
    func unmatchedPackagesAreReportedAndCanFailTheGate(failOnUnmatched: Bool) async throws {
        let unmatched = [
            UnmatchedPackages(
                ecosystem: "deb", reason: "the image has no /etc/os-release, so its Debian release is unknown", count: 30,
                examples: ["base-files", "libc6"])
        ]
        let report = ScanGate(failOn: [.critical, .high], failOnUnmatched: failOnUnmatched)
            .judge([], image: "app", scanners: ["builtin"], unmatched: unmatched)
        #expect(report.passed == !failOnUnmatched)
        let text = ScanReportWriter.render(report, as: .text, version: "test")
        #expect(text.contains("critical 0, high 0, medium 0, low 0, unknown 0; 0 with a fix; 30 packages not checked"))
        #expect(text.contains("  not checked: 30 deb packages (base-files, libc6, …) — the image has no /etc/os-release"))
        #expect(
            text.hasSuffix(
                failOnUnmatched
                    ? "FAIL: 30 packages not checked (fail-on-unmatched)"
                    : "PASS (fails on: critical, high) — 30 packages not checked, not clean"), "\(text)")
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(ScanReportWriter.render(report, as: .json, version: "test").utf8))
                as? [String: Any])
        #expect((json["unmatched"] as? [[String: Any]])?.first?["count"] as? Int == 30)
        let sarif = ScanReportWriter.render(report, as: .sarif, version: "test")
        let log = try #require(try JSONSerialization.jsonObject(with: Data(sarif.utf8)) as? [String: Any])
        let run = try #require((log["runs"] as? [[String: Any]])?.first)
        let notes = try #require((run["invocations"] as? [[String: Any]])?.first?["toolExecutionNotifications"] as? [[String: Any]])
        #expect(notes.first?["level"] as? String == (failOnUnmatched ? "error" : "warning"))
        try await SARIFSchema.validate(sarif)
    }
}

/// Validates SARIF against the 2.1.0 schema in ../shared/data with check-jsonschema.
enum SARIFSchema {
    static func validate(_ sarif: String) async throws {
        let schema = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../shared/data/schemas/sarif-schema-2.1.0.json").standardizedFileURL
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("harden-\(UUID().uuidString).sarif")
        try Data(sarif.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try await ProcessRunner().run(
            Command("check-jsonschema", ["--schemafile", schema.path, file.path], timeout: .seconds(120)))
        #expect(result.succeeded, "SARIF does not validate: \(result.output)")
    }
}
