import Foundation
import HardenAdvisories
import HardenProcess
import Testing

@testable import HardenScan

/// OpenVEX out of the gate and back into it, on the real PyPA records: two builds of one
/// image, the second with Werkzeug updated past two advisories.
@Suite struct OpenVEXTests {
    static let matcher = Result { try AdvisoryMatcher(database: AdvisoryDatabase.open(RealAdvisoryMatchingTests.records.path)) }

    static func python(_ name: String, _ version: String) -> Package {
        Package(
            kind: .python, name: name, version: version, location: "/app/deps/\(name)-\(version).dist-info", layer: 1)
    }

    static let image = ImageIdentity(
        name: "harden-local/flask-app", tag: "latest", manifestDigest: "sha256:" + String(repeating: "ab", count: 32),
        imageID: "sha256:" + String(repeating: "cd", count: 32))
    static let epoch = Date(timeIntervalSince1970: 1_717_200_000)  // 2024-06-01T00:00:00Z

    /// Accepted with a reason and a justification; and one as a bare .trivyignore line (no reason).
    static let ignores = [
        VulnerabilityIgnore(
            id: "CVE-2023-43804", package: "urllib3", reason: "the app sends no Cookie headers through urllib3",
            justification: .vulnerableCodeNotInExecutePath, source: "scan.ignores[0]"),
        VulnerabilityIgnore(id: "CVE-2023-45803", source: ".trivyignore:1"),
    ]

    static func findings(werkzeug: String) throws -> [Vulnerability] {
        try matcher.get().match(
            [python("Flask", "2.2.4"), python("Werkzeug", werkzeug), python("urllib3", "1.26.15"), python("requests", "2.30.0")],
            os: nil)
    }

    /// The second build's report under the gate with the ignores, and the first build's findings.
    static func builds() throws -> (report: ScanReport, previous: [Vulnerability]) {
        let gate = ScanGate(failOn: [.critical, .high], ignores: ignores, today: "2024-06-01")
        let report = gate.judge(try findings(werkzeug: "2.2.3"), image: "harden-local/flask-app:latest", scanners: ["builtin"])
        return (report, try findings(werkzeug: "2.2.2"))
    }

