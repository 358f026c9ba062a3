/// Hand-written matchers for the small grammars recipe values follow (names,
/// image references, durations). Recipes are loaded by the thousand, and
/// compiling a regular expression per value cost more than parsing the YAML.
enum Grammar {
    /// A set of ASCII bytes.
    struct Bytes {
        private var low: UInt64 = 0
        private var high: UInt64 = 0

        init(_ members: String) {
            var previous: UInt8?
            var range = false
            for byte in members.utf8 {
                if byte == UInt8(ascii: "~"), previous != nil {
                    range = true
                    continue
                }
                if range, let start = previous {
                    for member in start...byte { insert(member) }
                    range = false
                } else {
                    insert(byte)
                }
                previous = byte
            }
        }

        private mutating func insert(_ byte: UInt8) {
            if byte < 64 { low |= 1 << UInt64(byte) } else if byte < 128 { high |= 1 << UInt64(byte - 64) }
        }

        func contains(_ byte: UInt8) -> Bool {
            byte < 64 ? low & (1 << UInt64(byte)) != 0 : byte < 128 && high & (1 << UInt64(byte - 64)) != 0
        }

        // Ranges are written `a~z` (so that `-` can be a member).
        static let lowerDigits = Bytes("a~z0~9")
        static let nameRest = Bytes("a~z0~9._-")
        static let letters = Bytes("a~zA~Z")
        static let alphanumerics = Bytes("a~zA~Z0~9")
        static let envFirst = Bytes("a~zA~Z_")
        static let envRest = Bytes("a~zA~Z0~9_")
        static let labelRest = Bytes("a~zA~Z0~9._/-")
        static let stageRest = Bytes("a~zA~Z0~9_.-")
        static let userFirst = Bytes("a~zA~Z0~9_")
        static let userRest = Bytes("a~zA~Z0~9_.-")
        static let hostInner = Bytes("a~zA~Z0~9-")
        static let lowerHex = Bytes("a~f0~9")
        static let digits = Bytes("0~9")
    }

    /// One `first` byte, then up to `maxLength - 1` bytes from `rest`.
    static func token(_ value: some StringProtocol, first: Bytes, rest: Bytes, maxLength: Int) -> Bool {
        var count = 0
        for byte in value.utf8 {
            guard count == 0 ? first.contains(byte) : rest.contains(byte) else { return false }
            count += 1
            if count > maxLength { return false }
        }
        return count > 0
    }

    /// `name[:group]`, each `[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}`.
    static func user(_ value: String) -> Bool {
        let parts = value.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        return parts.allSatisfy { token($0, first: .userFirst, rest: .userRest, maxLength: 32) }
    }

    /// `([0-9]+(ms|s|m|h))+`, as Docker's HEALTHCHECK durations.
    static func duration(_ value: String) -> Bool {
        let bytes = Array(value.utf8)
        var index = 0
        guard !bytes.isEmpty else { return false }
        while index < bytes.count {
            let start = index
            while index < bytes.count, Bytes.digits.contains(bytes[index]) { index += 1 }
            guard index > start, index < bytes.count else { return false }
            switch bytes[index] {
            case UInt8(ascii: "m"):
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "s") { index += 1 }
            case UInt8(ascii: "s"), UInt8(ascii: "h"):
                index += 1
            default:
                return false
            }
        }
        return true
    }

    /// `NNNN-NN-NN`.
    static func isoDate(_ value: String) -> Bool {
        let bytes = Array(value.utf8)
        guard bytes.count == 10 else { return false }
        for (index, byte) in bytes.enumerated() {
            let ok = index == 4 || index == 7 ? byte == UInt8(ascii: "-") : Bytes.digits.contains(byte)
            if !ok { return false }
        }
        return true
    }

    /// `[host[:port]/]component(/component)*[:tag][@sha256:hex]`, the reference grammar of the
    /// distribution project: components are lowercase alphanumeric runs joined by `.`, `_`, `__` or dashes.
    static func imageReference(_ value: String) -> Bool {
        var rest = Substring(value)
        if let at = rest.firstIndex(of: "@") {
            let digest = rest[rest.index(after: at)...]
            guard digest.hasPrefix("sha256:"), digest.utf8.count == 71,
                token(digest.dropFirst(7), first: .lowerHex, rest: .lowerHex, maxLength: 64)
            else { return false }
            rest = rest[..<at]
        }
        let lastSlash = rest.lastIndex(of: "/") ?? rest.startIndex
        if let colon = rest[lastSlash...].lastIndex(of: ":") {
            guard token(rest[rest.index(after: colon)...], first: .userFirst, rest: .userRest, maxLength: 128) else {
                return false
            }
            rest = rest[..<colon]
        }
        let parts = rest.split(separator: "/", omittingEmptySubsequences: false)
        if parts.allSatisfy(component) { return true }
        return parts.count > 1 && host(parts[0]) && parts.dropFirst().allSatisfy(component)
    }

    /// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
    private static func component(_ value: Substring) -> Bool {
        var separator: [UInt8] = []
        var sawAlphanumeric = false
        for byte in value.utf8 {
            if Bytes.lowerDigits.contains(byte) {
                if !separator.isEmpty {
                    guard sawAlphanumeric, validSeparator(separator) else { return false }
                    separator.removeAll(keepingCapacity: true)
                }
                sawAlphanumeric = true
            } else if byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") {
                separator.append(byte)
            } else {
                return false
            }
        }
        return sawAlphanumeric && separator.isEmpty
    }

    private static func validSeparator(_ bytes: [UInt8]) -> Bool {
        bytes == [UInt8(ascii: ".")] || bytes == [UInt8(ascii: "_")] || bytes == [UInt8(ascii: "_"), UInt8(ascii: "_")]
            || bytes.allSatisfy { $0 == UInt8(ascii: "-") }
    }

    /// Dot-separated labels of `[a-zA-Z0-9-]` that neither start nor end with `-`, then an optional `:port`.
    private static func host(_ value: Substring) -> Bool {
        var name = value
        if let colon = value.firstIndex(of: ":") {
            guard token(value[value.index(after: colon)...], first: .digits, rest: .digits, maxLength: 5) else { return false }
            name = value[..<colon]
        }
        return name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            guard let first = label.utf8.first, let last = label.utf8.last else { return false }
            return Bytes.alphanumerics.contains(first) && Bytes.alphanumerics.contains(last)
                && label.utf8.allSatisfy { Bytes.hostInner.contains($0) }
        }
    }
}
