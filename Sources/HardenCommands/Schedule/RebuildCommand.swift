import ArgumentParser
import Foundation
import HardenAdvisories
import HardenBuild
import HardenEngine
import HardenHistory
import HardenPlan
import HardenRecipe
import HardenRegistry
import HardenScan
import HardenSchedule

struct RebuildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild",
        abstract: "Rebuild the recipes that are due: by their cron schedule or their triggers.",
        discussion: """
            One shot, for system cron, a Kubernetes CronJob or a CI schedule. A recipe is due when its \
            cron time has passed since its last build, or one of its schedule.triggers fired: base-update \
            (a base tag points at another digest in its registry, or a local base has another image ID), \
            fixable-vulnerabilities (the last scan found vulnerabilities with a fix), recipe-change, \
            context-change. A recipe never built is due. Scheduled and base-update rebuilds pull the bases; \
            scheduled and fixable rebuilds run without the layer cache so package installs fetch current \
            packages. Each rebuild is verified and scanned like harden build. After failures a recipe backs \
            off (5 minutes, doubling, at most 6 hours). A rebuilt recipe with a publish: section is pushed \
            and signed as it says (--no-push: not). Exit status: 0 nothing failed; 1 a rebuild or its push failed; \
            2 bad input or no Docker engine; 130 interrupted.
            """)

    @OptionGroup var project: ProjectOptions

    @Flag(
        name: .long,
        help: "Rebuild only what is due (the only mode so far; required, so that a bare 'harden rebuild' does not surprise).")
    var due = false

    @Flag(name: .long, help: "Do not push what was rebuilt, even for recipes with a publish: section.")
    var noPush = false

    @Flag(name: .long, help: "Say what would be rebuilt and why, without building.")
    var dryRun = false

    @Option(name: .long, help: "How many recipes to build at once.")
    var jobs: Int = 1

    @Option(name: .long, help: "text or json")
    var format: OutputFormat = .text

    @Option(name: .long, help: Advisories.optionHelp)
    var advisories: String?

    @Option(name: .long, help: "A registry reached over plain HTTP (besides localhost and 127.0.0.0/8); repeatable.")
    var insecureRegistry: [String] = []

    @Flag(name: .long, help: "Show the full build logs, and how long planning and the registry took, on stderr.")
    var verbose = false

    func validate() throws {
        guard due else { throw ValidationError("say --due: harden rebuild rebuilds what is due") }
        guard (1...64).contains(jobs) else { throw ValidationError("--jobs must be from 1 to 64") }
    }

    func run() async throws {
        let started = ContinuousClock.now
        let planning = try await Planning.make(project, forBuild: !dryRun)
        if verbose {
            Output.note("planning: \(planning.plans.count) recipes loaded and planned in \(ScanPipeline.seconds(since: started))")
        }
        let deciding = ContinuousClock.now
        let (decisions, packages) = try await DueCheck.decide(
            planning, insecureRegistries: insecureRegistry, state: project.stateDirectory, now: Date())
        if verbose {
            Output.note("deciding: history read and registries asked in \(ScanPipeline.seconds(since: deciding))")
        }
        if dryRun {
            switch format {
            case .json: print(Output.json(decisions))
            case .text: DueCheck.printDecisions(decisions)
            }
            return
        }
        let advisories = try Advisories.load(advisories, state: project.stateDirectory.root.path)
        var outcomes = try await DueCheck.rebuild(
            decisions, planning: planning, project: project, jobs: jobs, advisories: advisories, packages: packages,
            progress: BuildProgress(verbose: verbose))
        if !noPush {
            let publishing = Publishing(
                directory: project.stateDirectory, history: planning.store, insecureRegistries: insecureRegistry)
            let recipes = Dictionary(uniqueKeysWithValues: planning.recipes.map { ($0.name, $0.recipe) })
            await publishing.publishBuilt(&outcomes, recipes: recipes, project: project.rootURL, upToDate: false)
        }
        switch format {
        case .json: print(Output.json(RebuildReport(decisions: decisions, outcomes: outcomes)))
        case .text:
            DueCheck.printDecisions(decisions.filter { !$0.due })
            BuildSummary.print(outcomes)
        }
        if outcomes.contains(where: { $0.status == .interrupted }) { throw ExitCode(Exit.interrupted) }
        if outcomes.contains(where: { $0.status == .failed || $0.publishError != nil }) { throw ExitCode(Exit.failure) }
    }
}

struct RebuildReport: Codable {
    var decisions: [DueDecision]
    var outcomes: [BuildOutcome]
}

