import Foundation
import Testing

@testable import HardenBuild

@Suite struct ProcessRunnerTests {
    @Test func aCommandPastItsTimeoutIsStoppedWithItsChildren() async throws {
        let pidFile = FileManager.default.temporaryDirectory.appendingPathComponent("harden-pid-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: pidFile) }
        let script = "sleep 30 & echo $! > '\(pidFile.path)'; sleep 30"
        let result = try await ProcessRunner().run(Command("sh", ["-c", script], timeout: .milliseconds(300)))
        #expect(result.ending == .timedOut)
        // The background child was in the same process group: it is gone too.
        let text = try String(contentsOf: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let child = try #require(pid_t(text))
        var alive = true
        for _ in 0..<100 where alive {
            alive = kill(child, 0) == 0
            if alive { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(!alive, "sleep \(child) outlived the timeout")
    }

    @Test func aCommandThatIgnoresSIGTERMIsKilledAfterItsGrace() async throws {
        let pidFile = FileManager.default.temporaryDirectory.appendingPathComponent("harden-pid-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: pidFile) }
        // Ignored signals stay ignored across exec: neither the shell nor its sleep stops on SIGTERM.
        let script = "trap '' TERM; sleep 120 & echo $! > '\(pidFile.path)'; wait"
        let result = try await ProcessRunner().run(Command("sh", ["-c", script], timeout: .milliseconds(300)))
        #expect(result.ending == .timedOut)
        let text = try String(contentsOf: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let child = try #require(pid_t(text))
        var alive = true
        for _ in 0..<100 where alive {
            alive = kill(child, 0) == 0
            if alive { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(!alive, "sleep \(child) survived SIGKILL")
    }

    /// A short command's output pipe must not leak into a long one started at the same time,
    /// or reading the short one's output would last as long as the long one. The long ones
    /// wait for a flag written only once every short one has returned; had a pipe leaked, a
    /// short one would never return and the long ones would end by their timeout instead.
    @Test func aShortCommandIsNotHeldByALongOneStartedBesideIt() async throws {
        let flag = FileManager.default.temporaryDirectory.appendingPathComponent("harden-flag-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: flag) }
        let runner = ProcessRunner()
        let wait = Command("sh", ["-c", "while [ ! -e '\(flag.path)' ]; do sleep 0.05; done"], timeout: .seconds(60))
        async let longOnes = withThrowingTaskGroup(of: ProcessResult.Ending.self) { group in
            for _ in 0..<8 { group.addTask { try await runner.run(wait).ending } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let outputs = try await withThrowingTaskGroup(of: String.self) { group in
            for index in 0..<8 { group.addTask { try await runner.run(Command("echo", ["\(index)"])).output } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(FileManager.default.createFile(atPath: flag.path, contents: nil))
        #expect(outputs.sorted() == (0..<8).map { "\($0)\n" }.sorted())
        #expect(
            try await longOnes == Array(repeating: .exited(0), count: 8), "the short commands returned while the long ones ran")
    }
}
