import Foundation
import HardenRecipe
import Testing
import Yams

@testable import HardenSchedule

/// The exported workflow and CronJobs parse as YAML and say what the recipes' schedules say.
@Suite struct ScheduleExportTests {
    let recipes = [
        Recipe(name: "nightly", schedule: Schedule(cron: "0 3 * * *")),
        Recipe(name: "berlin", schedule: Schedule(cron: "30 4 * * MON-FRI", timezone: "Europe/Berlin")),
        Recipe(name: "patched", schedule: Schedule(cron: "@weekly", triggers: [.baseUpdate, .fixableVulnerabilities])),
        Recipe(name: "unscheduled"),
        Recipe(name: "Odd_Name: \"quoted\"", schedule: Schedule(cron: "15 * * * *")),
    ]

    @Test func githubActionsHasOneScheduleEntryPerCronAndAMatrixOverTheRecipes() throws {
        let export = ScheduleExport(recipes: recipes, checkEvery: "*/30 * * * *")
        let text = export.githubActions(harden: "make install", state: ".harden")
        let workflow = try #require(try Yams.load(yaml: text) as? [String: Any])
        let on = try #require(workflow["on"] as? [String: Any])
        let crons = (on["schedule"] as? [[String: String]])?.compactMap { $0["cron"] }
        // Berlin runs hourly in UTC (GitHub has no time zones); the triggered recipe every 30 minutes.
        #expect(crons == ["*/30 * * * *", "0 * * * *", "0 3 * * *", "15 * * * *"])
        let job = try #require((workflow["jobs"] as? [String: Any])?["rebuild"] as? [String: Any])
        let matrix = try #require((job["strategy"] as? [String: Any])?["matrix"] as? [String: Any])
        #expect(matrix["recipe"] as? [String] == ["Odd_Name: \"quoted\"", "berlin", "nightly", "patched"])
        let steps = try #require(job["steps"] as? [[String: Any]])
        #expect(steps.contains { ($0["run"] as? String)?.hasPrefix("harden rebuild --due --state '.harden'") == true })
        #expect(steps.contains { ($0["run"] as? String) == "make install" })
    }

    @Test func kubernetesHasACronJobPerRecipeInItsTimeZone() throws {
        let export = ScheduleExport(recipes: recipes, checkEvery: "*/30 * * * *")
        let text = export.kubernetes(
            ScheduleExport.KubernetesOptions(
                image: "registry.local/harden:1", namespace: "builds", engine: .remote(dockerHost: "tcp://dind:2375"),
                engineTLSSecret: nil, historySecret: nil, registrySecret: nil, stateClaim: "state"))
        let documents = try Yams.load_all(yaml: text).compactMap { $0 as? [String: Any] }
        #expect(documents.count == 4)
        for document in documents {
            #expect(document["apiVersion"] as? String == "batch/v1")
            #expect(document["kind"] as? String == "CronJob")
            let name = try #require((document["metadata"] as? [String: Any])?["name"] as? String)
            #expect(name.wholeMatch(of: /[a-z0-9]([-a-z0-9]*[a-z0-9])?/) != nil && name.count <= 52, "\(name)")
            let spec = try #require(document["spec"] as? [String: Any])
            #expect(spec["concurrencyPolicy"] as? String == "Forbid")
        }
        let berlin = try #require(documents.first { ($0["metadata"] as? [String: Any])?["name"] as? String == "harden-berlin" })
        let spec = try #require(berlin["spec"] as? [String: Any])
        #expect(spec["schedule"] as? String == "30 4 * * MON-FRI")
        #expect(spec["timeZone"] as? String == "Europe/Berlin")
        let jobSpec = try #require(((spec["jobTemplate"] as? [String: Any])?["spec"] as? [String: Any]))
        let podSpec = try #require(((jobSpec["template"] as? [String: Any])?["spec"] as? [String: Any]))
        let container = try #require((podSpec["containers"] as? [[String: Any]])?.first)
        #expect(container["args"] as? [String] == ["rebuild", "--due", "--state", "/var/lib/harden", "berlin"])
        #expect((container["env"] as? [[String: Any]])?.first?["value"] as? String == "tcp://dind:2375")
        #expect(container["workingDir"] as? String == "/project")
        #expect(text.contains("harden-odd-name---quoted"))
    }
}
