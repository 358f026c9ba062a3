import ArgumentParser
import Foundation
import HardenAdvisories
import HardenBuild
import HardenEngine
import HardenScan
import HardenSchedule

struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Run as a service: sleep until a recipe is due, rebuild it, repeat.",
        discussion: """
            Each round reloads the recipes, decides like 'rebuild --due' and rebuilds what is due. It then \
            sleeps until the next cron time, the end of a failure back-off, or --interval when a recipe has \
            triggers to check. SIGTERM or SIGINT stops it: while idle at once (exit 0); during a build the \
            build is cancelled and recorded as interrupted (exit 130). A round that cannot plan (a recipe \
            error, no engine) is reported and retried after --interval. Never two builds of one recipe at \
            once, across processes too (a lock per recipe in the state directory). A rebuilt recipe with a \
            publish: section is pushed and signed as it says (--no-push: not); a push that fails is \
            reported, and watch goes on.
            """)

    @OptionGroup var project: ProjectOptions

    @Option(name: .long, help: "How often triggers are checked: 30s, 5m, 1h.")
    var interval: String = "5m"

    @Option(name: .long, help: "How many recipes to build at once.")
    var jobs: Int = 1

    @Option(name: .long, help: Advisories.optionHelp)
    var advisories: String?

    @Option(name: .long, help: "A registry reached over plain HTTP (besides localhost and 127.0.0.0/8); repeatable.")
    var insecureRegistry: [String] = []

    @Flag(name: .long, help: "Do not push what was rebuilt, even for recipes with a publish: section.")
    var noPush = false

    @Flag(name: .long, help: "Show the full build logs on stderr.")
    var verbose = false

    func validate() throws {
        guard Self.seconds(interval) != nil else {
            throw ValidationError("--interval '\(interval)' is not a duration: say 30s, 5m or 1h")
        }
        guard (1...64).contains(jobs) else { throw ValidationError("--jobs must be from 1 to 64") }
    }

    func run() async throws {
        let pause = Self.seconds(interval) ?? 300
        let matcher = try Advisories.load(advisories, state: project.stateDirectory.root.path)
        let interrupted = await StopSignals.cancellable { () -> Bool in
            var interrupted = false
            while !Task.isCancelled {
                let wake = await round(pause: pause, advisories: matcher, interrupted: &interrupted)
                if interrupted { break }
                Output.note("harden watch: next check at \(ISO8601DateFormatter().string(from: wake))")
                try? await Task.sleep(for: .seconds(max(1, wake.timeIntervalSinceNow)))
            }
            return interrupted
        }
        Output.note("harden watch: stopped")
        if interrupted { throw ExitCode(Exit.interrupted) }
    }

    /// One round; returns when to wake for the next.
    private func round(pause: TimeInterval, advisories: AdvisoryMatcher?, interrupted: inout Bool) async -> Date {
        let now = Date()
        let retry = now.addingTimeInterval(pause)
        let planning: Planning
        let decisions: [DueDecision]
        let packages: [String: PackageUpdates.Check]
        do {
            planning = try await Planning.make(project)
            (decisions, packages) = try await DueCheck.decide(
                planning, insecureRegistries: insecureRegistry, state: project.stateDirectory, now: now)
        } catch {
            Output.note("harden watch: this round could not plan (see above); trying again in \(interval)")
            return retry
        }
        let due = decisions.filter(\.due)
        if !due.isEmpty {
            Output.note(
                "harden watch: due: \(due.map { "\($0.recipe) (\($0.triggers.joined(separator: ", ")))" }.joined(separator: "; "))"
            )
            var outcomes =
                (try? await DueCheck.rebuild(
                    decisions, planning: planning, project: project, jobs: jobs, advisories: advisories, packages: packages,
                    progress: BuildProgress(verbose: verbose))) ?? []
            if !noPush {
                let publishing = Publishing(
                    directory: project.stateDirectory, history: planning.store, insecureRegistries: insecureRegistry)
                let recipes = Dictionary(uniqueKeysWithValues: planning.recipes.map { ($0.name, $0.recipe) })
                await publishing.publishBuilt(&outcomes, recipes: recipes, project: project.rootURL, upToDate: false)
            }
            BuildSummary.print(outcomes)
            if outcomes.contains(where: { $0.status == .interrupted }) {
                interrupted = true
                return now
            }
        }
        var wake = decisions.compactMap(\.nextRun).min() ?? retry
        let checksTriggers = planning.recipes.contains { !($0.recipe.schedule?.triggers.isEmpty ?? true) }
        if checksTriggers || decisions.contains(where: { $0.reasons.contains { $0.hasPrefix("backing off") } }) {
            wake = min(wake, retry)
        }
        return wake
    }

    /// "30s", "5m", "2h", or plain seconds.
    static func seconds(_ text: String) -> TimeInterval? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600]
        if let unit = text.last.flatMap({ units[$0] }), let value = Double(text.dropLast()), value > 0 { return value * unit }
        if let value = Double(text), value > 0 { return value }
        return nil
    }
}
