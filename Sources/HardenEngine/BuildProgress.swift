import Foundation
import HardenProcess

/// BuildProgress of running builds on stderr: on a terminal one live line per stage
/// (step N/M, elapsed), otherwise one line per step; every log line with `verbose`.
public final class BuildProgress: @unchecked Sendable {
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
    /// Called for every line a build prints, so it is plain scanning, no regular expression.
    static func step(in line: String) -> String? {
        let bytes = Array(line.utf8.prefix(512))
        if bytes.starts(with: Array("Step ".utf8)) {
            guard let end = fraction(bytes, from: 5), bytes[end...].starts(with: Array(" :".utf8)) else { return nil }
            return String(decoding: bytes[5..<end], as: UTF8.self)
        }
        // `#7 [builder 2/4] RUN …`: the first N/M right before the first `]`.
        guard bytes.first == UInt8(ascii: "#") else { return nil }
        var index = 1
        while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        guard index > 1, bytes[index...].starts(with: Array(" [".utf8)),
            let close = bytes[(index + 2)...].firstIndex(of: UInt8(ascii: "]"))
        else { return nil }
        var start = index + 2
        while start < close {
            if let end = fraction(bytes, from: start), end == close { return String(decoding: bytes[start..<end], as: UTF8.self) }
            start += 1
        }
        return nil
    }

    /// The end of `digits/digits` starting at `start`, if one starts there.
    private static func fraction(_ bytes: [UInt8], from start: Int) -> Int? {
        var index = start
        while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        guard index > start, index < bytes.count, bytes[index] == UInt8(ascii: "/") else { return nil }
        let denominator = index + 1
        index = denominator
        while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        return index > denominator ? index : nil
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    public static func format(_ duration: Duration) -> String {
        String(format: "%.1fs", duration.inSeconds)
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
