import ArgumentParser
import Foundation
import HardenBuild
import HardenCron
import HardenSchedule

struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the recipes' schedules for another engine: a GitHub Actions workflow or Kubernetes CronJobs.",
        discussion: """
            Every scheduled run is 'harden rebuild --due RECIPE', which decides itself whether the recipe \
            is due. Recipes with triggers are checked every --check-every; recipes with only a cron run at \
            their cron. Exit status: 0; 2 bad recipes or options.
            """)

    enum Target: String, ExpressibleByArgument, CaseIterable {
        case githubActions = "github-actions"
        case kubernetes
    }

    @Argument(help: "github-actions or kubernetes")
    var target: Target

    @OptionGroup var project: ProjectOptions

    @Option(name: .long, help: "How often recipes with triggers are checked (a cron expression).")
    var checkEvery = "*/30 * * * *"

    @Option(name: .long, help: "kubernetes: the image that has harden, the recipes and a docker client.")
    var image = "harden:latest"

    @Option(name: .long, help: "kubernetes: the namespace.")
    var namespace = "default"

    @Option(name: .long, help: "kubernetes: the PersistentVolumeClaim that keeps harden's state between runs.")
    var stateClaim = "harden-state"

    @Option(name: .long, help: "kubernetes: the Docker engine the jobs build on (DOCKER_HOST).")
    var dockerHost: String?

    @Option(name: .long, help: "github-actions: the step that installs harden.")
    var install =
        "swift build -c release --product harden && sudo cp \"$(swift build -c release --show-bin-path)/harden\" /usr/local/bin/"

    @Option(name: .long, help: "Write to this file instead of standard output.")
    var output: String?

    func validate() throws {
        do {
            _ = try CronExpression(checkEvery)
        } catch {
            throw ValidationError("--check-every '\(checkEvery)': \(error.description)")
        }
    }

    func run() async throws {
        let recipes = try project.loadRecipes()
        let export = ScheduleExport(recipes: recipes.map(\.recipe), checkEvery: checkEvery)
        if export.entries.isEmpty {
            Output.error("no recipe has a schedule: add schedule.cron or schedule.triggers to a recipe")
            throw ExitCode(Exit.badInput)
        }
        let text: String
        switch target {
        case .githubActions:
            text = export.githubActions(harden: install, state: project.state)
        case .kubernetes:
            text = export.kubernetes(image: image, namespace: namespace, stateClaim: stateClaim, dockerHost: dockerHost)
        }
        try Output.emit(String(text.dropLast()), to: output)
    }
}
