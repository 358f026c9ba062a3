import Foundation
import HardenTestSupport
import Testing

@testable import HardenAdvisories

@Suite struct AdvisoryImportTests {
    /// Imports `paths` into a new database file and returns it with the summaries.
    static func importInto(
        _ database: String, _ paths: [String], keepCurrent: Bool = false, limits: AdvisoryImporter.Limits = .init()
    ) throws -> (AdvisoryDatabase, [ImportSummary]) {
        let writer = try AdvisoryDatabaseWriter(target: database, keepCurrent: keepCurrent)
        var summaries: [ImportSummary] = []
        do {
            for path in paths {
                try writer.removeSource(path)
                let summary = try AdvisoryImporter.load(path, as: path, into: writer, limits: limits)
                try writer.setSource(name: path, location: path, syncedAt: Date(), skipped: summary.skippedCount)
                summaries.append(summary)
            }
            return (try writer.commit(), summaries)
        } catch {
            writer.abandon()
            throw error
        }
    }

    @Test func theRealPyPIRecordsImportFromAZipAndAFolderAlike() throws {
        let scratch = try Scratch()
        let zip = scratch.path("all.zip")
        try Zip.make(zip, SharedData.pypiFiles.map { ($0.lastPathComponent, $0.path) })
        let (fromZip, zipSummary) = try Self.importInto(scratch.path("zip.db"), [zip])
        let (fromFolder, folderSummary) = try Self.importInto(scratch.path("folder.db"), [SharedData.pypi.path])
        #expect(zipSummary.first?.records == 49)
        #expect(folderSummary.first?.records == 49)
        #expect(zipSummary.first?.skippedCount == 0)
        #expect(try fromZip.recordsByEcosystem() == ["PyPI": 49])
        #expect(try fromFolder.recordsByEcosystem() == fromZip.recordsByEcosystem())
        // PEP 503 names: records say "Flask", "Werkzeug"; lookups use the normalized name.
        let flask = try fromZip.entries(family: "PyPI", name: "flask")
        #expect(Set(flask.map(\.id)) == ["PYSEC-2018-66", "PYSEC-2019-179", "PYSEC-2023-62"])
        #expect(fromZip.integrityCheck() == "ok")
    }

    /// libarchive's zip reader can hand back an empty block where its buffer ends at an entry's
    /// data; that is not the entry's end (one record in 1,500 read as empty before).
    @Test func everyEntryOfALargeZipReadsWhole() throws {
        let scratch = try Scratch()
        let zip = scratch.path("bench.zip")
        try runToolWaiting(
            "/usr/bin/env",
            ["python3", SharedData.packageRoot.appendingPathComponent("Benchmarks/make-advisories.py").path, "6000", zip])
        let (database, summaries) = try Self.importInto(scratch.path("a.db"), [zip])
        #expect(summaries.first?.skipped == [])
        #expect(summaries.first?.records == 6000)
        #expect(database.recordCount == 6000)
        // Two in three take their severity from the record with the shared CVE's vector.
        let candidates = try database.entries(family: "PyPI", name: "pkg00005") + database.entries(family: "Debian", name: "pkg00005")
        #expect(candidates.allSatisfy { $0.severity.severity != .unknown })
    }

