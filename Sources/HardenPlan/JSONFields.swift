import Foundation

/// Splits a JSON object that harden encoded itself into its top-level members,
/// each value kept as the exact bytes the encoder wrote. Used to hash recipe
/// fields one by one without decoding and re-encoding them.
enum JSONFields {
    static func split(_ data: Data) -> [(key: String, value: Data)] {
        let bytes = [UInt8](data)
        var members: [(key: String, value: Data)] = []
        var index = 0
        func skipSpace() {
            while index < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[index]) { index += 1 }
        }
        /// Moves past a string starting at `index` (a quote); returns its raw bytes without quotes.
        func string() -> ArraySlice<UInt8> {
            let start = index + 1
            index += 1
            while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
            }
            defer { index += 1 }
            return bytes[start..<min(index, bytes.count)]
        }
        func value() -> Range<Int> {
            let start = index
            var depth = 0
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "\""):
                    _ = string()
                    if depth == 0 { return start..<index }
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    if depth == 0 { return start..<index }
                    depth -= 1
                    if depth == 0 {
                        index += 1
                        return start..<index
                    }
                case UInt8(ascii: ","):
                    if depth == 0 { return start..<index }
                default:
                    break
                }
                index += 1
            }
            return start..<index
        }
        skipSpace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { return [] }
        index += 1
        while true {
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { break }
            let keyBytes = string()
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { break }
            index += 1
            skipSpace()
            let range = value()
            // Keys harden encodes are plain identifiers: no escapes to undo.
            members.append((String(decoding: keyBytes, as: UTF8.self), Data(bytes[range])))
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ",") else { break }
            index += 1
        }
        return members
    }
}
