import Foundation
import Subprocess

#if canImport(System)
    import System
#else
    import SystemPackage
#endif


/// A command to run: executable (looked up on PATH), arguments, extra environment.
public struct Command: Sendable, Equatable {
    public var executable: String
    public var arguments: [String]
    public var environment: [String: String]
    /// Killed (whole process group) after this long.
    public var timeout: Duration?

    public init(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], timeout: Duration? = nil
    ) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.timeout = timeout
    }

    public var displayString: String { ([executable] + arguments).joined(separator: " ") }
}

public struct ProcessResult: Sendable {
    public enum Ending: Sendable, Equatable {
        case exited(Int32)
        case signalled(Int32)
        case timedOut
        case cancelled
    }
    public var ending: Ending
    /// stdout and stderr together, as produced (capped).
    public var output: String
    /// From the call until the child was seen ended.
    public var seconds: Double

    public var succeeded: Bool { ending == .exited(0) }
}

/// Runs subprocesses. The one seam tests can replace to inject faults.
public protocol ProcessRunning: Sendable {
    /// Runs `command`, sending every output line to `onLine` and, when given, appending it to `logFile`.
    func run(_ command: Command, logFile: String?, onLine: (@Sendable (String) -> Void)?) async throws(ProcessError)
        -> ProcessResult
}

extension ProcessRunning {
    public func run(_ command: Command) async throws(ProcessError) -> ProcessResult {
        try await run(command, logFile: nil, onLine: nil)
    }
}

public struct ProcessError: Error, Sendable, CustomStringConvertible {
    public var command: String
    public var message: String
    public var description: String { "cannot run \(command): \(message)" }
}

/// Runs each command through swift-subprocess in its own process group, so a timeout or
/// Ctrl-C stops it and everything it started: SIGTERM to the group, SIGKILL 5 s on.
public struct ProcessRunner: ProcessRunning {
    /// How much output is kept in `ProcessResult.output` (the log file keeps everything).
    public var outputLimit: Int

    public init(outputLimit: Int = 4 << 20) {
        self.outputLimit = outputLimit
    }

    public func run(
        _ command: Command, logFile: String?, onLine: (@Sendable (String) -> Void)?
    ) async throws(ProcessError) -> ProcessResult {
        ChildStatus.keepWaitable
        func fail(_ message: String) -> ProcessError { ProcessError(command: command.executable, message: message) }
        guard let path = Self.resolve(command.executable) else {
            throw fail("'\(command.executable)' was not found on PATH")
        }
        var log: FileHandle?
        if let logFile {
            guard FileManager.default.createFile(atPath: logFile, contents: nil),
                let handle = FileHandle(forWritingAtPath: logFile)
            else { throw fail("cannot write the log file \(logFile)") }
            log = handle
        }
        var options = PlatformOptions()
        options.processGroupID = 0
        // What the library does when this task is cancelled: SIGTERM to the group, SIGKILL to it 5 s on.
        options.teardownSequence = [.send(signal: .terminate, toProcessGroup: true, allowedDurationToNextStep: .seconds(5))]
        var overrides: [Environment.Key: String?] = [:]
        for (key, value) in command.environment { overrides[Environment.Key(stringLiteral: key)] = value }
        let configuration = Configuration(
            executable: .path(FilePath(path)), arguments: Arguments(command.arguments),
            environment: .inherit.updating(overrides), platformOptions: options)
        let state = RunState()
        let asked = ContinuousClock.now
        let limit = outputLimit
        let kept = log
        do {
            let outcome = try await Subprocess.run(
                configuration, input: .none, output: .sequence, error: .combinedWithOutput
            ) { execution in
                // The deadline counts from the call: the library runs this closure on the task
                // pool, which a busy process can delay by seconds, and the command runs meanwhile.
                let deadline = command.timeout.map { asked + $0 }
                let leader = execution.processIdentifier
                // Read in a task of its own, so cancelling this one does not drop the output of a
                // command that is still being stopped. The library ends the read when the leader
                // exits, even if something outside the group (a setsid child) holds the pipe.
                let reading = Task {
                    var output = OutputLines(limit: limit, log: kept, onLine: onLine)
                    do {
                        for try await buffer in execution.standardOutput { output.take(buffer) }
                    } catch {}
                    output.finish()
                    return output.text
                }
                let ended = await withTaskCancellationHandler {
                    await GroupSupervisor.watch(leader: leader, deadline: deadline, state: state)
                } onCancel: {
                    state.stop(.cancelled) { kill(-leader.value, SIGTERM) }
                }
                return (output: await reading.value, seconds: (ended - asked).inSeconds)
            }
            let ending: ProcessResult.Ending
            switch (state.forced, outcome.terminationStatus) {
            case (let forced?, _): ending = forced
            case (nil, .exited(let code)): ending = .exited(code)
            case (nil, .signaled(let signal)): ending = .signalled(signal)
            }
            // Until the leader was seen ended, not until this task resumed: a busy pool can add seconds.
            return ProcessResult(ending: ending, output: outcome.closureResult.output, seconds: outcome.closureResult.seconds)
        } catch let error as SubprocessError {
            try? log?.close()
            if state.lostStatus {
                throw fail("its exit status was taken by something else in this process (is SIGCHLD ignored?)")
            }
            throw fail(String(describing: error))
        } catch {
            try? log?.close()
            throw fail(String(describing: error))
        }
    }

