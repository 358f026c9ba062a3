import Foundation

/// Python package versions, ordered as PEP 440 says:
/// `[N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]`, with the spec's normalisations
/// (`alpha`→`a`, `c`/`pre`/`preview`→`rc`, `-N`/`rev`/`r`→post, implicit numbers are 0,
/// separators `.`, `-`, `_` optional, a leading `v`). Developmental releases sort before
/// pre-releases, pre-releases before the final release, post-releases after it.
public struct PythonVersion: Sendable, Comparable, CustomStringConvertible {
    public let epoch: VersionNumber
    public let release: [VersionNumber]
    public let pre: (kind: Int, number: VersionNumber)?
    public let post: VersionNumber?
    public let dev: VersionNumber?
    public let local: [String]
    public let description: String

    public init?(_ text: String) {
        description = text
        var scanner = Scanner(Array(text.trimmingCharacters(in: .whitespaces).lowercased().utf8))
        if scanner.peek == UInt8(ascii: "v") { scanner.index += 1 }
        var epoch = VersionNumber.zero
        guard var first = scanner.number() else { return nil }
        if scanner.take("!") {
            epoch = first
            guard let number = scanner.number() else { return nil }
            first = number
        }
        var release = [first]
        while scanner.peek == UInt8(ascii: "."), scanner.peekIsDigit(at: 1) {
            scanner.index += 1
            release.append(scanner.number() ?? .zero)
        }
        self.epoch = epoch
        self.release = release

        var pre: (Int, VersionNumber)?
        let saved = scanner.index
        scanner.separator()
        if let kind = scanner.word(["alpha": 0, "a": 0, "beta": 1, "b": 1, "preview": 2, "pre": 2, "rc": 2, "c": 2]) {
            scanner.separator()
            pre = (kind, scanner.number() ?? .zero)
        } else {
            scanner.index = saved
        }
        self.pre = pre

        var post: VersionNumber?
        let beforePost = scanner.index
        if scanner.take("-"), let number = scanner.number() {
            post = number
        } else {
            scanner.index = beforePost
            scanner.separator()
            if scanner.word(["post": 0, "rev": 0, "r": 0]) != nil {
                scanner.separator()
                post = scanner.number() ?? .zero
            } else {
                scanner.index = beforePost
            }
        }
        self.post = post

        var dev: VersionNumber?
        let beforeDev = scanner.index
        scanner.separator()
        if scanner.word(["dev": 0]) != nil {
            scanner.separator()
            dev = scanner.number() ?? .zero
        } else {
            scanner.index = beforeDev
        }
        self.dev = dev

        var local: [String] = []
        if scanner.take("+") {
            let rest = String(decoding: scanner.bytes[scanner.index...], as: UTF8.self)
            local = rest.split(whereSeparator: { $0 == "." || $0 == "-" || $0 == "_" }).map(String.init)
            guard !local.isEmpty, local.allSatisfy({ $0.allSatisfy { $0.isLetter || $0.isNumber } }) else { return nil }
            scanner.index = scanner.bytes.count
        }
        guard scanner.index == scanner.bytes.count else { return nil }
        self.local = local
    }

    public static func == (a: PythonVersion, b: PythonVersion) -> Bool { compare(a, b) == 0 }
    public static func < (a: PythonVersion, b: PythonVersion) -> Bool { compare(a, b) < 0 }

    static func compare(_ a: PythonVersion, _ b: PythonVersion) -> Int {
        if a.epoch != b.epoch { return a.epoch < b.epoch ? -1 : 1 }
        let length = max(a.release.count, b.release.count)
        for index in 0..<length {
            let x = index < a.release.count ? a.release[index] : .zero
            let y = index < b.release.count ? b.release[index] : .zero
            if x != y { return x < y ? -1 : 1 }
        }
        // Pre-release key: a dev-only release sorts before any pre-release; no pre-release after all.
        func preKey(_ v: PythonVersion) -> (Int, VersionNumber) {
            if let pre = v.pre { return (pre.kind, pre.number) }
            if v.post == nil, v.dev != nil { return (-1, .zero) }
            return (3, .zero)
        }
        let (pa, pb) = (preKey(a), preKey(b))
        if pa != pb { return pa < pb ? -1 : 1 }
        // No post-release sorts before any; no dev release after any.
        switch (a.post, b.post) {
        case let (x?, y?): if x != y { return x < y ? -1 : 1 }
        case (nil, _?): return -1
        case (_?, nil): return 1
        case (nil, nil): break
        }
        switch (a.dev, b.dev) {
        case let (x?, y?): if x != y { return x < y ? -1 : 1 }
        case (nil, _?): return 1
        case (_?, nil): return -1
        case (nil, nil): break
        }
        // Local: none first; numeric segments after alphanumeric ones; shorter first when a prefix.
        for index in 0..<max(a.local.count, b.local.count) {
            guard index < a.local.count else { return -1 }
            guard index < b.local.count else { return 1 }
            let x = a.local[index]
            let y = b.local[index]
            switch (VersionNumber(x), VersionNumber(y)) {
            case let (p?, q?): if p != q { return p < q ? -1 : 1 }
            case (_?, nil): return 1
            case (nil, _?): return -1
            case (nil, nil): if x != y { return x < y ? -1 : 1 }
            }
        }
        return 0
    }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }
        var peek: UInt8? { index < bytes.count ? bytes[index] : nil }
        func peekIsDigit(at offset: Int) -> Bool {
            index + offset < bytes.count && (48...57).contains(bytes[index + offset])
        }
        mutating func number() -> VersionNumber? {
            let start = index
            while index < bytes.count, (48...57).contains(bytes[index]) { index += 1 }
            guard index > start else { return nil }
            return VersionNumber(trimming: bytes[start..<index])
        }
        mutating func take(_ character: Character) -> Bool {
            guard let ascii = character.asciiValue, peek == ascii else { return false }
            index += 1
            return true
        }
        mutating func separator() {
            if let byte = peek, byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") { index += 1 }
        }
        /// The longest of `words` at the current position.
        mutating func word(_ words: [String: Int]) -> Int? {
            for (word, value) in words.sorted(by: { $0.key.count > $1.key.count }) {
                let utf8 = Array(word.utf8)
                if index + utf8.count <= bytes.count, Array(bytes[index..<index + utf8.count]) == utf8 {
                    index += utf8.count
                    return value
                }
            }
            return nil
        }
    }
}
