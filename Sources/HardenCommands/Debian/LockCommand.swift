import ArgumentParser
import Foundation
import HardenArchive
import HardenBuild
import HardenEngine
import HardenDebian
import HardenPlan
import HardenRecipe

struct LockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock",
        abstract: "Resolve the Debian packages of recipes whose runtime is made from them, and write <recipe>.lock.yaml.",
        discussion: """
            Reads each suite's signed InRelease (checked with gpgv), checks every Packages index against it, \
            resolves the packages' dependencies and writes the exact versions and hashes beside the recipe. \
            Builds use the lock as it is; run this again to take Debian's updates.
            Exit status: 0 written; 2 bad recipe, unreadable or unsigned suite, or unresolvable packages.
            """)

    @OptionGroup var project: ProjectOptions

    func run() async throws {
        let recipes = try project.loadRecipes().filter { $0.recipe.runtime?.debian != nil }
        guard !recipes.isEmpty else {
            Output.error("no recipe here has a runtime made from Debian packages (runtime.from.debian)")
            throw ExitCode(Exit.badInput)
        }
        for recipe in recipes {
            _ = try await PackageLocking.lock(recipe, state: project.stateDirectory)
        }
    }
}

/// Resolving a recipe's Debian packages into its lock file, for `harden lock` and for a build
/// that finds no lock (or a stale one).
enum PackageLocking {
    @discardableResult
    static func lock(_ recipe: LoadedRecipe, state: StateDirectory) async throws -> PackageLock {
        guard let base = recipe.recipe.runtime?.debian else { throw ExitCode(Exit.badInput) }
        let file = PackageLock.file(beside: recipe.file)
        let shown = (recipe.displayPath as NSString).deletingPathExtension + ".lock.yaml"
        let old: PackageLock?
        let lock: PackageLock
        let spec = DebianBases.spec(base)
        Output.note("\(recipe.name): resolving \(spec.packages.count) packages from \(spec.sources.map(\.description).joined(separator: ", "))")
        let started = ContinuousClock.now
        do {
            old = try? PackageLock.read(file)
            lock = try await DebianBaseBuilder(cache: BlobCache(directory: state.debianCache)).lock(
                spec, recipe: recipe.name, request: DebianBases.request(base))
            try AtomicFile.write(Data(lock.yaml(recipeFile: recipe.displayPath).utf8), to: file.path)
        } catch let error as DebianError {
            Output.error("\(recipe.displayPath): \(error.description)")
            throw ExitCode(Exit.badInput)
        } catch {
            Output.error("cannot write \(file.path): \(error.localizedDescription)")
            throw ExitCode(Exit.badInput)
        }
        Output.note(
            "\(recipe.name): \(lock.packages.count) packages locked in \(shown) (\(BuildProgress.format(ContinuousClock.now - started)))")
        for line in changes(from: old, to: lock) { Output.note("  \(line)") }
        for item in lock.leftOut {
            Output.note(
                "  left out on purpose: \(item.dependent) depends on \(item.relation): \(item.dropped.joined(separator: ", ")) (\(item.reason))")
        }
        return lock
    }

    /// Writes a lock resolved earlier (by the `package-update` check) and plans `plan` again with it.
    static func write(_ lock: PackageLock, for recipe: LoadedRecipe, replacing plan: BuildPlan) throws -> BuildPlan {
        let file = PackageLock.file(beside: recipe.file)
        let old = try? PackageLock.read(file)
        do {
            try AtomicFile.write(Data(lock.yaml(recipeFile: recipe.displayPath).utf8), to: file.path)
            let plan = try DebianBases.replan(plan, recipe: recipe)
            Output.note("\(recipe.name): lock refreshed (\(file.lastPathComponent))")
            for line in changes(from: old, to: lock) { Output.note("  \(line)") }
            return plan
        } catch let error as BuildError {
            Output.error(error.description)
        } catch {
            Output.error("cannot write \(file.path): \(error.localizedDescription)")
        }
        throw ExitCode(Exit.badInput)
    }

    /// `libssl3 3.0.15-1~deb12u1 → 3.0.17-1~deb12u2 (bookworm-security)`, `+ name version`, `- name version`.
    static func changes(from old: PackageLock?, to new: PackageLock) -> [String] {
        guard let old else { return [] }
        let before = Dictionary(old.packages.map { ($0.name, $0) }) { a, _ in a }
        let after = Dictionary(new.packages.map { ($0.name, $0) }) { a, _ in a }
        var lines: [String] = []
        for name in Set(before.keys).union(after.keys).sorted() {
            switch (before[name], after[name]) {
            case (let was?, let now?) where was.version != now.version:
                lines.append("\(name) \(was.version) → \(now.version) (\(now.suite))")
            case (nil, let now?): lines.append("+ \(name) \(now.version) (\(now.suite))")
            case (let was?, nil): lines.append("- \(name) \(was.version)")
            default: continue
            }
        }
        return lines
    }
}
