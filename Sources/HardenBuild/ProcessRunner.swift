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
        let (status, output) = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<(Int32, String), Never>) in
                let thread = Thread {
                    let output = process.drain(
                        limit: limit, deadline: deadline, onDeadline: { state.mark(.timedOut) }, onLine: onLine)
                    let status = process.wait()
                    state.finish()  // a timeout or cancel after this point no longer applies
                    continuation.resume(returning: (status, output))
                }
                thread.start()
            }
        } onCancel: {
            if state.mark(.cancelled) { process.terminateGroup() }
        }
        let ending: ProcessResult.Ending
        if let forced = state.forced {
            ending = forced
        } else if status & 0x7F == 0 {
            ending = .exited((status >> 8) & 0xFF)
        } else {
            ending = .signalled(status & 0x7F)
        }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return ProcessResult(ending: ending, output: output, seconds: seconds)
    }
}

/// Why a run was stopped from outside, set at most once and only while the process runs:
/// a timer that fires after the child ended (while the caller waits for a thread to resume
/// it) does not turn a finished run into a timed-out one.
private final class RunState: @unchecked Sendable {
    private let lock = NSLock()
    private var value: ProcessResult.Ending?
    private var finished = false

    /// False when the run had already ended or been stopped: then there is nothing to stop.
    @discardableResult
    func mark(_ ending: ProcessResult.Ending) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard value == nil, !finished else { return false }
        value = ending
        return true
    }

    func finish() {
        lock.lock()
        finished = true
        lock.unlock()
    }

    var forced: ProcessResult.Ending? {
        lock.lock()
        defer { lock.unlock() }
        return value
    }
}

/// A spawned child with its output pipe. Used from one reader thread plus signal senders.
private final class SpawnedProcess: @unchecked Sendable {
    /// Held from creating a pipe to spawning its child.
    private static let spawning = NSLock()
    let pid: pid_t
    private let readEnd: Int32
    private let log: FileHandle?

    init(command: Command, logFile: String?) throws(ProcessError) {
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

    /// Reads until the child closes its output; returns the kept output. At `deadline`, when
    /// `onDeadline` agrees (the run is still going), the group gets SIGTERM, then SIGKILL 5 s on.
    func drain(
        limit: Int, deadline: ContinuousClock.Instant?, onDeadline: () -> Bool, onLine: (@Sendable (String) -> Void)?
    ) -> String {
        var kept = Data()
        var pending = Data()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var nextAlarm = deadline
        var terminated = false
        while true {
            if let alarm = nextAlarm {
                let left = ContinuousClock.now.duration(to: alarm)
                if left <= .zero {
                    if terminated {
                        kill(-pid, SIGKILL)
                        nextAlarm = nil
                    } else if onDeadline() {
                        kill(-pid, SIGTERM)
                        terminated = true
                        nextAlarm = ContinuousClock.now + .seconds(5)
                    } else {
                        nextAlarm = nil
                    }
                    continue
                }
                var poller = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
                let milliseconds = Int32(
                    min(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1, 1000))
                if poll(&poller, 1, milliseconds) == 0 { continue }
            }
            let count = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
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
        }
        if let onLine, !pending.isEmpty { onLine(String(decoding: pending, as: UTF8.self)) }
        close(readEnd)
        try? log?.close()
        return String(decoding: kept, as: UTF8.self)
    }

    func wait() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return status
    }

    /// SIGTERM to the whole group, then SIGKILL if it is still there after 5 s.
    func terminateGroup() {
        let group = pid
        kill(-group, SIGTERM)
        DispatchQueue.global().asyncAfter(deadline: .now() + 5) {
            kill(-group, SIGKILL)
        }
    }
}
