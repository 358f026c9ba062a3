import HardenVersions

/// A package in the closure, with the chain that brought it in (the requested package first).
public struct ResolvedPackage: Sendable {
    public var package: BinaryPackage
    public var chain: [String]
}

/// A dependency left out on purpose: by the install-only defaults or by the caller's `exclude`.
public struct BrokenDependency: Sendable, Hashable, CustomStringConvertible {
    public enum Reason: String, Sendable, Hashable {
        /// In `InstallOnly.defaults`: only maintainer scripts need it.
        case installOnly = "install-time only"
        /// Named in `exclude`.
        case excluded
    }
    /// `name version` of the package that wanted it.
    public var dependent: String
    /// The relation as the index writes it (`debconf (>= 0.5) | debconf-2.0`).
    public var relation: String
    /// The packages left out (an alternative, or the provider of a virtual one).
    public var dropped: [String]
    public var reason: Reason

    public init(dependent: String, relation: String, dropped: [String], reason: Reason) {
        self.dependent = dependent
        self.relation = relation
        self.dropped = dropped
        self.reason = reason
    }

    public var description: String {
        "\(dependent) depends on \(relation): left out \(dropped.joined(separator: ", ")) (\(reason.rawValue))"
    }
}

/// A closure: its packages by name, and every dependency left out.
public struct Resolution: Sendable {
    public var packages: [ResolvedPackage]
    public var broken: [BrokenDependency]
}

/// What to resolve.
public struct ResolveRequest: Sendable {
    public var packages: [String]
    public var architecture: String
    /// Added to `installOnly`: left out wherever they are wanted, reported as broken.
    public var exclude: Set<String>
    public var installOnly: Set<String>

    public init(
        packages: [String], architecture: String, exclude: Set<String> = [], installOnly: Set<String> = InstallOnly.defaults
    ) {
        self.packages = packages
        self.architecture = architecture
        self.exclude = exclude
        self.installOnly = installOnly
    }
}

/// The `Depends` + `Pre-Depends` closure of some packages for one architecture (Debian Policy
/// §7): versioned relations, alternatives (the first satisfiable, unless another is already
/// chosen), virtual packages through `Provides` (versioned provides satisfy versioned
/// relations), and the newest version a relation admits across the suites given, so a
/// security update wins. `Essential` and `Priority` pull nothing in. One architecture, so
/// `:any` and `:native` both mean its packages and `all`. One version per package: a relation
/// the chosen version does not satisfy is a conflict.
public struct Resolver: Sendable {
    /// A package providing a virtual name, with the version it provides, if any.
    private struct Provider: Sendable {
        var package: Int
        /// As the index writes it, parsed when a versioned relation asks.
        var version: Substring?

        func admitted(by bound: VersionBound?) -> Bool {
            guard let bound else { return true }
            return version.flatMap { DebianVersion(String($0)) }.map(bound.admits) ?? false
        }
    }
    /// Every package of the architecture; the maps below hold positions in it (a package is
    /// some dozen strings, costly to copy 100 000 times).
    private let all: [BinaryPackage]
    /// By name, newest first (for equal versions, the earlier suite first).
    private let byName: [String: [Int]]
    /// Virtual name → its providers, by provider name.
    private let providers: [String: [Provider]]
    public let architecture: String

    public init(indexes: [SuiteIndex], architecture: String) {
        self.architecture = architecture
        let all = indexes.flatMap { index in
            index.packages.filter { $0.architecture == architecture || $0.architecture == "all" }
        }
        var byName: [String: [Int]] = [:]
        for (position, package) in all.enumerated() { byName[package.name, default: []].append(position) }
        for (name, positions) in byName where positions.count > 1 {
            // Positions break ties: the suites' order among equal versions.
            byName[name] = positions.sorted { a, b in
                let order = DebianVersion.compare(all[a].version, all[b].version)
                return order != 0 ? order > 0 : a < b
            }
        }
        var providers: [String: [Provider]] = [:]
        for (position, package) in all.enumerated() where !package.provides.isEmpty {
            for provided in Self.provided(by: package) {
                providers[provided.name, default: []].append(Provider(package: position, version: provided.version))
            }
        }
        for name in providers.keys { providers[name]?.sort { all[$0.package].name < all[$1.package].name } }
        self.all = all
        self.byName = byName
        self.providers = providers
    }

