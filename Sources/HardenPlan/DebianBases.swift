import Foundation
import HardenDebian
import HardenImage
import HardenRecipe

/// A runtime base made from Debian packages, as the planner sees it: the recipe's lock file,
/// whether it still matches the recipe's `debian:` settings, and the tag of the image it gives.
public struct DebianBasePlan: Sendable, Codable {
    /// `Recipes/flask-debian.lock.yaml`, absolute.
    public var lockFile: String
    public var lock: PackageLock?
    /// The lock was resolved from other `debian:` settings than the recipe's.
    public var stale: Bool
    /// `harden-base/<recipe>:<digest of the lock, the layout and the assembler>`: one tag per content.
    public var tag: String?
    /// The recipe's accounts and package groups.
    public var layout: BaseLayout

    public var usable: PackageLock? { stale ? nil : lock }
}

public enum DebianBases {
    /// The digest of a recipe's `debian:` settings that resolution depends on; the lock records it.
    public static func request(_ base: DebianBase) -> String {
        Digest.sha256(ImageWriter.encode(base.resolutionSettings)).description
    }

    /// The accounts (`users`) and package groups (`layering`) of a recipe's base.
    public static func layout(_ base: DebianBase) -> BaseLayout {
        BaseLayout(
            accounts: (base.users ?? []).map { BaseLayout.Account(name: $0.name, uid: $0.uid, gid: $0.gid, home: $0.home) },
            groups: base.layering ?? [])
    }

    /// The lock's state for `recipe`, nil when its runtime is an image.
    public static func plan(for recipe: LoadedRecipe) throws(BuildError) -> DebianBasePlan? {
        guard let base = recipe.recipe.runtime?.debian else { return nil }
        let file = PackageLock.file(beside: recipe.file)
        let lock: PackageLock?
        do {
            lock = try PackageLock.read(file)
        } catch {
            throw BuildError(.input, error.description)
        }
        let stale = lock.map { $0.request != request(base) } ?? false
        let layout = layout(base)
        return DebianBasePlan(
            lockFile: file.path, lock: lock, stale: stale,
            tag: lock.flatMap { stale ? nil : tag(recipe: recipe.name, lock: $0, layout: layout) }, layout: layout)
    }

    public static func tag(recipe: String, lock: PackageLock, layout: BaseLayout = BaseLayout()) -> String {
        var content = "\(lock.digest) \(DebianBaseImage.assemblerVersion)"
        if !layout.isDefault { content += " \(Digest.sha256(ImageWriter.encode(layout)))" }
        return "\(DebianBase.imageName(recipe: recipe)):\(Digest.sha256(Data(content.utf8)).hex.prefix(16))"
    }

    /// Where the packages come from: the recipe's mirror, else the host's apt sources for the
    /// suite, else Debian's own.
    public static func spec(_ base: DebianBase) -> SuiteSpec {
        let mirror =
            base.mirror.flatMap(URL.init(string:)) ?? AptSources.mirror(for: base.suite)
            ?? URL(string: "http://deb.debian.org/debian")!
        var spec = SuiteSpec(mirror: mirror, suite: base.suite, packages: base.packages)
        spec.updates = base.updates
        spec.security = base.security
        spec.securityMirror = base.securityMirror.flatMap(URL.init(string:))
        if base.mirror == nil, spec.securityMirror == nil { spec.securityMirror = AptSources.mirror(for: base.suite + "-security") }
        if let keyring = base.keyring { spec.keyring = keyring }
        spec.architecture = base.architecture ?? DebianBaseBuilder.hostArchitecture
        spec.exclude = Set(base.exclude)
        if let installOnly = base.installOnly { spec.installOnly = Set(installOnly) }
        return spec
    }

    /// `plan` again after the recipe's lock was rewritten: its parts, digest, base tag and Dockerfile.
    public static func replan(_ plan: BuildPlan, recipe: LoadedRecipe) throws(BuildError) -> BuildPlan {
        guard let runtime = recipe.recipe.runtime, let debian = try Self.plan(for: recipe) else { return plan }
        var plan = plan
        plan.inputParts = plan.inputParts.filter { !$0.key.hasPrefix("debian") }.merging(parts(debian)) { $1 }
        plan.inputDigest = Planner.digest(plan.inputParts)
        plan.debianBase = debian
        plan.resolvedBases[runtime.from] = debian.tag ?? runtime.from
        plan.baseImages[runtime.from] = nil
        plan.dockerfile = DockerfileRenderer.render(recipe.recipe, bases: plan.resolvedBases)
        return plan
    }

    /// Plan parts: one per locked package (`debian/libssl3` = `version suite sha256`), the
    /// assembler version, and the lock's state when it cannot be used. The accounts and layers
    /// are in the recipe's runtime field and the base tag.
    static func parts(_ plan: DebianBasePlan) -> [String: String] {
        var parts = ["debian.assembler": DebianBaseImage.assemblerVersion]
        guard let lock = plan.usable else {
            parts["debian.lock"] = plan.lock == nil ? "none" : "stale"
            return parts
        }
        for package in lock.packages {
            parts["debian/\(package.name)"] = "\(package.version) \(package.suite) \(package.architecture) \(package.sha256)"
        }
        return parts
    }

    /// `package libssl3 3.0.15-1~deb12u1 → 3.0.17-1~deb12u2 (bookworm-security)`.
    static func reason(package: String, now: String?, was: String?) -> String {
        let nowFields = now?.split(separator: " ") ?? []
        let wasFields = was?.split(separator: " ") ?? []
        switch (nowFields.count >= 2, wasFields.count >= 2) {
        case (true, true) where nowFields[0] == wasFields[0]:
            return "package \(package) \(nowFields[0]) was fetched again with another hash (\(nowFields[1]))"
        case (true, true): return "package \(package) \(wasFields[0]) → \(nowFields[0]) (\(nowFields[1]))"
        case (true, false): return "package \(package) \(nowFields[0]) added (\(nowFields[1]))"
        case (false, true): return "package \(package) \(wasFields[0]) removed"
        case (false, false): return "package \(package) changed"
        }
    }
}
