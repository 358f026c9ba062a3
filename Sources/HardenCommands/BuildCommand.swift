import ArgumentParser
import Foundation
import HardenBuild
import HardenScan
import HardenRecipe

struct BuildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Plan, then build the builder and runtime stages of each recipe that needs it.",
        discussion: """
            Each built runtime image is tagged and saved (docker save) into the state directory. \
            Exit status: 0 all built or up to date; 1 a build or policy failure; 2 bad input or no \
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

    @Flag(name: .long, help: "Show the full build logs on stderr.")
    var verbose = false

    @Option(name: .long, help: "text or json")
    var format: OutputFormat = .text

    @Option(name: .long, help: "A directory of OSV advisories for recipes scanned by builtin (default: $HARDEN_ADVISORIES).")
    var advisories: String?

    func validate() throws {
        guard (1...64).contains(jobs) else { throw ValidationError("--jobs must be from 1 to 64") }
    }

    func run() async throws {
        let planning = try await Planning.make(project, force: force || noCache)
        let progress = Progress(verbose: verbose)
        let runner = BuildRunner(
            docker: planning.docker, store: planning.store, state: project.stateDirectory, progress: progress)
        let recipes = Dictionary(uniqueKeysWithValues: planning.recipes.map { ($0.name, $0) })
        var options = BuildOptions(jobs: jobs, noCache: noCache, pull: pull)
        if let directory = advisories ?? ProcessInfo.processInfo.environment["HARDEN_ADVISORIES"], !directory.isEmpty {
            do {
                options.advisories = try AdvisoryStore.load(directory: directory)
            } catch {
                Output.error(error.description)
                throw ExitCode(Exit.badInput)
            }
        }
        let plans = planning.plans
        let task = Task { await runner.run(plans, recipes: recipes, options: options) }
        let signals = SignalForwarder(cancelling: task)
        let outcomes = await task.value
        withExtendedLifetime(signals) {}

        switch format {
        case .json: print(Output.json(outcomes))
        case .text: printSummary(outcomes)
        }
        if outcomes.contains(where: { $0.status == .interrupted }) { throw ExitCode(Exit.interrupted) }
        if outcomes.contains(where: { $0.status == .failed }) { throw ExitCode(Exit.failure) }
    }

    private func printSummary(_ outcomes: [BuildOutcome]) {
        for outcome in outcomes {
            let build = outcome.buildID.map { " #\($0)" } ?? ""
            switch outcome.status {
            case .succeeded:
                print("\(outcome.recipe)\(build): built \(outcome.runtimeImage ?? "?")")
                print("  why: \(outcome.reasons.joined(separator: "; "))")
                print("  tags: \(outcome.tags.joined(separator: ", "))")
                let times = [("builder", outcome.builderSeconds), ("runtime", outcome.runtimeSeconds)]
                    .compactMap { name, seconds in seconds.map { String(format: "%@ %.1fs", name, $0) } }
                print("  stages: \(times.joined(separator: ", "))")
                if let archive = outcome.imageArchive { print("  saved: \(archive)") }
                if let report = outcome.verifyReport { print("  verified: pass (\(report))") }
                if let report = outcome.scanReport {
                    let counts = ["critical", "high", "medium", "low", "unknown"].map { "\($0) \(outcome.vulnerabilities?[$0] ?? 0)" }
                    print("  scanned: pass, \(counts.joined(separator: ", ")) (\(report))")
                }
            case .skipped:
                print(
                    "\(outcome.recipe)\(build): skipped, \((outcome.error.map { [$0] } ?? outcome.reasons).joined(separator: "; "))"
                )
            case .failed, .interrupted:
                print("\(outcome.recipe)\(build): \(outcome.status.rawValue)")
                if let error = outcome.error {
                    print(
                        error.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n"))
                }
            }
        }
    }
}

/// Turns SIGINT and SIGTERM into cancellation of one task (which stops the
/// running `docker build` process group and records the build as interrupted).
final class SignalForwarder {
    private let sources: [any DispatchSourceSignal]

    init<T>(cancelling task: Task<T, Never>) {
        sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                FileHandle.standardError.write(
                    Data("\nharden: stopping (signal \(number)); the running build is recorded as interrupted\n".utf8))
                task.cancel()
            }
            source.resume()
            return source
        }
    }

    deinit {
        for source in sources { source.cancel() }
    }
}
