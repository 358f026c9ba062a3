import ArgumentParser
import Foundation
import HardenAdvisories
import HardenBuild
import HardenEngine
import HardenPlan
import HardenProcess
import HardenRecipe
import HardenScan

struct BuildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Plan, then build the builder and runtime stages of each recipe that needs it.",
        discussion: """
            Each built runtime image is normalized (canonical layers, every time at SOURCE_DATE_EPOCH: \
            the recipe's source-date-epoch, else $SOURCE_DATE_EPOCH, else the last commit of the recipe \
            and its context, else 0), loaded back into the engine under its reproducible ID, tagged, \
            and kept in the state directory as a docker-archive and an OCI layout. \
            With --push, each recipe with a publish: section is then pushed to its tags and signed as it \
            says (see harden push). \
            Exit status: 0 all built or up to date (and pushed); 1 a build, policy or push failure; 2 bad input or no \
            Docker engine; 130 interrupted (Ctrl-C, SIGTERM).
            """)

    @OptionGroup var project: ProjectOptions

    @Option(name: .long, help: "How many recipes to build at once.")
    var jobs: Int = 1

    @Flag(name: .long, help: "Build even when up to date (the engine's layer cache still applies).")
    var force = false

    @Flag(name: .long, help: "Build even when up to date, without the engine's layer cache.")
    var noCache = false

    @Flag(name: .long, help: "Pull newer base images while building.")
    var pull = false

    @Flag(name: .long, help: "Build twice without cache and fail unless both give the same digest (implies --no-cache).")
    var checkReproducible = false

    @Flag(name: .long, help: "Show the full build logs on stderr.")
    var verbose = false

    @Flag(name: .long, help: "Push (and sign) each recipe's image as its publish: section says, built now or up to date.")
    var push = false

    @Option(name: .long, help: "A registry reached over plain HTTP (besides localhost and 127.0.0.0/8); repeatable.")
    var insecureRegistry: [String] = []

    @Option(name: .long, help: "text or json")
    var format: OutputFormat = .text

    @Option(name: .long, help: Advisories.optionHelp)
    var advisories: String?

    func validate() throws {
        guard (1...64).contains(jobs) else { throw ValidationError("--jobs must be from 1 to 64") }
    }

    func run() async throws {
        var epochs: SourceDateEpochLookups?
        defer { epochs?.cancel() }
        let rebuildAll = force || noCache || checkReproducible
        let planning = try await Planning.make(project, force: rebuildAll) { recipes in
            // Every recipe will be built: `git log` runs while planning. Otherwise a recipe that
            // turns out up to date would pay for a git process it does not need.
            guard rebuildAll else { return }
            epochs = SourceDateEpochLookups(
                recipes: recipes, environment: ProcessInfo.processInfo.environment, runner: ProcessRunner(),
                commits: project.stateDirectory.sourceDateEpochs)
        }
        let progress = BuildProgress(verbose: verbose)
        let runner = BuildRunner(
            docker: planning.docker, store: planning.store, state: project.stateDirectory, progress: progress)
        let recipes = Dictionary(uniqueKeysWithValues: planning.recipes.map { ($0.name, $0) })
        let options = BuildOptions(
            jobs: jobs, noCache: noCache || checkReproducible, pull: pull,
            advisories: try Advisories.load(advisories, state: project.stateDirectory.root.path),
            checkReproducible: checkReproducible, epochs: epochs)
        let plans = planning.plans
        var outcomes = await StopSignals.cancellable { await runner.run(plans, recipes: recipes, options: options) }
        if push {
            let publishing = Publishing(
                directory: project.stateDirectory, history: planning.store, insecureRegistries: insecureRegistry)
            await publishing.publishBuilt(
                &outcomes, recipes: recipes.mapValues(\.recipe), project: project.rootURL, upToDate: true)
        }

        switch format {
        case .json: print(Output.json(outcomes))
        case .text: BuildSummary.print(outcomes)
        }
        if outcomes.contains(where: { $0.status == .interrupted }) { throw ExitCode(Exit.interrupted) }
        if outcomes.contains(where: { $0.status == .failed || $0.publishError != nil }) { throw ExitCode(Exit.failure) }
    }
}

/// The text summary of a `build` or `rebuild` run: one block per recipe.
enum BuildSummary {
    static func print(_ outcomes: [BuildOutcome]) {
        for outcome in outcomes {
            let build = outcome.buildID.map { " #\($0)" } ?? ""
            switch outcome.status {
            case .succeeded:
                Swift.print("\(outcome.recipe)\(build): built \(outcome.runtimeImage ?? "?")")
                Swift.print("  why: \(outcome.reasons.joined(separator: "; "))")
                Swift.print("  tags: \(outcome.tags.joined(separator: ", "))")
                let times = [("builder", outcome.builderSeconds), ("runtime", outcome.runtimeSeconds)]
                    .compactMap { name, seconds in seconds.map { String(format: "%@ %.1fs", name, $0) } }
                Swift.print("  stages: \(times.joined(separator: ", "))")
                if let raw = outcome.rawRuntimeImage, let epoch = outcome.sourceDateEpoch {
                    Swift.print("  normalized: from \(raw), SOURCE_DATE_EPOCH \(epoch.description)")
                }
                if let check = outcome.reproducibility, check.identical {
                    Swift.print("  reproducible: a second build without cache gave the same image")
                }
                if let archive = outcome.imageArchive { Swift.print("  saved: \(archive)") }
                if let layout = outcome.ociLayout, let manifest = outcome.manifestDigest {
                    Swift.print("  oci layout: \(layout) (manifest \(manifest))")
                }
                if let report = outcome.verifyReport { Swift.print("  verified: pass (\(report))") }
                for pushed in outcome.published ?? [] { Swift.print("  pushed: \(pushed)") }
                if let error = outcome.publishError { Swift.print("  push failed: \(error)") }
                if let report = outcome.scanReport {
                    let counts = ["critical", "high", "medium", "low", "unknown"].map {
                        "\($0) \(outcome.vulnerabilities?[$0] ?? 0)"
                    }
                    let unchecked = outcome.unchecked.flatMap { $0 > 0 ? "; \($0) packages not checked" : nil } ?? ""
                    Swift.print("  scanned: pass, \(counts.joined(separator: ", "))\(unchecked) (\(report))")
                }
            case .skipped:
                Swift.print(
                    "\(outcome.recipe)\(build): skipped, \((outcome.error.map { [$0] } ?? outcome.reasons).joined(separator: "; "))"
                )
                for pushed in outcome.published ?? [] { Swift.print("  pushed: \(pushed)") }
                if let error = outcome.publishError { Swift.print("  push failed: \(error)") }
            case .failed, .interrupted:
                Swift.print("\(outcome.recipe)\(build): \(outcome.status.rawValue)")
                if let error = outcome.error {
                    Swift.print(
                        error.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n"))
                }
            }
        }
    }
}