/// The decisions and rebuilds shared by `rebuild --due` and `watch`.
enum DueCheck {
    /// Decides for every planned recipe, asking each registry once per distinct base, concurrently.
    static func decide(
        _ planning: Planning, insecureRegistries: [String], state: StateDirectory, now: Date
    ) async throws -> (decisions: [DueDecision], packages: [String: PackageUpdates.Check]) {
        let attempts: [String: RecentAttempts]
        do {
            attempts = try await planning.store.attempts()
        } catch {
            Output.error(error.description)
            throw ExitCode(Exit.badInput)
        }
        let recipes = Dictionary(uniqueKeysWithValues: planning.recipes.map { ($0.name, $0) })
        let credentials: DockerCredentials
        do {
            credentials = try DockerCredentials.load()
        } catch {
            Output.error(error.description)
            throw ExitCode(Exit.badInput)
        }
        let client = RegistryClient(credentials: credentials, insecureRegistries: Set(insecureRegistries))
        var asked: [String: ImageReference] = [:]
        for plan in planning.plans {
            guard let recipe = recipes[plan.recipe], recipe.recipe.schedule?.triggers.contains(.baseUpdate) == true else {
                continue
            }
            for reference in plan.resolvedBases.values where asked[reference] == nil {
                // Local only: compared by image ID (the planner does).
                if let image = planning.engine[reference], image.registryDigest(for: reference) == nil { continue }
                if let parsed = try? ImageReference(parsing: reference) { asked[reference] = parsed }
            }
        }
        let answers = await client.digests(of: Array(Set(asked.values)))
        let packages = await PackageUpdates.check(planning, state: state)
        let decisions = planning.plans.compactMap { plan -> DueDecision? in
            guard let recipe = recipes[plan.recipe] else { return nil }
            var digests: [String: String] = [:]
            var errors: [String: String] = [:]
            for (base, reference) in plan.resolvedBases {
                guard let parsed = asked[reference], let answer = answers[parsed] else { continue }
                switch answer {
                case .success(let digest): digests[base] = digest
                case .failure(let error): errors[base] = error.description
                }
            }
            return RebuildDecider().decide(
                recipe: recipe.recipe, plan: plan, history: attempts[plan.recipe] ?? RecentAttempts(),
                registryDigests: digests, registryErrors: errors, packageUpdates: packages[plan.recipe]?.updates ?? [],
                packageError: packages[plan.recipe]?.error, now: now)
        }
        return (decisions, packages)
    }

    /// Builds the due recipes, grouped by how they must be built; the trigger is recorded.
    static func rebuild(
        _ decisions: [DueDecision], planning: Planning, project: ProjectOptions, jobs: Int, advisories: AdvisoryMatcher?,
        packages: [String: PackageUpdates.Check] = [:], progress: BuildProgress
    ) async throws -> [BuildOutcome] {
        let runner = BuildRunner(
            docker: planning.docker, store: planning.store, state: project.stateDirectory, progress: progress)
        let recipes = Dictionary(uniqueKeysWithValues: planning.recipes.map { ($0.name, $0) })
        let plans = Dictionary(uniqueKeysWithValues: planning.plans.map { ($0.recipe, $0) })
        var groups: [String: (options: BuildOptions, plans: [BuildPlan])] = [:]
        for decision in decisions where decision.due {
            guard var plan = plans[decision.recipe] else { continue }
            if decision.relock, let recipe = recipes[decision.recipe], let fresh = packages[decision.recipe]?.fresh {
                plan = try PackageLocking.write(fresh, for: recipe, replacing: plan)
            }
            plan.action = .build
            plan.reasons = decision.reasons
            let trigger = decision.triggers.joined(separator: ",")
            let key = "\(decision.pull) \(decision.refresh) \(trigger)"
            var group =
                groups[key] ?? (
                    BuildOptions(
                        jobs: jobs, noCache: decision.refresh, pull: decision.pull, trigger: trigger, advisories: advisories), []
                )
            group.plans.append(plan)
            groups[key] = group
        }
        var outcomes: [BuildOutcome] = []
        for key in groups.keys.sorted() {
            guard let group = groups[key] else { continue }
            outcomes += await StopSignals.cancellable { await runner.run(group.plans, recipes: recipes, options: group.options) }
            if outcomes.contains(where: { $0.status == .interrupted }) { break }
        }
        return outcomes
    }

    static func printDecisions(_ decisions: [DueDecision]) {
        for decision in decisions {
            let next = decision.nextRun.map { ", next scheduled run \(ISO8601DateFormatter().string(from: $0))" } ?? ""
            if decision.due {
                let how = [
                    decision.pull ? "pull bases" : nil, decision.refresh ? "no layer cache" : nil,
                    decision.relock ? "refresh the lock" : nil,
                ].compactMap { $0 }
                print(
                    "\(decision.recipe): due (\(decision.triggers.joined(separator: ", ")))\(how.isEmpty ? "" : "; " + how.joined(separator: ", "))"
                )
            } else {
                print("\(decision.recipe): not due\(next)")
            }
            for reason in decision.reasons where reason != "nothing to do" { print("  - \(reason)") }
        }
    }
}
