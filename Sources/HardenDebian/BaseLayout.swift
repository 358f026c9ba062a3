import Foundation

/// What an assembled base holds beside its packages, and how they are split into layers:
/// the accounts beside root and nonroot, and package groups that get a layer each.
public struct BaseLayout: Sendable, Equatable, Codable {
    public struct Account: Sendable, Equatable, Codable {
        public var name: String
        public var uid: Int
        public var gid: Int
        /// Absolute.
        public var home: String

        public init(name: String, uid: Int, gid: Int, home: String) {
            self.name = name
            self.uid = uid
            self.gid = gid
            self.home = home
        }
    }

    public var accounts: [Account]
    /// A layer per group, in order; the packages no group names go in one last layer.
    public var groups: [[String]]

    public init(accounts: [Account] = [], groups: [[String]] = []) {
        self.accounts = accounts
        self.groups = groups
    }

    public var isDefault: Bool { accounts.isEmpty && groups.isEmpty }

    /// The layer of each package (`groups.count` for the rest), and how many layers there are.
    /// A group naming a package the lock does not have is an error.
    func layers(of packages: [String]) throws(DebianError) -> (index: [String: Int], count: Int) {
        var index: [String: Int] = [:]
        let present = Set(packages)
        for (number, group) in groups.enumerated() {
            for name in group {
                guard present.contains(name) else {
                    throw DebianError(
                        .syntax,
                        "layering names \(name), which is not among the \(packages.count) locked packages; "
                            + "remove it from layering, or add it to packages and run harden lock again")
                }
                index[name] = number
            }
        }
        let rest = packages.contains { index[$0] == nil }
        for name in packages where index[name] == nil { index[name] = groups.count }
        return (index, max(1, groups.count + (rest ? 1 : 0)))
    }
}
