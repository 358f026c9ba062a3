import Foundation

/// Debian package versions, ordered as dpkg orders them (Debian Policy §5.6.12):
/// `[epoch:]upstream_version[-debian_revision]`; epochs compare as numbers, the other
/// two parts by alternating runs of non-digits and digits, where `~` sorts before
/// anything, even the end of the string, and letters sort before other characters.
public struct DebianVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let epoch: Int
    public let upstream: String
    public let revision: String
    public let description: String

    public init?(_ text: String) {
        // Foundation's trimming is most of the cost when a 60 000-package index is read.
        let padded = text.first.map { $0 == " " || $0 == "\t" } == true || text.last.map { $0 == " " || $0 == "\t" } == true
        let trimmed = padded ? text.trimmingCharacters(in: .whitespaces) : text
        guard !trimmed.isEmpty else { return nil }
        var rest = Substring(trimmed)
        if let colon = rest.firstIndex(of: ":") {
            guard let epoch = Int(rest[..<colon]), epoch >= 0 else { return nil }
            self.epoch = epoch
            rest = rest[rest.index(after: colon)...]
        } else {
            epoch = 0
        }
        if let dash = rest.lastIndex(of: "-") {
            upstream = String(rest[..<dash])
            revision = String(rest[rest.index(after: dash)...])
        } else {
            upstream = String(rest)
            revision = ""
        }
        guard !upstream.isEmpty else { return nil }
        description = trimmed
    }

    public static func < (a: DebianVersion, b: DebianVersion) -> Bool { compare(a, b) < 0 }

    public static func == (a: DebianVersion, b: DebianVersion) -> Bool { compare(a, b) == 0 }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(epoch)
        hasher.combine(upstream)
        hasher.combine(revision)
    }

    /// -1, 0 or 1.
    public static func compare(_ a: DebianVersion, _ b: DebianVersion) -> Int {
        if a.epoch != b.epoch { return a.epoch < b.epoch ? -1 : 1 }
        let upstream = compareParts(Array(a.upstream.utf8), Array(b.upstream.utf8))
        if upstream != 0 { return upstream }
        return compareParts(Array(a.revision.utf8), Array(b.revision.utf8))
    }

    /// dpkg's `verrevcmp`.
    static func compareParts(_ a: [UInt8], _ b: [UInt8]) -> Int {
        var i = 0
        var j = 0
        func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }
        func order(_ c: UInt8?) -> Int {
            guard let c else { return 0 }
            if isDigit(c) { return 0 }
            if (c >= 65 && c <= 90) || (c >= 97 && c <= 122) { return Int(c) }
            if c == UInt8(ascii: "~") { return -1 }
            return Int(c) + 256
        }
        while i < a.count || j < b.count {
            var firstDifference = 0
            while (i < a.count && !isDigit(a[i])) || (j < b.count && !isDigit(b[j])) {
                let ac = order(i < a.count ? a[i] : nil)
                let bc = order(j < b.count ? b[j] : nil)
                if ac != bc { return ac < bc ? -1 : 1 }
                i += 1
                j += 1
            }
            while i < a.count, a[i] == 48 { i += 1 }
            while j < b.count, b[j] == 48 { j += 1 }
            while i < a.count, isDigit(a[i]), j < b.count, isDigit(b[j]) {
                if firstDifference == 0 { firstDifference = Int(a[i]) - Int(b[j]) }
                i += 1
                j += 1
            }
            if i < a.count, isDigit(a[i]) { return 1 }
            if j < b.count, isDigit(b[j]) { return -1 }
            if firstDifference != 0 { return firstDifference < 0 ? -1 : 1 }
        }
        return 0
    }
}
