/// Installed packages a scanner could not check, and why. They are never counted
/// as clean: the reports show them and `fail-on-unmatched` fails the gate on them.
public struct UnmatchedPackages: Sendable, Codable, Equatable {
    /// The packages' kind as reports name it: `deb`, `apk`, `python`.
    public var ecosystem: String
    public var reason: String
    public var count: Int
    /// The first few of their names, in catalog order.
    public var examples: [String]

    public init(ecosystem: String, reason: String, count: Int, examples: [String]) {
        self.ecosystem = ecosystem
        self.reason = reason
        self.count = count
        self.examples = examples
    }

    /// "30 deb packages (base-files, libc6, …) — why".
    public var summary: String {
        let more = count > examples.count ? ", …" : ""
        return "\(count) \(ecosystem) package\(count == 1 ? "" : "s") (\(examples.joined(separator: ", "))\(more)) — \(reason)"
    }

    /// The deb and apk packages of `packages`, grouped by kind, all for one reason.
    public static func osPackages(_ packages: [Package], reason: String) -> [UnmatchedPackages] {
        var groups: [UnmatchedPackages] = []
        for kind in [Package.Kind.deb, .apk] {
            let names = packages.filter { $0.kind == kind }.map(\.name)
            if !names.isEmpty {
                groups.append(
                    UnmatchedPackages(ecosystem: kind.rawValue, reason: reason, count: names.count, examples: Array(names.prefix(5))))
            }
        }
        return groups
    }

    /// The kinds of package that every scanner left unchecked, each once, with every scanner's reason.
    public static func uncheckedByAll(_ lists: [[UnmatchedPackages]]) -> [UnmatchedPackages] {
        guard let first = lists.first else { return [] }
        var merged: [UnmatchedPackages] = []
        for group in first where lists.dropFirst().allSatisfy({ $0.contains { $0.ecosystem == group.ecosystem } }) {
            var combined = group
            for other in lists.dropFirst().flatMap({ $0 }) where other.ecosystem == group.ecosystem && other.reason != group.reason {
                if !combined.reason.contains(other.reason) { combined.reason += "; " + other.reason }
            }
            merged.append(combined)
        }
        return merged
    }
}
