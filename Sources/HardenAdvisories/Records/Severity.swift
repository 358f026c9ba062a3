import Foundation

/// A vulnerability's severity, as the policy gate and reports use it.
public enum Severity: String, Sendable, Codable, CaseIterable, Comparable {
    case critical, high, medium, low, unknown

    private var rank: Int { Self.allCases.firstIndex(of: self) ?? 4 }
    /// Critical first.
    public static func < (a: Severity, b: Severity) -> Bool { a.rank > b.rank }

    /// From a word scanners and databases use (`HIGH`, `Moderate`, `important`, `unimportant`…).
    public init(word: String) {
        switch word.lowercased() {
        case "critical": self = .critical
        case "high", "important": self = .high
        case "medium", "moderate": self = .medium
        case "low", "negligible", "unimportant", "minor": self = .low
        default: self = .unknown
        }
    }

    /// The CVSS qualitative rating of a base score.
    public init(score: Double) {
        switch score {
        case 9.0...: self = .critical
        case 7.0..<9.0: self = .high
        case 4.0..<7.0: self = .medium
        case 0.1..<4.0: self = .low
        default: self = .unknown
        }
    }
}

/// CVSS v3.0/v3.1 base scores from a vector (`CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H`),
/// with the specification's formula and its Roundup.
public enum CVSS3 {
    public static func baseScore(_ vector: String) -> Double? {
        let parts = vector.split(separator: "/")
        guard let version = parts.first, version.hasPrefix("CVSS:3") else { return nil }
        var av, ac, pr, ui, c, i, a: Double?
        var scope: Substring?
        var privileges: Substring?
        func impact(_ value: Substring) -> Double? { value == "H" ? 0.56 : value == "L" ? 0.22 : value == "N" ? 0 : nil }
        for part in parts.dropFirst() {
            guard let colon = part.firstIndex(of: ":") else { return nil }
            let value = part[part.index(after: colon)...]
            switch part[..<colon] {
            case "AV": av = value == "N" ? 0.85 : value == "A" ? 0.62 : value == "L" ? 0.55 : value == "P" ? 0.2 : nil
            case "AC": ac = value == "L" ? 0.77 : value == "H" ? 0.44 : nil
            case "PR": privileges = value
            case "UI": ui = value == "N" ? 0.85 : value == "R" ? 0.62 : nil
            case "S": scope = value
            case "C": c = impact(value)
            case "I": i = impact(value)
            case "A": a = impact(value)
            default: continue
            }
        }
        guard let scope, scope == "U" || scope == "C", let privileges else { return nil }
        switch privileges {
        case "N": pr = 0.85
        case "L": pr = scope == "C" ? 0.68 : 0.62
        case "H": pr = scope == "C" ? 0.5 : 0.27
        default: return nil
        }
        guard let av, let ac, let pr, let ui, let c, let i, let a else { return nil }
        let iss = 1 - (1 - c) * (1 - i) * (1 - a)
        let impactScore = scope == "U" ? 6.42 * iss : 7.52 * (iss - 0.029) - 3.25 * pow(iss - 0.02, 15)
        let exploitability = 8.22 * av * ac * pr * ui
        guard impactScore > 0 else { return 0 }
        return roundUp(min((scope == "U" ? 1 : 1.08) * (impactScore + exploitability), 10))
    }

    /// CVSS v3.1 Roundup: the smallest number with one decimal that is ≥ the input.
    static func roundUp(_ value: Double) -> Double {
        let scaled = Int((value * 100_000).rounded())
        return scaled % 10_000 == 0 ? Double(scaled) / 100_000 : (Double(scaled / 10_000) + 1) / 10
    }
}
