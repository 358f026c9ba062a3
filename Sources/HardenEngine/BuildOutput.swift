import Foundation
import HardenProcess

/// The engine's build output, a stream of JSON messages, turned into the text the client
/// prints: written to the log as it comes, each line to `onLine`, the image ID and any error kept.
final class BuildOutput: @unchecked Sendable {
    private let log: FileHandle
    private let onLine: (@Sendable (String) -> Void)?
    private var pending: [UInt8] = []
    private var text: [UInt8] = []
    private var lastLines: [String] = []
    /// The whole answer, kept only while it is small (for an error answer that is not a stream).
    private(set) var raw: [UInt8] = []
    private(set) var imageID: String?
    /// The engine reported an error (a failed step, a bad Dockerfile); its text is in the tail.
    private(set) var failed = false

    init(log: FileHandle, onLine: (@Sendable (String) -> Void)?) {
        self.log = log
        self.onLine = onLine
    }

    var tail: String { lastLines.joined(separator: "\n") }

    func take<Bytes: Collection<UInt8>>(_ bytes: Bytes) {
        if raw.count < 64 << 10 { raw.append(contentsOf: bytes.prefix(64 << 10 - raw.count)) }
        pending.append(contentsOf: bytes)
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            let line = pending[..<newline]
            pending.removeSubrange(...newline)
            message(Data(line))
        }
    }

    func finish() {
        if !pending.isEmpty { message(Data(pending)) }
        pending = []
        if !text.isEmpty { emit(Array(text) + [UInt8(ascii: "\n")]) }
    }

    /// A line of harden's own in the log (an error answer's message).
    func record(_ line: String) {
        emit(Array((line + "\n").utf8))
    }

    private func message(_ line: Data) {
        guard line.contains(where: { $0 != 0x20 && $0 != 0x0D }),
            let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any]
        else { return }
        if let stream = object["stream"] as? String { emit(Array(stream.utf8)) }
        if let status = object["status"] as? String {
            let id = (object["id"] as? String).map { "\($0): " } ?? ""
            emit(Array("\(id)\(status)\n".utf8))
        }
        if let aux = object["aux"] as? [String: Any], let id = aux["ID"] as? String { imageID = id }
        if let error = object["error"] as? String {
            failed = true
            emit(Array((error + "\n").utf8))
        }
    }

    /// Writes text to the log and hands each completed line on.
    private func emit(_ bytes: [UInt8]) {
        log.write(Data(bytes))
        text.append(contentsOf: bytes)
        while let newline = text.firstIndex(of: UInt8(ascii: "\n")) {
            let line = String(decoding: text[..<newline], as: UTF8.self)
            text.removeSubrange(...newline)
            lastLines.append(line)
            if lastLines.count > 15 { lastLines.removeFirst() }
            onLine?(line)
        }
    }
}
