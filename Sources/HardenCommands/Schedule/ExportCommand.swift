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

    enum Engine: String, ExpressibleByArgument, CaseIterable {
        case dind, remote
    }

    @Option(name: .long, help: "kubernetes: the image with harden, a docker client and the project (recipes, contexts) in /project.")
    var image = "harden:latest"

    @Option(name: .long, help: "kubernetes: the namespace.")
    var namespace = "default"

    @Option(name: .long, help: "kubernetes: dind (a Docker engine Deployment and Service, TLS on 2376) or remote (--docker-host).")
    var engine: Engine = .dind

    @Option(name: .long, help: "kubernetes, --engine remote: the engine the jobs build on (tcp://host:2376, ssh://user@host).")
    var dockerHost: String?

    @Option(name: .long, help: "kubernetes: the Secret with the engine's TLS files (ca.pem, cert.pem, key.pem; server-cert.pem, server-key.pem for dind).")
    var engineTLSSecret: String?

    @Option(name: .long, help: "kubernetes: the Secret whose key 'url' is the history database (HARDEN_HISTORY, postgres://…).")
    var historySecret: String?

    @Option(name: .long, help: "kubernetes: a kubernetes.io/dockerconfigjson Secret with the registry credentials.")
    var registrySecret: String?

    @Option(name: .long, help: "kubernetes, without --history-secret: the PersistentVolumeClaim holding the SQLite history.")
    var stateClaim = "harden-state"

    @Option(name: .long, help: "kubernetes, --engine dind: the Docker engine image.")
    var dindImage = "docker:27-dind"

    @Option(name: .long, help: "github-actions: the step that installs harden.")
    var install =
        "swift build -c release --product harden && sudo cp \"$(swift build -c release --show-bin-path)/harden\" /usr/local/bin/"

    @Option(name: .long, help: "Write to this file instead of standard output.")
    var output: String?

    func validate() throws {
        if engine == .remote && dockerHost == nil { throw ValidationError("--engine remote needs --docker-host") }
        if engine == .dind && dockerHost != nil { throw ValidationError("--docker-host goes with --engine remote") }
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
            if historySecret == nil {
                Output.note(
                    "harden: no --history-secret: every CronJob keeps its history in one SQLite file on the claim \(stateClaim), which is safe on a ReadWriteOnce volume only; use a PostgreSQL history for a fleet"
                )
            }
            text = export.kubernetes(
                ScheduleExport.KubernetesOptions(
                    image: image, namespace: namespace,
                    engine: engine == .dind ? .dind(image: dindImage) : .remote(dockerHost: dockerHost ?? ""),
                    engineTLSSecret: engineTLSSecret ?? (engine == .dind ? "harden-engine-tls" : nil),
                    historySecret: historySecret, registrySecret: registrySecret, stateClaim: stateClaim))
        }
        try Output.emit(String(text.dropLast()), to: output)
    }
}
