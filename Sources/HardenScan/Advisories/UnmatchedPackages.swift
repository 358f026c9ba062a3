/// Installed packages the built-in matcher could not check, and why. They are never counted
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
}
