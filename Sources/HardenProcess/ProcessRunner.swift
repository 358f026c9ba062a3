import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
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
    /// From the spawn until the child was reaped.
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

/// Spawns each command in its own process group, so a timeout or Ctrl-C stops
/// it and everything it started.
public struct ProcessRunner: ProcessRunning {
    /// How much output is kept in `ProcessResult.output` (the log file keeps everything).
    public var outputLimit: Int

    public init(outputLimit: Int = 4 << 20) {
        self.outputLimit = outputLimit
    }

    public func run(
        _ command: Command, logFile: String?, onLine: (@Sendable (String) -> Void)?
    ) async throws(ProcessError) -> ProcessResult {
        let started = ContinuousClock.now
        let process = try SpawnedProcess(command: command, logFile: logFile)
        let state = RunState()
        // The reader thread keeps the deadline itself: a timer on Dispatch's global queue
        // fires late, or after the child ended, when busy tasks hold that queue's threads.
        let deadline = command.timeout.map { started + $0 }
        let limit = outputLimit
        let (status, output, ended) = await withTaskCancellationHandler {
            await withCheckedContinuation {
                (continuation: CheckedContinuation<(Int32?, String, ContinuousClock.Instant), Never>) in
                Thread {
                    continuation.resume(
                        returning: process.supervise(limit: limit, deadline: deadline, state: state, onLine: onLine))
                }.start()
            }
        } onCancel: {
            state.stop(.cancelled) { process.signalGroup(SIGTERM) }
        }
        guard let status else {
            throw ProcessError(
                command: command.executable,
                message: "its exit status was taken by something else in this process (is SIGCHLD ignored?)")
        }
        let ending: ProcessResult.Ending
        if let forced = state.forced {
            ending = forced
        } else if status & 0x7F == 0 {
            ending = .exited((status >> 8) & 0xFF)
        } else {
            ending = .signalled(status & 0x7F)
        }
        // Until the child was reaped, not until this task resumed: a busy pool can add seconds.
        return ProcessResult(ending: ending, output: output, seconds: (ended - started).inSeconds)
    }
}

/// Why and when a run was stopped from outside, set at most once and only while the child
/// is not yet reaped: a stop that comes after it ended does not turn a finished run into a
/// timed-out one, and no signal can reach a process group whose ID was handed out again.
private final class RunState: @unchecked Sendable {
    private let lock = NSLock()
    private var value: ProcessResult.Ending?
    private var stopTime: ContinuousClock.Instant?
    private var finished = false

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
    func finish(_ last: (Bool) -> Void) {
        lock.lock()
        defer { lock.unlock() }
        finished = true
        last(value != nil)
    }

    var forced: ProcessResult.Ending? { lock.withLock { value } }
    var stoppedAt: ContinuousClock.Instant? { lock.withLock { stopTime } }
}

/// A spawned child with its output pipe. Used from one reader thread plus signal senders.
private final class SpawnedProcess: @unchecked Sendable {
    /// Held from creating a pipe to spawning its child.
    private static let spawning = NSLock()
    let pid: pid_t
    private let readEnd: Int32
    private let log: FileHandle?

    /// Children must stay waitable: with SIGCHLD ignored (inherited across exec) the kernel reaps
    /// them itself and their exit status is lost.
    private static let waitableChildren: Void = {
        var current = sigaction()
        if sigaction(SIGCHLD, nil, &current) == 0,
            unsafeBitCast(current.__sigaction_handler.sa_handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self)
        {
            signal(SIGCHLD, SIG_DFL)
        }
    }()

