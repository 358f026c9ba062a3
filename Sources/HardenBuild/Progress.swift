import Foundation

/// Progress of running builds on stderr: on a terminal one live line per stage
/// (step N/M, elapsed), otherwise one line per step; every log line with `verbose`.
public final class Progress: @unchecked Sendable {
    private let lock = NSLock()
    private let isTerminal: Bool
    private let verbose: Bool
    private let quiet: Bool
    private var liveLine = false

    public init(verbose: Bool = false, quiet: Bool = false) {
        self.isTerminal = isatty(2) == 1
        self.verbose = verbose
        self.quiet = quiet
    }

    /// A note on its own line.
    public func note(_ text: String) {
        guard !quiet else { return }
        lock.withLock {
            clearLive()
            write(text + "\n")
        }
    }

    /// Handles one output line of a stage; returns the handler for `DockerClient.build`.
    public func stageHandler(recipe: String, stage: String) -> @Sendable (String) -> Void {
        let started = ContinuousClock.now
        let lastStep = Locked("")
        return { [self] line in
            guard !quiet else { return }
            if verbose {
                note("[\(recipe) \(stage)] \(line)")
                return
            }
            guard let step = Self.step(in: line) else { return }
            let elapsed = ContinuousClock.now - started
            let text = "\(recipe) \(stage): step \(step) (\(Self.format(elapsed)))"
            lock.withLock {
                if isTerminal {
                    write("\r\u{1B}[K" + String(text.prefix(200)))
                    liveLine = true
                } else if lastStep.swap(step) != step {
                    write(text + "\n")
                }
            }
        }
    }

    /// "N/M" from a classic-builder (`Step 3/7 : RUN …`) or BuildKit (`#7 [builder 2/4] RUN …`) line.
    static func step(in line: String) -> String? {
        if let match = line.firstMatch(of: /^Step (\d+\/\d+) :/) { return String(match.1) }
        if let match = line.firstMatch(of: /^#\d+ \[[^\]]*?(\d+\/\d+)\]/) { return String(match.1) }
        return nil
    }

    static func format(_ duration: Duration) -> String {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return String(format: "%.1fs", seconds)
    }

    private func clearLive() {
        if liveLine {
            write("\r\u{1B}[K")
            liveLine = false
        }
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}

/// A value behind a lock, for the few places a closure shares state with the reader thread.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }

    /// Sets a new value and returns the old one.
    func swap(_ newValue: Value) -> Value {
        lock.withLock {
            let old = value
            value = newValue
            return old
        }
    }
}