    /// What a package's `Provides` names, and the version after `=` (the only operator Policy
    /// §7.5 allows there), left as text: most of an index's 40 000 provides are never looked at.
    /// Read as bytes, which costs a tenth of the relation parser on Rust's long lists.
    private static func provided(by package: BinaryPackage) -> [(name: String, version: Substring?)] {
        let text = package.provides
        let space = UInt8(ascii: " "), tab = UInt8(ascii: "\t"), newline = UInt8(ascii: "\n")
        var result: [(name: String, version: Substring?)] = []
        for entry in text.utf8.split(separator: UInt8(ascii: ",")) {
            guard let start = entry.firstIndex(where: { $0 != space && $0 != tab && $0 != newline }) else { continue }
            let rest = entry[start...]
            let nameEnd =
                rest.firstIndex(where: {
                    $0 == space || $0 == tab || $0 == newline || $0 == UInt8(ascii: "(") || $0 == UInt8(ascii: ":")
                }) ?? rest.endIndex
            let name = String(Substring(rest[..<nameEnd]))
            var version: Substring?
            if let open = rest.firstIndex(of: UInt8(ascii: "(")), let close = rest[open...].firstIndex(of: UInt8(ascii: ")")) {
                let inside = rest[rest.index(after: open)..<close]
                if let versionStart = inside.firstIndex(where: { $0 != space && $0 != UInt8(ascii: "=") }) {
                    version = Substring(inside[versionStart...]).trimmed
                }
            }
            result.append((name, version))
        }
        return result
    }

    public func resolve(_ request: ResolveRequest) throws(DebianError) -> Resolution {
        var state = ClosureState(request: request)
        for name in request.packages {
            guard !state.isLeftOut(name) else {
                throw DebianError(.conflict, "\(name) is asked for and excluded at once; drop it from one of the two lists")
            }
            guard state.chosen[name] == nil else { continue }
            guard let package = candidates(for: Relation(name: name), state: state).first?.package else {
                throw DebianError(
                    .unsatisfiable,
                    "\(name): no package of that name for \(architecture) in the suites read; check the spelling, the suites and the components"
                )
            }
            state.choose(package, parent: nil)
        }
        var next = 0
        while next < state.queue.count {
            let package = state.queue[next]
            next += 1
            let context = "\(package.label) (\(package.origin.suite))"
            let groups =
                try RelationGroup.parseField(package.preDepends, context: "Pre-Depends of \(context)")
                + RelationGroup.parseField(package.depends, context: "Depends of \(context)")
            for group in groups { try satisfy(group, for: package, state: &state) }
        }
        let forbidden = state.chosen.keys.filter(ForbiddenPackages.contains).sorted()
        if !forbidden.isEmpty {
            let chains = forbidden.map { state.chain(to: $0).joined(separator: " → ") }
            throw DebianError(
                .forbidden,
                "the closure brings in a shell or package manager: \(chains.joined(separator: "; ")); add \(forbidden.joined(separator: ", ")) to exclude if the image works without it, or pick other packages"
            )
        }
        let packages = state.chosen.keys.sorted().compactMap { name in
            state.chosen[name].map { ResolvedPackage(package: $0, chain: state.chain(to: name)) }
        }
        return Resolution(packages: packages, broken: state.broken)
    }

