import Foundation
import HardenTestSupport
import Testing

@testable import HardenAdvisories

/// A real HTTP server on 127.0.0.1 (Fixtures/osv_server.py) laid out like OSV's export.
final class OSVServer {
    let root: URL
    let base: URL
    private let process: TestProcess
    private let requestLog: URL

    init(root: URL) async throws {
        self.root = root
        requestLog = root.deletingLastPathComponent().appendingPathComponent("requests-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: requestLog.path, contents: nil)
        process = try TestProcess(
            "python3",
            [SharedData.fixtures.appendingPathComponent("osv_server.py").path, root.path, requestLog.path],
            logFile: root.deletingLastPathComponent().appendingPathComponent("server-\(UUID().uuidString).log"))
        guard let port = try await process.announcedPort() else { throw TestSetupError("the OSV test server did not start: \(process.log)") }
        base = URL(string: "http://127.0.0.1:\(port)")!
    }

    deinit { process.stop() }

    /// Requests since the last call, as "GET /PyPI/all.zip 200".
    func requests() -> [String] {
        let lines = ((try? String(contentsOf: requestLog, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        try? Data().write(to: requestLog)
        return lines.map { $0.replacingOccurrences(of: "%3A", with: ":") }
    }
}

@Suite struct AdvisorySyncTests {
    /// `root/PyPI/all.zip` with the real records and their change list; `root/Debian:12/all.zip`
    /// with two synthetic records and no change list.
    static func export(_ scratch: Scratch) throws -> URL {
        let root = scratch.url.appendingPathComponent("osv")
        let pypi = root.appendingPathComponent("PyPI")
        try FileManager.default.createDirectory(at: pypi, withIntermediateDirectories: true)
        try Zip.make(pypi.appendingPathComponent("all.zip").path, SharedData.pypiFiles.map { ($0.lastPathComponent, $0.path) })
        var lines: [(String, String)] = []
        for file in SharedData.pypiFiles {
            let record = try OSVRecordParser.parse(try Data(contentsOf: file))
            lines.append((record.modified ?? "", record.id))
        }
        try (lines.sorted { $0.0 > $1.0 }.map { "\($0.0),PyPI/\($0.1)" }.joined(separator: "\n") + "\n")
            .write(to: pypi.appendingPathComponent("modified_id.csv"), atomically: true, encoding: .utf8)
        let debian = root.appendingPathComponent("Debian:12")
        try FileManager.default.createDirectory(at: debian, withIntermediateDirectories: true)
        let a = try scratch.write("d/a.json", Records.debian("DEBIAN-CVE-2099-0200", package: "zlib", fixed: "1:1.3"))
        let b = try scratch.write("d/b.json", Records.debian("DEBIAN-CVE-2099-0201", package: "openssl"))
        try Zip.make(debian.appendingPathComponent("all.zip").path, [("a.json", a), ("b.json", b)])
        return root
    }

    static func sync(_ base: URL, _ database: String, _ ecosystems: [String], stall: Double = 10) async throws -> [SyncOutcome]
    {
        var sync = AdvisorySync(base: base, database: database)
        sync.stallSeconds = stall
        return try await sync.run(ecosystems: ecosystems)
    }

    @Test func aFirstSyncFetchesArchivesAndLaterOnesOnlyWhatChanged() async throws {
        let scratch = try Scratch()
        let root = try Self.export(scratch)
        let server = try await OSVServer(root: root)
        let database = scratch.path("state/advisories.db")

        let first = try await Self.sync(server.base, database, ["PyPI", "Debian:12"])
        #expect(first.map(\.action) == [.downloaded, .downloaded])
        #expect(first.map(\.records) == [49, 2])
        #expect(
            server.requests() == [
                "GET /PyPI/all.zip 200", "GET /Debian:12/all.zip 200",
            ])
        let status = try AdvisoryDatabase(path: database)
        #expect(try status.recordsByEcosystem() == ["PyPI": 49, "Debian:12": 2])
        let sources = try status.sources()
        #expect(sources.map(\.name) == ["osv:Debian:12", "osv:PyPI"])
        #expect(sources.allSatisfy { $0.etag != nil && $0.lastModified != nil })

        // Nothing changed: PyPI reads its change list only; Debian:12 has none and gets a 304.
        let second = try await Self.sync(server.base, database, ["PyPI", "Debian:12"])
        #expect(second.map(\.action) == [.unchanged, .unchanged])
        #expect(
            server.requests() == [
                "GET /PyPI/modified_id.csv 200", "GET /Debian:12/modified_id.csv 404", "GET /Debian:12/all.zip 304",
            ])

        // One new record: only it is fetched.
        try scratch.write(
            "osv/PyPI/PYSEC-2099-1.json",
            """
            {"id": "PYSEC-2099-1", "modified": "2026-12-01T00:00:00Z", "aliases": ["CVE-2099-1000"],
             "affected": [{"package": {"ecosystem": "PyPI", "name": "Flask"},
                           "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "9.0"}]}]}]}
            """)
        let list = root.appendingPathComponent("PyPI/modified_id.csv")
        let old = try String(contentsOf: list, encoding: .utf8)
        try ("2026-12-01T00:00:00Z,PyPI/PYSEC-2099-1\n" + old).write(to: list, atomically: true, encoding: .utf8)
        let third = try await Self.sync(server.base, database, ["PyPI"])
        #expect(third.first?.action == .updated)
        #expect(third.first?.changed == 1)
        #expect(third.first?.records == 50)
        #expect(server.requests() == ["GET /PyPI/modified_id.csv 200", "GET /PyPI/PYSEC-2099-1.json 200"])
        let updated = try AdvisoryDatabase(path: database)
        #expect(try updated.entries(family: "PyPI", name: "flask").contains { $0.id == "PYSEC-2099-1" })
        // Debian:12 stays as the first sync left it.
        #expect(try updated.recordsByEcosystem()["Debian:12"] == 2)
    }

    /// A 500, a server that stalls, a body cut short, a 304 to a request that was not
    /// conditional: each is an error naming the URL, and the database is as it was.
    @Test(arguments: ["fail", "stall", "cut", "always304"])
    func aFailedSyncChangesNothing(fault: String) async throws {
        let scratch = try Scratch()
        let root = try Self.export(scratch)
        let server = try await OSVServer(root: root)
        let database = scratch.path("state/advisories.db")
        _ = try await Self.sync(server.base, database, ["PyPI"])
        let before = try Data(contentsOf: URL(fileURLWithPath: database))
        let faulty = server.base.appendingPathComponent(fault)
        // A fresh database for the 304 case: with nothing known, a 304 cannot be an answer.
        let target = fault == "always304" ? scratch.path("fresh/advisories.db") : database
        let started = ContinuousClock.now
        do {
            _ = try await Self.sync(faulty, target, ["PyPI"], stall: 1)
            Issue.record("a sync from /\(fault) succeeded")
        } catch {
            let text = String(describing: error)
            #expect(text.contains("127.0.0.1"), "\(text)")
            switch fault {
            case "fail": #expect(text.contains("HTTP 500"))
            case "stall": #expect(text.contains("timed out"))
            case "always304": #expect(text.contains("304"))
            default: break
            }
        }
        // Bounded, not timed: a stalled download that is never given up would not return.
        #expect(ContinuousClock.now - started < .seconds(120))
        #expect(try Data(contentsOf: URL(fileURLWithPath: database)) == before)
        #expect(!FileManager.default.fileExists(atPath: scratch.path("fresh/advisories.db")))
        let left = try FileManager.default.contentsOfDirectory(atPath: scratch.path("state"))
        #expect(left.filter { $0.contains(".new-") || $0.contains(".download-") }.isEmpty, "\(left)")
    }

    /// Every thread of the pool held for longer than the stall limit while a healthy server's
    /// body is on its way: the reader was not scheduled, the server was not silent, and the
    /// sync succeeds once the threads are free.
    @Test func aBusyProcessIsNotTakenForASilentServer() async throws {
        let scratch = try Scratch()
        let server = try await OSVServer(root: try Self.export(scratch))
        let slow = server.base.appendingPathComponent("slow")
        let database = scratch.path("state/advisories.db")
        async let outcome = Self.sync(slow, database, ["PyPI"], stall: 1)
        let asked = try await poll(seconds: 5) { server.requests().isEmpty ? nil : true }
        #expect(asked == true)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<ProcessInfo.processInfo.activeProcessorCount {
                group.addTask { usleep(2_500_000) }
            }
        }
        #expect(try await outcome.map(\.records) == [49])
    }
}
