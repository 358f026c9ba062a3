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
    /// or reading the short one's output would last as long as the long one.
    @Test func aShortCommandIsNotHeldByALongOneStartedBesideIt() async throws {
        let runner = ProcessRunner()
        let started = ContinuousClock.now
        let shortOnes = try await withThrowingTaskGroup(of: (Bool, Duration).self) { group in
            for index in 0..<16 {
                group.addTask {
                    if index.isMultiple(of: 2) {
                        _ = try await runner.run(Command("sleep", ["8"]))
                        return (false, .zero)
                    }
                    let result = try await runner.run(Command("echo", ["\(index)"]))
                    #expect(result.output == "\(index)\n")
                    return (true, ContinuousClock.now - started)
                }
            }
            var durations: [Duration] = []
            for try await (short, duration) in group where short { durations.append(duration) }
            return durations
        }
        #expect(shortOnes.count == 8)
        #expect(shortOnes.allSatisfy { $0 < .seconds(6) }, "\(shortOnes)")
    }
}
