import Foundation
import HardenBuild
import HardenDebian
import HardenPlan
import HardenRecipe

/// For recipes with a Debian base and the `package-update` trigger: what the mirror has now,
/// against each lock. Each distinct `debian:` setting is resolved once.
struct PackageUpdates {
    struct Check {
        /// `libssl3 3.0.15-1~deb12u1 → 3.0.17-1~deb12u2 (bookworm-security)`.
        var updates: [String] = []
        var error: String?
        /// The lock as it would be written now.
        var fresh: PackageLock?
    }

    static func check(_ planning: Planning, state: StateDirectory) async -> [String: Check] {
        var checks: [String: Check] = [:]
        var resolved: [String: Result<PackageLock, DebianError>] = [:]
        let builder = DebianBaseBuilder(cache: BlobCache(directory: state.debianCache))
        for recipe in planning.recipes {
            guard let base = recipe.recipe.runtime?.debian,
                recipe.recipe.schedule?.triggers.contains(.packageUpdate) == true,
                let plan = planning.plans.first(where: { $0.recipe == recipe.name }), let locked = plan.debianBase?.usable
            else { continue }
            let request = DebianBases.request(base)
            if resolved[request] == nil {
                Output.note("\(recipe.name): checking \(base.suite) for newer versions of \(locked.packages.count) locked packages")
                do {
                    resolved[request] = .success(
                        try await builder.lock(DebianBases.spec(base), recipe: recipe.name, request: request))
                } catch {
                    resolved[request] = .failure(error)
                }
            }
            switch resolved[request] {
            case .success(var fresh)?:
                fresh.recipe = recipe.name
                let changes = PackageLocking.changes(from: locked, to: fresh)
                checks[recipe.name] = Check(updates: changes, fresh: changes.isEmpty ? nil : fresh)
            case .failure(let error)?:
                checks[recipe.name] = Check(error: error.description)
            case nil:
                continue
            }
        }
        return checks
    }
}
