import Foundation
import Testing

@testable import HardenProcess

@Suite struct ProcessRunnerTests {
    /// Whether `pid` is gone (or a zombie) within five seconds.
    func ends(_ pid: pid_t) async throws -> Bool {
        for _ in 0..<100 {
            let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            let state = stat.split(separator: ")").last?.split(separator: " ").first
            if stat.isEmpty || state == "Z" { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    func pid(in file: URL) throws -> pid_t {
        let text = try String(contentsOf: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        return try #require(pid_t(text))
    }

    /// Sleeps are long (300 s) so that a task pool that other suites keep busy for tens of seconds
    /// (seen in CI: 32 s) delays these runs but cannot let a sleep end by itself first; deadlines
    /// are a few seconds so a loaded machine still starts the script's first line before them.
    ///
    /// A timed-out command's whole group goes: a background child; a group that ignores SIGTERM
    /// (SIGKILL 5 s on); a child that ignores SIGTERM and no longer holds the output, whose
    /// parent ends on SIGTERM (killed with it). PIDFILE gets the child's pid.
    @Test(arguments: [
        "sleep 300 & echo $! > PIDFILE; sleep 300",
        "trap '' TERM; sleep 120 & echo $! > PIDFILE; wait",
        "(trap '' TERM; exec sleep 120 >/dev/null 2>&1) & echo $! > PIDFILE; wait",
    ])
    func aTimedOutCommandLeavesNoChildBehind(script: String) async throws {
        let pidFile = FileManager.default.temporaryDirectory.appendingPathComponent("harden-pid-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: pidFile) }
        let command = script.replacingOccurrences(of: "PIDFILE", with: "'\(pidFile.path)'")
        let result = try await ProcessRunner().run(Command("sh", ["-c", command], timeout: .seconds(3)))
        #expect(result.ending == .timedOut)
        let child = try pid(in: pidFile)
        #expect(try await ends(child), "sleep \(child) outlived its stopped group")
    }

    /// A command that closed its output is still held to its deadline.
    @Test func aCommandWithItsOutputClosedStillTimesOut() async throws {
        let result = try await ProcessRunner().run(
            Command("sh", ["-c", "exec >/dev/null 2>&1; sleep 300"], timeout: .milliseconds(300)))
        // Stopped, not ended by itself: the sleep did not run out. (How soon is not asserted: a
        // task pool busy with other suites can start the supervision seconds late.)
        #expect(result.ending == .timedOut)
    }

    /// A process outside the group (setsid) that keeps the output open does not hold the run:
    /// the run ends when the command ends, by itself or stopped at its deadline.
    /// The deadline of the run that ends by itself is far off: held output would show as a time-out.
    @Test(arguments: [("", ProcessResult.Ending.exited(0), 60.0), ("; sleep 300", .timedOut, 3.0)])
    func outputHeldOutsideTheGroupDoesNotHoldTheRun(rest: String, ending: ProcessResult.Ending, deadline: Double)
        async throws
    {
        let pidFile = FileManager.default.temporaryDirectory.appendingPathComponent("harden-pid-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: pidFile) }
        let script =
            "setsid sh -c 'echo $$ > \"$0\"; exec sleep 600' '\(pidFile.path)' & while [ ! -s '\(pidFile.path)' ]; do sleep 0.05; done"
            + rest
        let result = try await ProcessRunner().run(Command("sh", ["-c", script], timeout: .seconds(deadline)))
        let holder = try pid(in: pidFile)
        kill(holder, SIGKILL)
        #expect(result.ending == ending)
        // Not held until the holder's sleep ends (how soon is not asserted: see above).
        #expect(result.seconds < 300)
    }

    /// Cancelling a command that ignores SIGTERM and closed its output still ends it (SIGKILL 5 s on).
    @Test func aCancelledCommandThatIgnoresSIGTERMIsKilled() async throws {
        let run = Task {
            try await ProcessRunner().run(Command("sh", ["-c", "trap '' TERM; exec >/dev/null 2>&1; sleep 60"]))
        }
        try await Task.sleep(for: .milliseconds(300))
        run.cancel()
        let result = try await run.value
        #expect(result.ending == .cancelled)
        // Not held until the holder's sleep ends (how soon is not asserted: see above).
        #expect(result.seconds < 300)
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
