import Foundation

/// One paragraph of a deb822 file (Debian Policy §5.1): field name → value, continuation
/// lines joined by `\n` (a multi-line field such as Release's `SHA256` starts with an empty line).
public struct Deb822Stanza: Sendable {
    public var fields: [String: String] = [:]
    /// Line of the stanza's first field, from 1.
    public var line: Int

    public subscript(_ name: String) -> String? { fields[name] }
}

/// deb822 paragraphs, read byte by byte so a 50 MB `Packages` index costs well under a second.
/// Field names match as Debian's tools write them (`Pre-Depends`, `SHA256`).
public enum Deb822 {
    /// The stanzas of `data`; with `keeping`, only those fields are stored (the others are
    /// still checked for syntax). `name` is used in errors.
    public static func stanzas(in data: Data, name: String, keeping: Set<String>? = nil) throws(DebianError)
        -> [Deb822Stanza]
    {
        var result: [Deb822Stanza] = []
        var failure: DebianError?
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let bytes = raw.bindMemory(to: UInt8.self)
            var current: Deb822Stanza?
            var field: String?  // the field continuation lines add to, when kept
            var inField = false
            var lineNumber = 0
            var start = 0
            let count = bytes.count
            while start < count {
                lineNumber += 1
                var end = start
                while end < count, bytes[end] != 10 { end += 1 }
                var lineEnd = end
                if lineEnd > start, bytes[lineEnd - 1] == 13 { lineEnd -= 1 }
                defer { start = end + 1 }
                let first = bytes[start]
                if lineEnd == start || isBlank(bytes, start, lineEnd) {
                    if let stanza = current { result.append(stanza) }
                    current = nil
                    field = nil
                    inField = false
                    continue
                }
                if first == 35 { continue }  // '#' comment
                if first == 32 || first == 9 {
                    guard inField else {
                        failure = DebianError(
                            .syntax, "\(name) line \(lineNumber): a continuation line without a field before it")
                        return
                    }
                    if let key = field {
                        var text = string(bytes, start, lineEnd)
                        text = String(text.drop(while: { $0 == " " || $0 == "\t" }))
                        // A lone "." stands for an empty line.
                        current?.fields[key, default: ""] += "\n" + (text == "." ? "" : text)
                    }
                    continue
                }
                var colon = start
                while colon < lineEnd, bytes[colon] != 58 { colon += 1 }
                guard colon < lineEnd, colon > start else {
                    failure = DebianError(
                        .syntax,
                        "\(name) line \(lineNumber): '\(string(bytes, start, min(lineEnd, start + 60)))' is not a 'Field: value' line"
                    )
                    return
                }
                if current == nil { current = Deb822Stanza(line: lineNumber) }
                inField = true
                let key = string(bytes, start, colon)
                guard keeping?.contains(key) ?? true else {
                    field = nil
                    continue
                }
                var valueStart = colon + 1
                while valueStart < lineEnd, bytes[valueStart] == 32 || bytes[valueStart] == 9 { valueStart += 1 }
                var valueEnd = lineEnd
                while valueEnd > valueStart, bytes[valueEnd - 1] == 32 || bytes[valueEnd - 1] == 9 { valueEnd -= 1 }
                current?.fields[key] = string(bytes, valueStart, valueEnd)
                field = key
            }
            if let stanza = current { result.append(stanza) }
        }
        if let failure { throw failure }
        return result
    }

    private static func isBlank(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        var index = start
        while index < end {
            if bytes[index] != 32 && bytes[index] != 9 { return false }
            index += 1
        }
        return true
    }

    private static func string(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
    }
}