    private static func resolve(_ executable: String) -> String? {
        if executable.contains("/") { return access(executable, X_OK) == 0 ? executable : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(executable)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}

/// Children must stay waitable: with SIGCHLD ignored (inherited across exec) the kernel reaps
/// them itself and their exit status is lost.
private enum ChildStatus {
    static let keepWaitable: Void = {
        var current = sigaction()
        if sigaction(SIGCHLD, nil, &current) == 0,
            unsafeBitCast(current.__sigaction_handler.sa_handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self)
        {
            signal(SIGCHLD, SIG_DFL)
        }
    }()
}

/// Why and when a run was stopped from outside, set at most once and only while the leader
/// is not yet reaped: a stop that comes after it ended does not turn a finished run into a
/// timed-out one, and no signal can reach a process group whose ID was handed out again.
private final class RunState: @unchecked Sendable {
    private let lock = NSLock()
    private var value: ProcessResult.Ending?
    private var stopTime: ContinuousClock.Instant?
    private var finished = false
    private var lost = false

    /// Records the stop and runs `signal`, unless the run had already ended or been stopped.
    func stop(_ ending: ProcessResult.Ending, _ signal: () -> Void) {
        lock.lock()
        defer { lock.unlock() }
        guard value == nil, !finished else { return }
        value = ending
        stopTime = .now
        signal()
    }

    /// Marks the run ended; `last` (told whether it was stopped) runs before anything else can stop it.
    func finish(lostStatus: Bool = false, _ last: (Bool) -> Void) {
        lock.lock()
        defer { lock.unlock() }
        finished = true
        lost = lostStatus
        last(value != nil)
    }

    var forced: ProcessResult.Ending? { lock.withLock { value } }
    var stoppedAt: ContinuousClock.Instant? { lock.withLock { stopTime } }
    var lostStatus: Bool { lock.withLock { lost } }
}

/// The part swift-subprocess leaves to its caller, on a thread of its own so a busy task pool
/// cannot make it late: the deadline (the library has none); SIGKILL to the group 5 s after
/// any stop; and, once a stopped leader has exited, SIGKILL to the rest of its group before
/// the library reaps it (the library's teardown ends when the leader exits, and would leave
/// a child that ignores SIGTERM running).
private enum GroupSupervisor {
    static func watch(
        leader: ProcessIdentifier, deadline: ContinuousClock.Instant?, state: RunState
    ) async -> ContinuousClock.Instant {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: supervise(leader: leader, deadline: deadline, state: state)) }
                .start()
        }
    }

    private static func supervise(
        leader: ProcessIdentifier, deadline: ContinuousClock.Instant?, state: RunState
    ) -> ContinuousClock.Instant {
        let group = -leader.value
        var killed = false
        while true {
            // Looked at first: a leader that ended just before its deadline did not time out.
            switch status(of: leader.value) {
            case .ended:
                state.finish { stopped in
                    if stopped { kill(group, SIGKILL) }
                }
                return .now
            case .lost:
                state.finish(lostStatus: true) { _ in }
                return .now
            case .running:
                break
            }
            let now = ContinuousClock.now
            if let deadline, now >= deadline { state.stop(.timedOut) { kill(group, SIGTERM) } }
            var alarm = state.forced == nil ? deadline : nil
            if let stoppedAt = state.stoppedAt {
                if !killed, now >= stoppedAt + .seconds(5) {
                    kill(group, SIGKILL)
                    killed = true
                }
                alarm = killed ? nil : stoppedAt + .seconds(5)
            }
            // At most a second between looks (50 ms without a process descriptor to wait on).
            let most: Duration = leader.processDescriptor >= 0 ? .seconds(1) : .milliseconds(50)
            let milliseconds = (alarm.map { now.duration(to: $0) } ?? most).pollMilliseconds(atMost: most)
            var exit = pollfd(fd: leader.processDescriptor, events: Int16(POLLIN), revents: 0)
            _ = poll(&exit, 1, milliseconds)
        }
    }

    private enum Leader { case running, ended, lost }

    /// Whether the leader has ended, seen without reaping it, so its group ID stays its own.
    private static func status(of pid: pid_t) -> Leader {
        var info = siginfo_t()
        if waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 {
            return info.si_signo != 0 ? .ended : .running
        }
        return errno == EINTR ? .running : .lost
    }
}

/// A child's output as it arrives: kept up to a limit, appended to the log, split into lines.
private struct OutputLines {
    let limit: Int
    let log: FileHandle?
    let onLine: (@Sendable (String) -> Void)?
    private var kept = Data()
    private var pending = Data()

    init(limit: Int, log: FileHandle?, onLine: (@Sendable (String) -> Void)?) {
        self.limit = limit
        self.log = log
        self.onLine = onLine
    }

    var text: String { String(decoding: kept, as: UTF8.self) }

    mutating func take(_ buffer: SubprocessOutputSequence.Buffer) {
        let chunk = buffer.withUnsafeBytes { Data($0) }
        log?.write(chunk)
        if kept.count < limit { kept.append(chunk.prefix(limit - kept.count)) }
        if let onLine {
            pending.append(chunk)
            while let newline = pending.firstIndex(where: { $0 == 10 || $0 == 13 }) {
                let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                pending.removeSubrange(pending.startIndex...newline)
                if !line.isEmpty { onLine(line) }
            }
        }
    }

    mutating func finish() {
        if let onLine, !pending.isEmpty { onLine(String(decoding: pending, as: UTF8.self)) }
        pending = Data()
        try? log?.close()
    }
}