    static func document(_ report: ScanReport, previous: [Vulnerability] = [], timestamp: Date = epoch) throws -> Data {
        try #require(
            OpenVEX.document(
                for: report, product: image, author: "security@example.com", timestamp: timestamp, previous: previous,
                tooling: "harden test"))
    }

    static func statements(_ data: Data) throws -> [[String: Any]] {
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return try #require(object["statements"] as? [[String: Any]])
    }

    @Test func documentValidatesAndSaysWhatTheGateDecided() async throws {
        let (report, previous) = try Self.builds()
        let data = try Self.document(report, previous: previous)
        try await OpenVEXSchema.validate(data)

        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["@context"] as? String == "https://openvex.dev/ns/v0.2.0")
        #expect(object["timestamp"] as? String == "2024-06-01T00:00:00Z")
        #expect(object["version"] as? Int == 1)
        #expect((object["@id"] as? String)?.hasPrefix("urn:harden:vex:sha256:") == true)
        let statements = try Self.statements(data)
        func statement(_ name: String) -> [String: Any]? {
            statements.first { ($0["vulnerability"] as? [String: Any])?["name"] as? String == name }
        }
        let accepted = try #require(statement("CVE-2023-43804"))
        #expect(accepted["status"] as? String == "not_affected")
        #expect(accepted["justification"] as? String == "vulnerable_code_not_in_execute_path")
        #expect(accepted["impact_statement"] as? String == "the app sends no Cookie headers through urllib3")
        #expect(((accepted["vulnerability"] as? [String: Any])?["aliases"] as? [String])?.contains("PYSEC-2023-192") == true)
        let products = try #require(accepted["products"] as? [[String: Any]])
        #expect(
            products.map { $0["@id"] as? String } == [
                "pkg:oci/flask-app@sha256%3A\(String(repeating: "ab", count: 32))?repository_url=harden-local/flask-app&tag=latest",
                "pkg:docker/harden-local/flask-app@sha256%3A\(String(repeating: "cd", count: 32))",
            ])
        #expect((products[0]["hashes"] as? [String: String])?["sha-256"] == String(repeating: "ab", count: 32))
        #expect(
            (products[0]["subcomponents"] as? [[String: Any]])?.first?["@id"] as? String == "pkg:pypi/urllib3@1.26.15")

        let requests = try #require(statement("CVE-2023-32681"))
        #expect(requests["status"] as? String == "affected")
        #expect(requests["action_statement"] as? String == "Update requests from 2.30.0 to 2.31.0 or later.")
        for fixed in ["CVE-2023-23934", "CVE-2023-25577"] {
            let gone = try #require(statement(fixed))
            #expect(gone["status"] as? String == "fixed")
            let sub = ((gone["products"] as? [[String: Any]])?.first?["subcomponents"] as? [[String: Any]])?.first
            #expect(sub?["@id"] as? String == "pkg:pypi/werkzeug")
        }
        // The bare .trivyignore line gives no reason: left out, and said so.
        #expect(statement("CVE-2023-45803") == nil)
        #expect(OpenVEX.unstated(in: report).map(\.vulnerability.primaryID) == ["CVE-2023-45803"])
        let names = statements.compactMap { ($0["vulnerability"] as? [String: Any])?["name"] as? String }
        #expect(names == names.sorted())
        #expect(statements.count == report.findings.count - 1 + 2)
    }

    @Test func theSameReportGivesTheSameBytes() throws {
        let (report, previous) = try Self.builds()
        let first = try Self.document(report, previous: previous)
        #expect(try Self.document(report, previous: previous) == first)
        let reordered = ScanReport(
            image: report.image, scanners: report.scanners, findings: report.findings.reversed(), expiredIgnores: [],
            staleIgnores: [], failOn: report.failOn, passed: report.passed)
        #expect(try Self.document(reordered, previous: previous.reversed()) == first)
        let later = try Self.document(report, previous: previous, timestamp: Self.epoch.addingTimeInterval(1))
        #expect(later != first)
        #expect(try #require(JSONSerialization.jsonObject(with: later) as? [String: Any])["@id"] as? String != nil)
    }

    @Test func nothingToStateGivesNoDocument() throws {
        let clean = ScanGate(failOn: [.high]).judge([], image: "x", scanners: ["builtin"])
        #expect(OpenVEX.document(for: clean, product: Self.image, author: "a", timestamp: Self.epoch) == nil)
    }

    /// What harden wrote, read back: exactly the not_affected findings are accepted, the
    /// affected ones still judged, and nothing is stale.
    @Test func aDocumentHardenWroteSuppressesExactlyItsNotAffectedFindings() throws {
        let (report, previous) = try Self.builds()
        let statements = try OpenVEX.read(try Self.document(report, previous: previous), file: "app.vex.json")
        let again = ScanGate(failOn: [.critical, .high], vex: statements)
            .judge(try Self.findings(werkzeug: "2.2.3"), image: "app", scanners: ["builtin"], subject: Self.image)
        let ignored = again.findings.filter { $0.verdict == .ignored }
        #expect(ignored.map(\.vulnerability.primaryID) == ["CVE-2023-43804"])
        #expect(ignored.first?.reason == "the app sends no Cookie headers through urllib3")
        #expect(ignored.first?.justification == .vulnerableCodeNotInExecutePath)
        #expect(ignored.first?.ignoredBy?.hasPrefix("app.vex.json: statements[") == true)
        #expect(again.findings.count == report.findings.count)
        #expect(again.staleStatements == [])
        // The engine's image ID names it too (a docker-archive has no manifest digest).
        let byID = ImageIdentity(name: "flask-app", imageID: Self.image.imageID)
        let engine = ScanGate(failOn: [.high], vex: statements)
            .judge(try Self.findings(werkzeug: "2.2.3"), image: "app", scanners: ["builtin"], subject: byID)
        #expect(engine.findings.filter { $0.verdict == .ignored }.count == 1)
        // urllib3 gone from this image: its statements speak of nothing here.
        let without = ScanGate(failOn: [.high], vex: statements).judge(
            try Self.findings(werkzeug: "2.2.3").filter { $0.package != "urllib3" }, image: "app", scanners: [],
            subject: Self.image)
        #expect(Set(without.staleStatements?.map(\.vulnerability) ?? []) == ["CVE-2023-43804"])  // CVE-2023-45803 was left out
        #expect(
            ScanReportWriter.render(without, as: .text, version: "test").contains(
                ", not_affected) matched no finding of this image — remove it"))
        let text = ScanReportWriter.render(again, as: .text, version: "test")
        #expect(text.contains("— ignored by app.vex.json: statements["), "\(text)")
        #expect(text.contains("(not_affected): the app sends no Cookie headers through urllib3"), "\(text)")
    }

    @Test func statementsForAnotherImageAreStaleAndSuppressNothing() throws {
        let (report, previous) = try Self.builds()
        let statements = try OpenVEX.read(try Self.document(report, previous: previous), file: "old.vex.json")
        let rebuilt = ImageIdentity(
            name: "harden-local/flask-app", tag: "latest", manifestDigest: "sha256:" + String(repeating: "ef", count: 32),
            imageID: "sha256:" + String(repeating: "01", count: 32))
        let judged = ScanGate(failOn: [.high], vex: statements)
            .judge(try Self.findings(werkzeug: "2.2.3"), image: "app", scanners: ["builtin"], subject: rebuilt)
        #expect(!judged.findings.contains { $0.verdict == .ignored })
        #expect(judged.staleStatements?.count == statements.count)
        let text = ScanReportWriter.render(judged, as: .text, version: "test")
        #expect(text.contains("stale VEX statement: CVE-2023-43804 (old.vex.json: statements["), "\(text)")
        #expect(text.contains("is not about this image (another digest"), "\(text)")
    }

    /// Written by hand, the way vexctl does: a package as the product, and the image by a
    /// versionless purl with the package as subcomponent.
    @Test func packageProductsAndVersionlessImagePurlsMatch() throws {
        let findings = try Self.findings(werkzeug: "2.2.3")
        let text = """
            {"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/1", "author": "ops",
             "timestamp": "2024-05-01T10:00:00.5+02:00", "version": 1, "statements": [
              {"vulnerability": {"name": "GHSA-v845-jxx5-vc9f"}, "products": [{"@id": "pkg:pypi/urllib3@1.26.15"}],
               "status": "not_affected", "justification": "vulnerable_code_not_present"},
              {"vulnerability": {"name": "CVE-2023-32681"},
               "products": [{"@id": "pkg:oci/flask-app?tag=other", "subcomponents": [{"@id": "pkg:pypi/Requests"}]}],
               "status": "fixed", "status_notes": "patched in our fork"},
              {"vulnerability": {"name": "CVE-2023-45803"}, "products": [{"@id": "pkg:pypi/urllib3@1.26.14"}],
               "status": "not_affected", "impact_statement": "another version"}
            ]}
            """
        let statements = try OpenVEX.read(Data(text.utf8), file: "hand.json")
        let judged = ScanGate(failOn: [.high], vex: statements)
            .judge(findings, image: "app", scanners: ["builtin"], subject: Self.image)
        let ignored = Dictionary(
            uniqueKeysWithValues: judged.findings.filter { $0.verdict == .ignored }.map {
                ($0.vulnerability.primaryID, $0)
            })
        #expect(Set(ignored.keys) == ["CVE-2023-43804", "CVE-2023-32681"])
        #expect(ignored["CVE-2023-43804"]?.reason == nil)
        #expect(ignored["CVE-2023-43804"]?.justification == .vulnerableCodeNotPresent)
        #expect(ignored["CVE-2023-32681"]?.vexStatus == .fixed)
        #expect(ignored["CVE-2023-32681"]?.reason == "patched in our fork")
        #expect(judged.staleStatements?.map(\.source) == ["hand.json: statements[2]"])
        // A fixed statement becomes fixed again in harden's own document.
        let data = try Self.document(judged)
        let fixed = try Self.statements(data).first {
            ($0["vulnerability"] as? [String: Any])?["name"] as? String == "CVE-2023-32681"
        }
        #expect(fixed?["status"] as? String == "fixed")
    }

    /// OpenVEX's rule: of statements about one finding the newest wins (at the same time, the later one).
    @Test func aLaterStatementOverridesAnEarlierOne() throws {
        let findings = try Self.findings(werkzeug: "2.2.3")
        func document(_ status: String, at time: String, extra: String = "") -> Data {
            Data(
                """
                {"@context": "https://openvex.dev/ns/v0.2.0", "@id": "urn:x:\(status)", "author": "ops", "timestamp": "\(time)",
                 "version": 1, "statements": [{"vulnerability": {"name": "CVE-2023-32681"},
                 "products": [{"@id": "pkg:pypi/requests@2.30.0"}], "status": "\(status)"\(extra)}]}
                """.utf8)
        }
        let notAffected = document("not_affected", at: "2024-05-01T00:00:00Z", extra: #", "impact_statement": "no proxies""#)
        let affected = document("affected", at: "2024-05-02T00:00:00Z", extra: #", "action_statement": "update""#)
        func verdict(_ files: [(String, Data)]) throws -> JudgedFinding {
            var statements: [VEXStatement] = []
            for (name, data) in files { statements += try OpenVEX.read(data, file: name, firstPosition: statements.count) }
            let report = ScanGate(failOn: [.high], vex: statements).judge(findings, image: "app", scanners: [])
            return try #require(report.findings.first { $0.vulnerability.primaryID == "CVE-2023-32681" })
        }
        #expect(try verdict([("a.json", notAffected)]).verdict == .ignored)
        #expect(try verdict([("a.json", notAffected), ("b.json", affected)]).verdict != .ignored)
        #expect(try verdict([("b.json", affected), ("a.json", notAffected)]).verdict != .ignored)  // newer, not later on the line
        let sameTime = document("affected", at: "2024-05-01T00:00:00Z", extra: #", "action_statement": "update""#)
        #expect(try verdict([("a.json", notAffected), ("c.json", sameTime)]).verdict != .ignored)
        #expect(try verdict([("c.json", sameTime), ("a.json", notAffected)]).verdict == .ignored)
    }

    @Test func statementsOlderThanTheMaximumAgeExpire() throws {
        let (report, previous) = try Self.builds()
        let statements = try OpenVEX.read(try Self.document(report, previous: previous), file: "app.vex.json")
        let judged = ScanGate(failOn: [.high], vex: statements, vexNotBefore: Self.epoch.addingTimeInterval(86_400))
            .judge(try Self.findings(werkzeug: "2.2.3"), image: "app", scanners: [], subject: Self.image)
        #expect(!judged.findings.contains { $0.verdict == .ignored })
        #expect(judged.expiredStatements?.count == statements.count)
        #expect(judged.staleStatements == [])
        #expect(
            ScanReportWriter.render(judged, as: .text, version: "t").contains(
                "expired VEX statement: CVE-2023-43804 (app.vex.json: statements["))
    }

    @Test(arguments: [
        ("not json", "bad.json: is not JSON"),
        (#"{"@context": "https://openvex.dev/ns/v0.2.0"}"#, "bad.json: @id: is missing"),
        (
            #"{"@context": "https://cyclonedx.org", "@id": "x", "author": "a", "timestamp": "2024-01-01T00:00:00Z", "version": 1, "statements": []}"#,
            "bad.json: @context: is 'https://cyclonedx.org', not OpenVEX's"
        ),
        (
            #"{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "x", "author": "a", "timestamp": "2024-01-01T00:00:00Z", "version": 1, "statements": []}"#,
            "bad.json: statements: is empty"
        ),
        (
            #"{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "x", "author": "a", "timestamp": "yesterday", "version": 1, "statements": [{"vulnerability": {"name": "CVE-1"}, "status": "fixed"}]}"#,
            "bad.json: timestamp: 'yesterday' is not an RFC 3339 date-time"
        ),
        (
            #"{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "x", "author": "a", "timestamp": "2024-01-01T00:00:00Z", "version": 1, "statements": [{"vulnerability": {"name": "CVE-1"}, "status": "fixed"}, {"vulnerability": {"name": "CVE-2"}, "status": "maybe"}]}"#,
            "bad.json: statements[1].status: 'maybe' is not one of not_affected, affected, fixed, under_investigation"
        ),
        (
            #"{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "x", "author": "a", "timestamp": "2024-01-01T00:00:00Z", "version": 1, "statements": [{"vulnerability": {"name": "CVE-1"}, "status": "not_affected"}]}"#,
            "bad.json: statements[0]: is not_affected with neither a justification nor an impact_statement"
        ),
        (
            #"{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "x", "author": "a", "timestamp": "2024-01-01T00:00:00Z", "version": 1, "statements": [{"vulnerability": "CVE-1", "status": "fixed"}]}"#,
            "bad.json: statements[0].vulnerability: Expected to decode Dictionary"
        ),
    ])
    func malformedDocumentsAreNamedByFileAndPath(text: String, expected: String) {
        do {
            _ = try OpenVEX.read(Data(text.utf8), file: "bad.json")
            Issue.record("read \(text)")
        } catch {
            #expect(error.description.hasPrefix(expected), "\(error.description)")
            #expect(error.description.contains("hint: --vex takes OpenVEX 0.2.0 JSON documents"))
        }
    }
}

/// Validates OpenVEX against the 0.2.0 schema in ../shared/data with check-jsonschema.
enum OpenVEXSchema {
    static func validate(_ document: Data) async throws {
        let schema = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../shared/data/schemas/openvex-schema.json").standardizedFileURL
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("harden-\(UUID().uuidString).openvex.json")
        try document.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try await ProcessRunner().run(
            Command("check-jsonschema", ["--schemafile", schema.path, file.path], timeout: .seconds(120)))
        #expect(result.succeeded, "OpenVEX does not validate: \(result.output)")
    }
}
