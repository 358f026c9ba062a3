import ArgumentParser
import Foundation
import HardenBuild
import HardenConcurrency
import HardenEngine
import HardenHistory
import HardenPlan
import HardenProcess
import HardenRecipe
import HardenSQLite

/// Loads recipes and plans them: the shared first half of `plan` and `build`.
struct Planning {
    var recipes: [LoadedRecipe]
    var plans: [BuildPlan]
    var store: any HistoryStore
    var docker: DockerClient
    /// The engine's view of every base and previous image, by reference.
    var engine: [String: EngineImage]

    /// `forBuild`: the plans will be built (the engine is also asked about reusable builder images).
    /// `loaded` sees the recipes as soon as they are loaded, before the engine is asked anything.
    static func make(
        _ options: ProjectOptions, force: Bool = false, forBuild: Bool = true, loaded: ([LoadedRecipe]) -> Void = { _ in }
    ) async throws -> Planning {
        let docker = options.dockerClient()
        // The first engine request sets up the HTTP client and its connection: done while the
        // recipes, image map and history are read, the inspect below finds them ready.
        let warming = Task { await docker.warmUp() }
        defer { warming.cancel() }
        let recipes = try options.loadRecipes()
        loaded(recipes)
        if forBuild {
            // A Debian base is built from its lock: one that is missing or stale is written first.
            for recipe in recipes where recipe.recipe.runtime?.debian != nil {
                let plan: DebianBasePlan?
                do { plan = try DebianBases.plan(for: recipe) } catch {
                    Output.error(error.description)
                    throw ExitCode(Exit.badInput)
                }
                if plan?.usable == nil { try await PackageLocking.lock(recipe, state: options.stateDirectory) }
            }
        }
        let planner: Planner
        do {
            planner = Planner(
                imageMap: try options.loadImageMap(),
                environmentEpoch: try SourceDateEpoch.fromEnvironment(ProcessInfo.processInfo.environment))
        } catch {
            Output.error(error.description)
            throw ExitCode(Exit.badInput)
        }
        let store = try await options.openStore()
        for build in store.recovered {
            let directory = options.stateDirectory.buildDirectory(recipe: build.recipe, build: build.id).path + "/"
            let stopped = LeftoverProcesses.stop(mentioning: directory)
            Output.error(
                "note: build #\(build.id) of \(build.recipe) was abandoned by a harden that stopped; recorded as interrupted"
                    + (stopped.isEmpty
                        ? ""
                        : ", and its leftover docker build (pid \(stopped.map(String.init).joined(separator: ", "))) stopped"))
        }
        do {
            let previous = try await store.latestSucceeded()
            let engine = try await docker.inspect(
                try planner.engineReferences(for: recipes, previous: previous, builders: forBuild))
            let hasher = ContextHasher(known: try await store.fileHashes())
            let results = ParallelResults<Result<BuildPlan, BuildError>>(count: recipes.count)
            DispatchQueue.concurrentPerform(iterations: recipes.count) { index in
                let recipe = recipes[index]
                results[index] = Result { () throws(BuildError) in
                    try planner.plan(recipe, engine: engine, previous: previous[recipe.name], hasher: hasher, force: force)
                }
            }
            let plans = try results.values.compactMap { try $0?.get() }
            try await store.saveFileHashes(hasher.newHashes)
            return Planning(recipes: recipes, plans: plans, store: store, docker: docker, engine: engine)
        } catch let error as DockerError {
            Output.error(error.description)
        } catch let error as BuildError {
            Output.error(error.description)
        } catch let error as StoreError {
            Output.error(error.description)
        }
        throw ExitCode(Exit.badInput)
    }
}

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Say what would be built, and why, without building.",
        discussion: "Exit status: 0 planned; 2 bad recipe, image map or no Docker engine.")

    @OptionGroup var project: ProjectOptions

    @Option(name: .long, help: "text or json")
    var format: OutputFormat = .text

    @Flag(name: .long, help: "Print each recipe's Dockerfile.")
    var dockerfile = false

    func run() async throws {
        let planning = try await Planning.make(project, forBuild: false)
        switch format {
        case .json:
            print(Output.json(planning.plans.map(PlanReport.init)))
        case .text:
            for plan in planning.plans {
                switch plan.action {
                case .build:
                    print("\(plan.recipe) (\(plan.file)): build")
                    for reason in plan.reasons { print("  - \(reason)") }
                case .skip:
                    print("\(plan.recipe) (\(plan.file)): \(plan.reasons.joined(separator: "; "))")
                }
                if let lock = plan.debianBase?.usable {
                    print("  Debian base: \(lock.packages.count) packages from \(lock.suite) (\(plan.debianBase?.tag ?? ""))")
                    for item in lock.leftOut {
                        print(
                            "  left out on purpose: \(item.dependent) depends on \(item.relation): \(item.dropped.joined(separator: ", ")) (\(item.reason))"
                        )
                    }
                }
                if dockerfile {
                    print("")
                    print(
                        plan.dockerfile.split(separator: "\n", omittingEmptySubsequences: false).map { "    " + $0 }.joined(
                            separator: "\n"))
                }
            }
        }
    }
}

/// The JSON shape of one plan (the Dockerfile included as text).
struct PlanReport: Encodable {
    var recipe: String
    var file: String
    var action: String
    var reasons: [String]
    var inputDigest: String
    var inputParts: [String: String]
    var baseImages: [String: String]
    var resolvedBases: [String: String]
    var missingBases: [String]
    var previousBuild: Int64?
    var dockerfile: String

    init(_ plan: BuildPlan) {
        recipe = plan.recipe
        file = plan.file
        action = plan.action.rawValue
        reasons = plan.reasons
        inputDigest = plan.inputDigest
        inputParts = plan.inputParts
        baseImages = plan.baseImages
        resolvedBases = plan.resolvedBases
        missingBases = plan.missingBases
        previousBuild = plan.previousBuild
        dockerfile = plan.dockerfile
    }
}