    private func satisfy(_ group: RelationGroup, for dependent: BinaryPackage, state: inout ClosureState) throws(DebianError) {
        for relation in group.alternatives where satisfiedByChosen(relation, state: state) { return }
        var dropped: [String] = []
        var reason = BrokenDependency.Reason.installOnly
        var conflicts: [String] = []
        for relation in group.alternatives {
            if state.isLeftOut(relation.name) {
                dropped.append(relation.name)
                if state.request.exclude.contains(relation.name) { reason = .excluded }
                continue
            }
            let found = candidates(for: relation, state: state)
            for candidate in found {
                if state.isLeftOut(candidate.package.name) {
                    dropped.append(candidate.package.name)
                    if state.request.exclude.contains(candidate.package.name) { reason = .excluded }
                    continue
                }
                if let other = state.chosen[candidate.package.name] {
                    guard !conflicts.contains(where: { $0.hasPrefix("\(relation) ") }) else { continue }
                    conflicts.append(
                        "\(relation) is not met by \(other.label), already chosen for \(state.chain(to: other.name).joined(separator: " → "))"
                    )
                    continue
                }
                state.choose(candidate.package, parent: dependent.name)
                return
            }
        }
        let chain = state.chain(to: dependent.name).joined(separator: " → ")
        if !dropped.isEmpty {
            state.broken.append(
                BrokenDependency(
                    dependent: dependent.label, relation: group.description, dropped: Array(Set(dropped)).sorted(), reason: reason
                ))
            return
        }
        if !conflicts.isEmpty {
            throw DebianError(
                .conflict,
                "\(chain) depends on \(group): \(conflicts.joined(separator: "; ")); exclude one side or pin other packages")
        }
        throw DebianError(
            .unsatisfiable,
            "\(chain) depends on \(group), which no package for \(architecture) in the suites read satisfies; add the suite or component that has it, or exclude it"
        )
    }

    /// Whether an already chosen package (or something it provides) meets `relation`.
    private func satisfiedByChosen(_ relation: Relation, state: ClosureState) -> Bool {
        guard qualifierFits(relation) else { return false }
        if let chosen = state.chosen[relation.name], relation.bound?.admits(chosen.version) ?? true { return true }
        return (providers[relation.name] ?? []).contains { provider in
            let package = all[provider.package]
            guard let chosen = state.chosen[package.name], chosen.version == package.version else { return false }
            return provider.admitted(by: relation.bound)
        }
    }

    /// Packages that would meet `relation`: the real package's versions it admits, newest
    /// first, then the providers of a virtual name.
    private func candidates(for relation: Relation, state: ClosureState) -> [(package: BinaryPackage, virtual: Bool)] {
        guard qualifierFits(relation) else { return [] }
        let real = (byName[relation.name] ?? []).map { all[$0] }.filter { relation.bound?.admits($0.version) ?? true }
        let provided = (providers[relation.name] ?? []).filter { provider in
            // Only the newest version of a provider is a candidate, like any package.
            guard byName[all[provider.package].name]?.first == provider.package else { return false }
            return provider.admitted(by: relation.bound)
        }
        return real.map { ($0, false) } + provided.map { (all[$0.package], true) }
    }

    private func qualifierFits(_ relation: Relation) -> Bool {
        guard let qualifier = relation.qualifier else { return true }
        return qualifier == "any" || qualifier == "native" || qualifier == architecture
    }
}

/// What a resolution has chosen so far.
private struct ClosureState {
    let request: ResolveRequest
    var chosen: [String: BinaryPackage] = [:]
    var parent: [String: String] = [:]
    var queue: [BinaryPackage] = []
    var broken: [BrokenDependency] = []

    init(request: ResolveRequest) { self.request = request }

    func isLeftOut(_ name: String) -> Bool { request.exclude.contains(name) || request.installOnly.contains(name) }

    mutating func choose(_ package: BinaryPackage, parent dependent: String?) {
        chosen[package.name] = package
        if let dependent { parent[package.name] = dependent }
        queue.append(package)
    }

    /// From the requested package down to `name`.
    func chain(to name: String) -> [String] {
        var chain = [name]
        var seen: Set<String> = [name]
        while let up = parent[chain[0]], seen.insert(up).inserted { chain.insert(up, at: 0) }
        return chain
    }
}
