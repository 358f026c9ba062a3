import Foundation

/// Alpine package versions, ordered as apk orders them:
/// `number(.number)*[letter](_suffix[number])*[~hash][-r revision]`, where the suffixes
/// `_alpha < _beta < _pre < _rc < (none) < _cvs < _svn < _git < _hg < _p`. After the
/// first, a number with a leading zero compares as a decimal fraction (`1.01 < 1.1`).
public struct AlpineVersion: Sendable, Comparable, CustomStringConvertible {
    public let numbers: [Substring]
    public let letter: UInt8?
    public let suffixes: [(rank: Int, number: VersionNumber)]
    public let revision: VersionNumber
    public let description: String

    static let suffixRanks: [String: Int] = [
        "alpha": 0, "beta": 1, "pre": 2, "rc": 3, "cvs": 5, "svn": 6, "git": 7, "hg": 8, "p": 9,
    ]
    static let noSuffix = 4

    public init?(_ text: String) {
        description = text
        var rest = Substring(text)
        var revision = VersionNumber.zero
        if let dash = rest.range(of: "-r", options: .backwards) {
            guard let number = VersionNumber(rest[dash.upperBound...]) else { return nil }
            revision = number
            rest = rest[..<dash.lowerBound]
        }
        if let tilde = rest.firstIndex(of: "~") { rest = rest[..<tilde] }
        self.revision = revision
        let underscore = rest.firstIndex(of: "_") ?? rest.endIndex
        var main = rest[..<underscore]
        if let last = main.utf8.last, last >= 97, last <= 122 {
            letter = last
            main = main.dropLast()
        } else {
            letter = nil
        }
        numbers = main.split(separator: ".", omittingEmptySubsequences: false)
        guard !numbers.isEmpty, numbers.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }) else { return nil }
        var suffixes: [(Int, VersionNumber)] = []
        for part in rest[underscore...].split(separator: "_") {
            let name = part.prefix { $0.isLetter }
            let digits = part.dropFirst(name.count)
            guard let rank = Self.suffixRanks[String(name)], digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            suffixes.append((rank, VersionNumber(digits) ?? .zero))
        }
        self.suffixes = suffixes
    }

    public static func == (a: AlpineVersion, b: AlpineVersion) -> Bool { compare(a, b) == 0 }
    public static func < (a: AlpineVersion, b: AlpineVersion) -> Bool { compare(a, b) < 0 }

    static func compare(_ a: AlpineVersion, _ b: AlpineVersion) -> Int {
        for index in 0..<max(a.numbers.count, b.numbers.count) {
            guard index < a.numbers.count else { return -1 }
            guard index < b.numbers.count else { return 1 }
            let x = a.numbers[index]
            let y = b.numbers[index]
            let order: Int
            if index > 0, x.hasPrefix("0") || y.hasPrefix("0") {
                // Fractional: compare digit by digit, a shorter prefix first.
                order = x == y ? 0 : (x.lexicographicallyPrecedes(y) ? -1 : 1)
            } else {
                let (p, q) = (x.drop { $0 == "0" }, y.drop { $0 == "0" })
                order =
                    p.count != q.count ? (p.count < q.count ? -1 : 1) : (p == q ? 0 : (p.lexicographicallyPrecedes(q) ? -1 : 1))
            }
            if order != 0 { return order }
        }
        let letterA = Int(a.letter ?? 0)
        let letterB = Int(b.letter ?? 0)
        if letterA != letterB { return letterA < letterB ? -1 : 1 }
        for index in 0..<max(a.suffixes.count, b.suffixes.count) {
            let x = index < a.suffixes.count ? a.suffixes[index] : (noSuffix, .zero)
            let y = index < b.suffixes.count ? b.suffixes[index] : (noSuffix, .zero)
            if x.0 != y.0 { return x.0 < y.0 ? -1 : 1 }
            if x.1 != y.1 { return x.1 < y.1 ? -1 : 1 }
        }
        if a.revision != b.revision { return a.revision < b.revision ? -1 : 1 }
        return 0
    }
}