    @Test func severityComesFromAliasesAndDebianUrgencyStaysWithItsPackage() throws {
        let scratch = try Scratch()
        let folder = scratch.url.appendingPathComponent("records").path
        // The CVE's own CVSS (9.8) is in a GHSA record; the Debian record has none of its own.
        try scratch.write(
            "records/GHSA-aaaa-bbbb-cccc.json",
            """
            {"id": "GHSA-aaaa-bbbb-cccc", "modified": "2026-01-01T00:00:00Z", "aliases": ["CVE-2099-0001"],
             "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
             "affected": [{"package": {"ecosystem": "npm", "name": "left-pad"},
                           "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}]}]}
            """)
        // One Debian record, two packages: Debian rated one `unimportant`, the other it did not rate.
        try scratch.write(
            "records/DEBIAN-CVE-2099-0001.json",
            """
            {"id": "DEBIAN-CVE-2099-0001", "modified": "2026-01-01T00:00:00Z", "upstream": ["CVE-2099-0001"],
             "affected": [
               {"package": {"ecosystem": "Debian:12", "name": "tiff"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
                "ecosystem_specific": {"urgency": "unimportant"}},
               {"package": {"ecosystem": "Debian:12", "name": "openssl"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
                "ecosystem_specific": {"urgency": "not yet assigned"}}]}
            """)
        // Its own vector wins over anything an alias says.
        try scratch.write(
            "records/DSA-9999-1.json",
            Records.debian(
                "DSA-9999-1", package: "zlib", aliases: ["CVE-2099-0001"],
                extra: #", "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:L/UI:R/S:U/C:L/I:N/A:N"}]"#))
        // No severity anywhere, no alias with one.
        try scratch.write("records/DEBIAN-CVE-2099-0002.json", Records.debian("DEBIAN-CVE-2099-0002", package: "zlib"))
        let (database, summaries) = try Self.importInto(scratch.path("a.db"), [folder])
        #expect(summaries.first?.records == 3)
        #expect(summaries.first?.otherEcosystems == 1)
        #expect(try database.otherEcosystems() == ["npm": 1])

        let tiff = try #require(try database.entries(family: "Debian", name: "tiff").first)
        #expect(tiff.severity.severity == .low)
        #expect(tiff.severity.source == "Debian urgency unimportant for tiff in Debian:12")
        let openssl = try #require(try database.entries(family: "Debian", name: "openssl").first)
        #expect(openssl.severity.severity == .critical)
        #expect(openssl.severity.source == "CVSS v3 9.8 of GHSA-aaaa-bbbb-cccc, which shares an alias")
        let zlib = try database.entries(family: "Debian", name: "zlib")
        #expect(zlib.first { $0.id == "DSA-9999-1" }?.severity.severity == .low)
        #expect(zlib.first { $0.id == "DSA-9999-1" }?.severity.source == "CVSS v3 2.6 of this record")
        #expect(zlib.first { $0.id == "DEBIAN-CVE-2099-0002" }?.severity.severity == .unknown)
    }

    @Test func laterCopiesReplaceEarlierOnesAndWithdrawnRecordsLeave() throws {
        let scratch = try Scratch()
        let first = scratch.url.appendingPathComponent("first").path
        let second = scratch.url.appendingPathComponent("second").path
        try scratch.write("first/A.json", Records.debian("DEBIAN-CVE-2099-0010", package: "zlib", fixed: "1.0"))
        try scratch.write("first/B.json", Records.debian("DEBIAN-CVE-2099-0011", package: "zlib"))
        try scratch.write(
            "second/A.json",
            Records.debian("DEBIAN-CVE-2099-0010", package: "zlib", fixed: "2.0", modified: "2026-02-01T00:00:00Z"))
        try scratch.write(
            "second/B.json",
            Records.debian(
                "DEBIAN-CVE-2099-0011", package: "zlib", modified: "2026-02-01T00:00:00Z",
                extra: #", "withdrawn": "2026-02-01T00:00:00Z""#))
        let database = scratch.path("a.db")
        _ = try Self.importInto(database, [first])
        let (updated, summaries) = try Self.importInto(database, [second], keepCurrent: true)
        #expect(summaries.first?.records == 1)
        #expect(summaries.first?.withdrawn == 1)
        let zlib = try updated.entries(family: "Debian", name: "zlib")
        #expect(zlib.map(\.id) == ["DEBIAN-CVE-2099-0010"])
        #expect(zlib.first?.affected.ranges?.first?.events.last?.fixed == "2.0")

        // The older live copy of the withdrawn record, imported again, stays out.
        let (again, later) = try Self.importInto(database, [first], keepCurrent: true)
        #expect(later.first?.withdrawn == 1)
        #expect(try again.entries(family: "Debian", name: "zlib").map(\.id) == ["DEBIAN-CVE-2099-0010"])
    }

    @Test func badRecordsAreSkippedCountedAndNamed() throws {
        let scratch = try Scratch()
        try scratch.write("good.json", Records.debian("DEBIAN-CVE-2099-0020", package: "zlib"))
        try scratch.write("notjson.json", "this is not JSON")
        try scratch.write("noid.json", #"{"modified": "2026-01-01T00:00:00Z"}"#)
        try scratch.write("README.txt", "not a record")
        let zip = scratch.path("mixed.zip")
        try Zip.make(
            zip,
            [
                ("good.json", scratch.path("good.json")), ("notjson.json", scratch.path("notjson.json")),
                ("noid.json", scratch.path("noid.json")), ("README.txt", scratch.path("README.txt")),
            ])
        let (_, summaries) = try Self.importInto(scratch.path("a.db"), [zip])
        let summary = try #require(summaries.first)
        #expect(summary.records == 1)
        #expect(summary.skippedCount == 3)
        #expect(summary.skipped.contains(SkippedRecord(entry: "mixed.zip: notjson.json", problem: "not valid JSON")))
        #expect(summary.skipped.contains(SkippedRecord(entry: "mixed.zip: noid.json", problem: "id: is missing")))
        #expect(summary.skipped.contains(SkippedRecord(entry: "mixed.zip: README.txt", problem: "not a .json entry")))
    }

    /// A broken archive is an error that names it (and the entry), and the database in use stays
    /// byte for byte what it was, with no new file left beside it.
    @Test(arguments: ["cut", "climbing", "absolute", "bomb", "expansion", "empty"])
    func aBrokenArchiveChangesNothing(kind: String) throws {
        let scratch = try Scratch()
        let database = scratch.path("advisories.db")
        _ = try Self.importInto(database, [SharedData.pypi.path])
        let before = try Data(contentsOf: URL(fileURLWithPath: database))
        let record = try scratch.write("r.json", Records.debian("DEBIAN-CVE-2099-0030", package: "zlib"))
        let zip = scratch.path("bad.zip")
        var limits = AdvisoryImporter.Limits()
        var expected: [String]
        switch kind {
        case "cut":
            try Zip.make(zip, SharedData.pypiFiles.map { ($0.lastPathComponent, $0.path) })
            let whole = try Data(contentsOf: URL(fileURLWithPath: zip))
            try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: zip))
            expected = ["bad.zip", "cannot be read as a zip"]
        case "climbing":
            try Zip.make(zip, [("ok.json", record), ("../../etc/evil.json", record)])
            expected = ["bad.zip: entry ../../etc/evil.json", "climbs out"]
        case "absolute":
            try Zip.make(zip, [("/etc/evil.json", record)])
            // Python's zipfile drops the leading slash; write the name as libarchive will read it.
            let data = try Data(contentsOf: URL(fileURLWithPath: zip))
            try Data(data.replacing(Data("etc/evil.json".utf8), with: Data("/tc/evil.json".utf8)))
                .write(to: URL(fileURLWithPath: zip))
            expected = ["bad.zip: entry /tc/evil.json", "absolute"]
        case "bomb":
            try Zip.make(zip, [("ok.json", record)], bombMiB: 64)
            expected = ["bad.zip: entry bomb.json", "zip bomb"]
        case "expansion":
            limits.expansion = 2
            limits.floorBytes = 0
            try Zip.make(zip, SharedData.pypiFiles.map { ($0.lastPathComponent, $0.path) })
            expected = ["bad.zip: entry", "zip bomb"]
        default:
            try Zip.make(zip, [])
            expected = ["bad.zip", "cannot be read as a zip"]
        }
        do {
            _ = try Self.importInto(database, [zip], keepCurrent: true, limits: limits)
            Issue.record("imported a \(kind) archive")
        } catch {
            let text = String(describing: error)
            for part in expected { #expect(text.contains(part), "\(text)") }
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: database)) == before)
        let left = try FileManager.default.contentsOfDirectory(atPath: scratch.url.path).filter { $0.contains(".new-") }
        #expect(left.isEmpty)
        #expect(try AdvisoryDatabase(path: database).recordsByEcosystem() == ["PyPI": 49])
    }

    @Test func aDatabaseFromANewerHardenOrAnotherProgramIsRefused() throws {
        let scratch = try Scratch()
        let database = scratch.path("advisories.db")
        _ = try Self.importInto(database, [SharedData.pypi.path])
        try runToolWaiting("/usr/bin/env", ["python3", "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('PRAGMA user_version = 99'); c.commit()", database])
        #expect(throws: AdvisoryError.self) { try AdvisoryDatabase(path: database) }
        do {
            _ = try AdvisoryDatabase(path: database)
        } catch {
            #expect(error.description.contains("newer harden"))
        }
        let other = scratch.path("other.db")
        try runToolWaiting("/usr/bin/env", ["python3", "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('CREATE TABLE t (x)'); c.commit()", other])
        do {
            _ = try AdvisoryDatabase(path: other)
            Issue.record("opened a database that is not harden's")
        } catch {
            #expect(error.description.contains("not a harden advisory database"))
        }
    }
}