    init(command: Command, logFile: String?) throws(ProcessError) {
        Self.waitableChildren
        func fail(_ message: String) -> ProcessError { ProcessError(command: command.executable, message: message) }
        guard let path = Self.resolve(command.executable) else {
            throw fail("'\(command.executable)' was not found on PATH")
        }
        if let logFile {
            guard FileManager.default.createFile(atPath: logFile, contents: nil),
                let handle = FileHandle(forWritingAtPath: logFile)
            else { throw fail("cannot write the log file \(logFile)") }
            log = handle
        } else {
            log = nil
        }
        // Close-on-exec, set before any other spawn can run: a child spawned meanwhile must not
        // inherit the write end, or this read would wait for that child to end too.
        var fds: [Int32] = [0, 0]
        Self.spawning.lock()
        defer { Self.spawning.unlock() }
        guard pipe(&fds) == 0 else { throw fail("pipe failed: \(String(cString: strerror(errno)))") }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        posix_spawn_file_actions_addclose(&actions, fds[1])
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setpgroup(&attributes, 0)
        var defaultSignals = sigset_t()
        sigemptyset(&defaultSignals)
        sigaddset(&defaultSignals, SIGINT)
        sigaddset(&defaultSignals, SIGTERM)
        sigaddset(&defaultSignals, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaultSignals)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        var environment = ProcessInfo.processInfo.environment
        for (key, value) in command.environment { environment[key] = value }
        let argv = ([path] + command.arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var child: pid_t = 0
        let status = posix_spawn(&child, path, &actions, &attributes, argv, envp)
        close(fds[1])
        guard status == 0 else {
            close(fds[0])
            throw fail("posix_spawn failed: \(String(cString: strerror(status)))")
        }
        pid = child
        readEnd = fds[0]
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

    /// Reads the child's output until it closes, then waits for the child to end; returns its wait
    /// status (nil when something else took it), the kept output and when it ended. At `deadline`
    /// the group gets SIGTERM; 5 s after any stop (deadline or cancel), SIGKILL, and 2 s after that
    /// the output is no longer waited for. A stopped child's group is killed when the child ends.
    func supervise(
        limit: Int, deadline: ContinuousClock.Instant?, state: RunState, onLine: (@Sendable (String) -> Void)?
    ) -> (status: Int32?, output: String, ended: ContinuousClock.Instant) {
        var output = OutputLines(limit: limit, log: log, onLine: onLine)
        var outputOpen = true
        var killedAt: ContinuousClock.Instant?
        var nap = 1
        while true {
            if !outputOpen {
                // Looked at first: a child that ended just before its deadline did not time out.
                switch leader() {
                case .running:
                    break
                case .ended:
                    state.finish { stopped in
                        if stopped && killedAt == nil { signalGroup(SIGKILL) }
                    }
                    var status: Int32 = 0
                    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                    return (status, output.text, .now)
                case .lost:
                    state.finish { _ in }
                    return (nil, output.text, .now)
                }
            }
            let now = ContinuousClock.now
            if let deadline, now >= deadline { state.stop(.timedOut) { signalGroup(SIGTERM) } }
            var alarm = state.forced == nil ? deadline : nil
            if let stoppedAt = state.stoppedAt {
                if killedAt == nil, now >= stoppedAt + .seconds(5) {
                    signalGroup(SIGKILL)
                    killedAt = now
                }
                // Nothing of the group outlives SIGKILL: whoever still holds the output is outside
                // it (a daemon, a setsid child) and is not waited for.
                if let killedAt, outputOpen, now >= killedAt + .seconds(2) {
                    output.finish()
                    close(readEnd)
                    outputOpen = false
                    continue
                }
                alarm = killedAt.map { $0 + .seconds(2) } ?? stoppedAt + .seconds(5)
            }
            // At most a second between looks, so a cancel's SIGKILL is never late by more.
            let milliseconds = (alarm.map { now.duration(to: $0) } ?? .seconds(1)).pollMilliseconds(atMost: .seconds(1))
            if outputOpen {
                var poller = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
                let ready = poll(&poller, 1, milliseconds)
                let pollError = errno
                if ready == 0 || (ready < 0 && pollError == EINTR) { continue }
                let read = ready > 0 ? output.read(from: readEnd) : -1
                let readError = ready > 0 ? errno : pollError
                if read < 0 && (readError == EINTR || readError == EAGAIN) { continue }
                if read <= 0 {  // the end of the output, or a pipe that cannot be read
                    output.finish()
                    close(readEnd)
                    outputOpen = false
                }
            } else {
                usleep(UInt32(min(nap, Int(milliseconds)) * 1000))
                nap = min(nap * 2, 50)
            }
        }
    }

    private enum Leader { case running, ended, lost }

    /// Whether the child has ended, seen without reaping it, so its group ID stays its own.
    private func leader() -> Leader {
        var info = siginfo_t()
        if waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 {
            return info.si_signo != 0 ? .ended : .running
        }
        return errno == EINTR ? .running : .lost
    }

    func signalGroup(_ signal: Int32) {
        kill(-pid, signal)
    }
}

/// A child's output as it arrives: kept up to a limit, appended to the log, split into lines.
private struct OutputLines {
    let limit: Int
    let log: FileHandle?
    let onLine: (@Sendable (String) -> Void)?
    private var kept = Data()
    private var pending = Data()
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)

    init(limit: Int, log: FileHandle?, onLine: (@Sendable (String) -> Void)?) {
        self.limit = limit
        self.log = log
        self.onLine = onLine
    }

    var text: String { String(decoding: kept, as: UTF8.self) }

    /// One read(2) from `descriptor`; its result.
    mutating func read(from descriptor: Int32) -> Int {
        let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { return count }
        let chunk = Data(buffer[0..<count])
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
        return count
    }

    mutating func finish() {
        if let onLine, !pending.isEmpty { onLine(String(decoding: pending, as: UTF8.self)) }
        pending = Data()
        try? log?.close()
    }
}
