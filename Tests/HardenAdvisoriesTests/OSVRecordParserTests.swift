import Foundation
import HardenTestSupport
import Testing

@testable import HardenAdvisories

/// The parser's schema check agrees with the OSV JSON Schema as `jsonschema` (the validator
/// check-jsonschema runs) applies it: on the real records and on each way a record can be wrong.
@Suite struct OSVRecordParserTests {
    static let valid = Records.debian("DEBIAN-CVE-2099-0100", package: "zlib", fixed: "1:1.3")

    static let broken: [String: String] = [
        "no id": #"{"modified": "2026-01-01T00:00:00Z"}"#,
        "no modified": #"{"id": "DSA-1-1"}"#,
        "modified not RFC 3339": #"{"id": "DSA-1-1", "modified": "2026-01-01 00:00"}"#,
        "aliases not a list": #"{"id": "DSA-1-1", "modified": "2026-01-01T00:00:00Z", "aliases": "CVE-1"}"#,
        "package without name":
            #"{"id": "DSA-1-1", "modified": "2026-01-01T00:00:00Z", "affected": [{"package": {"ecosystem": "Debian:12"}}]}"#,
        "unknown range type": range(#"{"type": "DATE", "events": [{"introduced": "0"}]}"#),
        "range without introduced": range(#"{"type": "ECOSYSTEM", "events": [{"fixed": "1.0"}]}"#),
        "event with two keys": range(#"{"type": "ECOSYSTEM", "events": [{"introduced": "0", "fixed": "1.0"}]}"#),
        "fixed and last_affected":
            range(#"{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1"}, {"last_affected": "2"}]}"#),
        "GIT range without repo": range(#"{"type": "GIT", "events": [{"introduced": "0"}]}"#),
        "empty events": range(#"{"type": "ECOSYSTEM", "events": []}"#),
        "version not a string": range(#"{"type": "ECOSYSTEM", "events": [{"introduced": 0}]}"#),
        "unknown severity type":
            #"{"id": "DSA-1-1", "modified": "2026-01-01T00:00:00Z", "severity": [{"type": "CVSS_V9", "score": "x"}]}"#,
        "severity in record and package":
            #"{"id": "DSA-1-1", "modified": "2026-01-01T00:00:00Z", "severity": [{"type": "Ubuntu", "score": "high"}], "affected": [{"package": {"ecosystem": "Debian:12", "name": "zlib"}, "severity": [{"type": "Ubuntu", "score": "low"}]}]}"#,
        "not an object": #"["DSA-1-1"]"#,
    ]

    static func range(_ range: String) -> String {
        #"{"id": "DSA-1-1", "modified": "2026-01-01T00:00:00Z", "affected": [{"package": {"ecosystem": "Debian:12", "name": "zlib"}, "ranges": ["#
            + range + "]}]}"
    }

    /// File name → valid, as jsonschema's Draft 2020-12 validator says.
    static func schemaVerdicts(_ files: [String]) throws -> [String: Bool] {
        let script = """
            import json, sys
            from jsonschema import Draft202012Validator
            validator = Draft202012Validator(json.load(open(sys.argv[1])))
            for name in sys.argv[2:]:
                print(name, "valid" if validator.is_valid(json.load(open(name))) else "invalid")
            """
        let output = try runToolWaiting("/usr/bin/env", ["python3", "-c", script, SharedData.osvSchema.path] + files)
        var verdicts: [String: Bool] = [:]
        for line in String(decoding: output, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: " ")
            verdicts[String(parts[0])] = parts[1] == "valid"
        }
        return verdicts
    }

    @Test func theRealRecordsParseAndTheSchemaAgrees() throws {
        let files = SharedData.pypiFiles
        #expect(files.count == 49)
        for file in files {
            let record = try OSVRecordParser.parse(try Data(contentsOf: file))
            #expect(record.id + ".json" == file.lastPathComponent)
            #expect(record.aliases?.isEmpty == false)
        }
        #expect(try Self.schemaVerdicts(files.map(\.path)).values.allSatisfy { $0 })
    }

    @Test func everyBrokenRecordIsRefusedByBothWithThePlace() throws {
        let scratch = try Scratch()
        var files: [String: String] = [:]
        for (index, (name, text)) in Self.broken.sorted(by: { $0.key < $1.key }).enumerated() {
            files[try scratch.write("broken-\(index).json", text)] = name
        }
        let validFile = try scratch.write("valid.json", Self.valid)
        let verdicts = try Self.schemaVerdicts(files.keys.sorted() + [validFile])
        #expect(verdicts[validFile] == true)
        #expect(try OSVRecordParser.parse(Data(Self.valid.utf8)).id == "DEBIAN-CVE-2099-0100")
        for (file, name) in files {
            #expect(verdicts[file] == false, "the schema accepts the record with \(name)")
            #expect(throws: RecordProblem.self, "harden accepts the record with \(name)") {
                try OSVRecordParser.parse(try Data(contentsOf: URL(fileURLWithPath: file)))
            }
        }
        do {
            _ = try OSVRecordParser.parse(Data(Self.broken["event with two keys"]!.utf8))
        } catch {
            #expect(error.description.hasPrefix("affected[0].ranges[0].events[0]: needs exactly one of"))
        }
    }

    @Test func rangesSurviveTheDatabaseForm() throws {
        let record = try OSVRecordParser.parse(
            Data(
                Self.range(
                    #"{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1:1.2-3"}]}, {"type": "SEMVER", "events": [{"introduced": "2.0.0"}, {"last_affected": "2.1.0"}]}, {"type": "GIT", "repo": "https://example.org/x", "events": [{"introduced": "0"}]}"#
                ).utf8))
        var affected = try #require(record.affected?.first)
        affected.versions = ["1.0", "1.1"]
        let (ranges, versions) = AffectedRanges.encode(affected)
        let back = AffectedRanges.decode(ranges: ranges, versions: versions)
        #expect(back.ranges == affected.ranges?.filter { $0.type != "GIT" })
        #expect(back.versions == ["1.0", "1.1"])
    }
}
