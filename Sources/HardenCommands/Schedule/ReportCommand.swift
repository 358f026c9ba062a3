import ArgumentParser
import Foundation
import HardenHistory
import HardenReport
import HardenScan

/// `harden report`: the fleet at a glance, from the history.
struct ReportCommand: AsyncParsableCommand {
    enum Format: String, ExpressibleByArgument, CaseIterable {
        case html, markdown, json
    }

    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write the fleet report: every recipe's state, and its vulnerabilities over its builds.",
        discussion: """
            html (default) writes one static page, DIR/index.html (no external assets: it opens from a \
            file:// URL or as a CI artifact): a table of every recipe of the project, built or not (last \
            build, status, image, verification, vulnerabilities by severity, fixable, next due), and per \
            recipe a chart of its vulnerabilities by severity over its builds with each build's trigger and \
            the vulnerabilities it removed or added. markdown prints the same summary for a CI job summary; \
            json prints the data. Exit status: 0; 2 bad input or an unreadable history.
            """)

    @OptionGroup var project: ProjectOptions

    @Option(name: .long, help: "Where the HTML page goes (default: <state>/report).")
    var output: String?

    @Option(name: .long, help: "Only builds started on or after this day (YYYY-MM-DD, UTC) or instant (ISO 8601).")
    var since: String?

    @Option(name: .long, help: "html, markdown or json")
    var format: Format = .html

    func run() async throws {
        let sinceDate = try since.map(HistoryCommand.parseDate)
        let recipes = try project.loadRecipes().map { loaded in
            let schedule = loaded.recipe.schedule
            return ScheduledRecipe(
                name: loaded.recipe.name, cron: schedule?.cron, timezone: schedule?.timezone ?? "UTC",
                triggers: schedule?.triggers.map(\.rawValue) ?? [])
        }
        var builds: [BuildRecord] = []
        if let store = try await HistoryLocation.openOrExit(project.history, state: project.stateDirectory, onlyIfPresent: true) {
            do {
                builds = try await store.builds(recipe: nil, since: sinceDate, limit: 1_000_000)
            } catch {
                Output.error("cannot read the build history: \(error.description)")
                throw ExitCode(Exit.badInput)
            }
        }
        let report = FleetReport.make(
            recipes: recipes, builds: builds, findings: Self.findings, since: sinceDate, now: Date())
        switch format {
        case .json: print(Output.json(report))
        case .markdown: print(ReportPage.markdown(report), terminator: "")
        case .html:
            let directory = output ?? project.stateDirectory.root.appendingPathComponent("report").path
            let page = URL(fileURLWithPath: directory).appendingPathComponent("index.html").path
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                Output.error("cannot create \(directory): \(error.localizedDescription)")
                throw ExitCode(Exit.badInput)
            }
            try Output.emit(ReportPage.html(report), to: page)
            print(page)
        }
    }

    /// The vulnerability IDs of a build's kept scan report; nil when it is gone or unreadable.
    static func findings(_ build: BuildRecord) -> Set<String>? {
        guard let path = build.scanReport, let report = try? ScanReport.read(path: path) else { return nil }
        return Set(report.findings.map(\.vulnerability.id))
    }
}
