import Foundation
import HardenTestSupport
import Testing

/// `harden advisories import|status` and the database the scanning commands then use, as a
/// user runs them.
@Suite struct AdvisoriesCommandTests {
    static let realRecords = CLI.packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data/osv/PyPI").path
    static let fixtures = CLI.packageRoot.appendingPathComponent("Tests/HardenScanTests/Fixtures/osv").path

    /// (records, integrity) of the database, as Python's sqlite3 sees it.
    static func inspect(_ database: String) throws -> String {
        try CLI.shellWaiting(
            "python3 -c \"import sqlite3,sys; c=sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True); "
                + "print(c.execute('SELECT COUNT(*) FROM records').fetchone()[0], c.execute('PRAGMA integrity_check').fetchone()[0])\" '\(database)'"
        ).output
    }

    @Test func importThenStatusThenScanWithTheStateDatabase() async throws {
        let project = try Project()
        let imported = try await project.harden(["advisories", "import", Self.realRecords, Self.fixtures])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout.contains("PyPI: 49 records"))
        #expect(imported.stdout.contains("osv: 4 records"))
        let database = project.root.appendingPathComponent(".harden/advisories.db").path
        #expect(try Self.inspect(database) == "53 ok")

        let status = try await project.harden(["advisories", "status", "--format", "json"])
        #expect(status.status == 0, "\(status.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        #expect(json["records"] as? Int == 53)
        #expect((json["ecosystems"] as? [String: Int]) == ["PyPI": 51, "Debian:12": 2])
        #expect((json["sources"] as? [[String: Any]])?.count == 2)
        let text = try await project.harden(["advisories", "status"])
        #expect(text.stdout.contains("records by ecosystem:"))

        // `scan` finds the state directory's database by itself and warns once when it is old.
        let image = DockerBuildTests.builderBase
        let fresh = try await project.harden(["scan", image, "--scanner", "builtin", "--format", "json"])
        #expect(fresh.status <= 1, "\(fresh.stderr)")
        #expect(!fresh.stderr.contains("old"))
        let report = try #require(try JSONSerialization.jsonObject(with: Data(fresh.stdout.utf8)) as? [String: Any])
        #expect((report["ecosystems"] as? [String])?.contains("PyPI") == true)
        let old = try await project.harden(
            ["scan", image, "--scanner", "builtin", "--format", "json"], environment: ["HARDEN_ADVISORIES_MAX_AGE": "0"])
        let warnings = old.stderr.split(separator: "\n").filter { $0.contains("run `harden advisories sync`") }
        #expect(warnings.count == 1, "\(old.stderr)")
    }

    /// Killed mid-import, the database in use still opens, checks out and holds what it held;
    /// the next import clears what the killed one left.
    @Test func anImportKilledMidwayLeavesTheDatabaseAsItWas() async throws {
        let project = try Project()
        let first = try await project.harden(["advisories", "import", Self.realRecords])
        #expect(first.status == 0, "\(first.stderr)")
        let database = project.root.appendingPathComponent(".harden/advisories.db").path
        let big = project.root.appendingPathComponent("big.zip").path
        let made = try await CLI.shell("python3 '\(CLI.packageRoot.path)/Benchmarks/make-advisories.py' 60000 '\(big)'")
        #expect(made.status == 0, "\(made.output)")

        let running = try CLI.start(["advisories", "import", big], in: project.root)
        let directory = project.root.appendingPathComponent(".harden").path
        let grown = try await poll(seconds: 120) { () -> Bool? in
            let partial = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.contains(".new-") }
            guard let name = partial.first,
                let size = try? FileManager.default.attributesOfItem(atPath: directory + "/" + name)[.size] as? Int
            else { return nil }
            return size > 2 << 20 ? true : nil
        }
        #expect(grown == true, "the import never got going")
        kill(running.process.processIdentifier, SIGKILL)
        running.process.waitUntilExit()
        #expect(running.process.terminationReason == .uncaughtSignal)

        #expect(try Self.inspect(database) == "49 ok")
        let status = try await project.harden(["advisories", "status", "--format", "json"])
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("\"records\" : 49"))

        let again = try await project.harden(["advisories", "import", Self.fixtures])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.contains(".new-") }.isEmpty)
        #expect(try Self.inspect(database) == "53 ok")
    }

    @Test func aDamagedDatabaseIsAClearError() async throws {
        let project = try Project()
        try project.write(".harden/advisories.db", "this is not a database at all, just text that is long enough")
        let scan = try await project.harden(["advisories", "status"])
        #expect(scan.status == 2)
        #expect(scan.stderr.contains("advisories.db"), "\(scan.stderr)")
    }

    /// `harden advisories sync` against a real HTTP server on 127.0.0.1 serving an OSV-like
    /// export, then again (nothing changed), then from a server that fails.
    @Test func syncFetchesThenFindsNothingChangedThenFailsCleanly() async throws {
        let project = try Project()
        let export = project.root.appendingPathComponent("export")
        try FileManager.default.createDirectory(at: export.appendingPathComponent("PyPI"), withIntermediateDirectories: true)
        let zip = export.appendingPathComponent("PyPI/all.zip").path
        let made = try await CLI.shell("cd '\(Self.realRecords)' && python3 -m zipfile -c '\(zip)' *.json")
        #expect(made.status == 0, "\(made.output)")
        let server = try TestProcess(
            "python3",
            [
                CLI.packageRoot.appendingPathComponent("Tests/HardenAdvisoriesTests/Fixtures/osv_server.py").path, export.path,
                project.root.appendingPathComponent("requests.log").path,
            ], logFile: project.root.appendingPathComponent("server.log"))
        defer { server.stop() }
        let port = try #require(try await server.announcedPort(), "the OSV test server did not start: \(server.log)")
        let base = "http://127.0.0.1:\(port)"

        let first = try await project.harden(["advisories", "sync", "--from", base, "--ecosystem", "PyPI"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("PyPI: downloaded"), "\(first.stdout)")
        #expect(first.stdout.contains("49 records"))
        let again = try await project.harden(["advisories", "sync", "--from", base, "--ecosystem", "PyPI", "--format", "json"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("\"action\" : \"unchanged\""), "\(again.stdout)")

        let database = project.root.appendingPathComponent(".harden/advisories.db").path
        let before = try Data(contentsOf: URL(fileURLWithPath: database))
        let failed = try await project.harden(["advisories", "sync", "--from", base + "/fail", "--ecosystem", "PyPI"])
        #expect(failed.status == 2)
        #expect(failed.stderr.contains("/fail/PyPI/all.zip: answered HTTP 500"), "\(failed.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: database)) == before)
    }
}
