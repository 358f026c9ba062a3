import Foundation
import Testing

@testable import HardenBuild

@Suite struct ProcessRunnerTests {
    @Test func aCommandPastItsTimeoutIsStoppedWithItsChildren() async throws {
        let started = ContinuousClock.now
        let result = try await ProcessRunner().run(Command("sh", ["-c", "sleep 30 & sleep 30"], timeout: .milliseconds(300)))
        #expect(result.ending == .timedOut)
        #expect(ContinuousClock.now - started < .seconds(10), "the whole process group is stopped, not waited for")
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
        FileManager.default.createFile(atPath: flag.path, contents: nil)
        #expect(outputs.sorted() == (0..<8).map { "\($0)\n" }.sorted())
        #expect(
            try await longOnes == Array(repeating: .exited(0), count: 8), "the short commands returned while the long ones ran")
    }
}
