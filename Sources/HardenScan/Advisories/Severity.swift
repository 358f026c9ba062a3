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
        var metrics: [String: String] = [:]
        let parts = vector.split(separator: "/")
        guard let version = parts.first, version.hasPrefix("CVSS:3") else { return nil }
        for part in parts.dropFirst() {
            let pair = part.split(separator: ":", maxSplits: 1)
            guard pair.count == 2 else { return nil }
            metrics[String(pair[0])] = String(pair[1])
        }
        guard let scope = metrics["S"], scope == "U" || scope == "C",
            let av = ["N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2][metrics["AV"] ?? ""],
            let ac = ["L": 0.77, "H": 0.44][metrics["AC"] ?? ""],
            let pr = (scope == "C" ? ["N": 0.85, "L": 0.68, "H": 0.5] : ["N": 0.85, "L": 0.62, "H": 0.27])[metrics["PR"] ?? ""],
            let ui = ["N": 0.85, "R": 0.62][metrics["UI"] ?? ""]
        else { return nil }
        let impactValues = ["H": 0.56, "L": 0.22, "N": 0.0]
        guard let c = impactValues[metrics["C"] ?? ""], let i = impactValues[metrics["I"] ?? ""], let a = impactValues[metrics["A"] ?? ""]
        else { return nil }
        let iss = 1 - (1 - c) * (1 - i) * (1 - a)
        let impact = scope == "U" ? 6.42 * iss : 7.52 * (iss - 0.029) - 3.25 * pow(iss - 0.02, 15)
        let exploitability = 8.22 * av * ac * pr * ui
        guard impact > 0 else { return 0 }
        return roundUp(min((scope == "U" ? 1 : 1.08) * (impact + exploitability), 10))
    }

    /// CVSS v3.1 Roundup: the smallest number with one decimal that is ≥ the input.
    static func roundUp(_ value: Double) -> Double {
        let scaled = Int((value * 100_000).rounded())
        return scaled % 10_000 == 0 ? Double(scaled) / 100_000 : (Double(scaled / 10_000) + 1) / 10
    }
}
