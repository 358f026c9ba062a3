import Foundation
import Synchronization

/// SIGINT and SIGTERM for the whole process.
///
/// A signal handler only writes the signal's number to a pipe (all a handler may safely do); a
/// thread reads the pipe. While a task is registered with `cancelling(_:)`, a signal cancels it
/// (the running `docker build` is stopped and the build recorded as interrupted); with nothing
/// registered the process dies of the signal as it would by default. A handler rather than
/// blocking and `sigwait`, because the Swift runtime parks the main thread in `sigsuspend` with
/// every signal unblocked.
public enum StopSignals {
    private static let handlers = Mutex<[UInt64: @Sendable () -> Void]>([:])
    private static let counter = Atomic<UInt64>(0)

    /// Call first thing in `main`, before any task starts.
    public static func install() {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { return }  // without a pipe the signals keep their default action
        _ = fcntl(ends[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC)
        stopSignalPipe = ends[1]
        let reader = ends[0]
        let waiter = Thread {
            var number: UInt8 = 0
            while true {
                let count = read(reader, &number, 1)
                if count == 1 { deliver(Int32(number)) } else if count == 0 || errno != EINTR { return }
            }
        }
        waiter.name = "harden-signals"
        waiter.start()
        for number in [SIGINT, SIGTERM] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in
                var byte = UInt8(truncatingIfNeeded: number)
                _ = write(stopSignalPipe, &byte, 1)
            }
            action.sa_flags = SA_RESTART
            sigemptyset(&action.sa_mask)
            sigaction(number, &action, nil)
        }
    }

    /// Runs `work` as a task that SIGINT or SIGTERM cancel, and returns what it returns.
    static func cancellable<T: Sendable>(_ work: sending @escaping () async -> T) async -> T {
        let task = Task { await work() }
        let registration = cancelling(task)
        let value = await task.value
        withExtendedLifetime(registration) {}
        return value
    }

    /// Cancels `task` on SIGINT or SIGTERM until the returned registration is released.
    private static func cancelling<T: Sendable>(_ task: Task<T, Never>) -> Registration {
        let id = counter.add(1, ordering: .relaxed).newValue
        handlers.withLock { $0[id] = { task.cancel() } }
        return Registration(id: id)
    }

    /// Keeps a task registered while alive.
    final class Registration: Sendable {
        fileprivate let id: UInt64
        fileprivate init(id: UInt64) { self.id = id }
        deinit { _ = StopSignals.handlers.withLock { $0.removeValue(forKey: id) } }
    }

    private static func deliver(_ number: Int32) {
        let registered = handlers.withLock { Array($0.values) }
        guard !registered.isEmpty else {
            // Nothing to stop cleanly: die of the signal, as without harden's handling.
            signal(number, SIG_DFL)
            kill(getpid(), number)
            return
        }
        FileHandle.standardError.write(
            Data("\nharden: stopping (signal \(number))\n".utf8))
        for cancel in registered { cancel() }
    }
}

/// The write end of the signal pipe; a plain global, read by the signal handler.
nonisolated(unsafe) private var stopSignalPipe: Int32 = -1
