/// A non-negative whole number of any length, as version strings write them, ordered by
/// value: PEP 440, dpkg and apk put no bound on a numeric component, and one longer than
/// 18 digits must not overflow a fixed-width integer or turn into 0.
public struct VersionNumber: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The digits without leading zeros; empty for zero.
    private let digits: [UInt8]

    public static let zero = VersionNumber(trimming: [])

    /// Nil unless `text` is one or more ASCII digits.
    public init?(_ text: some StringProtocol) {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.allSatisfy({ (48...57).contains($0) }) else { return nil }
        self.init(trimming: bytes[...])
    }

    /// From ASCII digits already checked by the caller.
    init(trimming bytes: ArraySlice<UInt8>) {
        digits = Array(bytes.drop { $0 == 48 })
    }

    public static func < (a: VersionNumber, b: VersionNumber) -> Bool {
        a.digits.count != b.digits.count ? a.digits.count < b.digits.count : a.digits.lexicographicallyPrecedes(b.digits)
    }

    public var description: String { digits.isEmpty ? "0" : String(decoding: digits, as: UTF8.self) }
}
