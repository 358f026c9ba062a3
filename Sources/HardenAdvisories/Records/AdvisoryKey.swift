import Foundation

/// How advisories are filed: by ecosystem family and the package name as that family spells it.
public enum AdvisoryKey {
    /// `Debian:12` → `Debian`; nil for the ecosystems harden does not order.
    public static func family(_ ecosystem: String) -> String? {
        let name = ecosystem.split(separator: ":", maxSplits: 1).first.map(String.init) ?? ecosystem
        return ["Debian", "Alpine", "PyPI"].contains(name) ? name : nil
    }

    /// The name lookups use: PEP 503 for PyPI, as written for the others.
    public static func name(_ name: String, family: String) -> String {
        family == "PyPI" ? pep503(name) : name
    }

    /// PEP 503: lowercase, and each run of `-`, `_`, `.` becomes one `-`.
    public static func pep503(_ name: String) -> String {
        var out = ""
        var pendingSeparator = false
        for character in name.lowercased() {
            if character == "-" || character == "_" || character == "." {
                pendingSeparator = true
            } else {
                if pendingSeparator, !out.isEmpty { out.append("-") }
                pendingSeparator = false
                out.append(character)
            }
        }
        return out
    }

    /// `Debian` applies to every Debian release; `Debian:12` only to 12; `PyPI` to PyPI.
    public static func applies(_ advisory: String, to image: String?) -> Bool {
        if advisory == "PyPI" { return image == "PyPI" }
        guard let image else { return false }
        if !advisory.utf8.contains(UInt8(ascii: ":")) { return image.hasPrefix(advisory) }
        return advisory == image
    }
}
