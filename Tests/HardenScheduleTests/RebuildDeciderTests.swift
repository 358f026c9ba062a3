import Foundation
import HardenHistory
import HardenRecipe
import Testing

@testable import HardenPlan
@testable import HardenSchedule

/// Due decisions for each trigger, from plans and history records made here.
@Suite struct RebuildDeciderTests {
    static func date(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    func recipe(cron: String? = nil, timezone: String = "UTC", triggers: [Schedule.Trigger] = []) -> Recipe {
        Recipe(
            name: "app", builder: BuilderStage(from: "base:1"), runtime: RuntimeStage(from: "runtime:1"),
            schedule: Schedule(cron: cron, timezone: timezone, triggers: triggers))
    }

    func plan(_ reasons: [String] = []) -> BuildPlan {
        BuildPlan(
            recipe: "app", file: "Recipes/app.yaml", action: reasons.isEmpty ? .skip : .build,
            reasons: reasons.isEmpty ? ["up to date (build #3, image sha256:aaaaaaaaaaaa)"] : reasons, inputDigest: "sha256:in",
            inputParts: [:], baseImages: [:], resolvedBases: ["base:1": "base:1", "runtime:1": "runtime:1"], missingBases: [],
            previousBuild: 3, previousImage: "sha256:aaa", dockerfile: "")
    }

    func build(
        _ id: Int64, status: BuildRecord.Status = .succeeded, trigger: String = "manual", at started: String,
        baseDigests: [String: String] = [:], fixable: [String]? = nil
    ) -> BuildRecord {
        BuildRecord(
            id: id, recipe: "app", status: status, trigger: trigger, reasons: [], inputDigest: "sha256:in", inputParts: [:],
            baseImages: [:], startedAt: Self.date(started), baseDigests: baseDigests,
            vulnerabilities: fixable.map { VulnerabilityCounts(high: $0.count, fixable: $0) })
    }

    func history(_ builds: BuildRecord...) -> RecentAttempts {
        var recent = RecentAttempts()
        for record in builds.sorted(by: { $0.id! > $1.id! }) { recent.add(record) }
        return recent
    }

    let decider = RebuildDecider()

    @Test func aRecipeNeverBuiltIsDue() {
        let decision = decider.decide(
            recipe: recipe(), plan: plan(["new recipe"]), history: RecentAttempts(), registryDigests: [:], now: Date())
        #expect(decision.due)
        #expect(decision.triggers == ["new"])
    }

    @Test func cronIsDueOncePastItsTimeSinceTheLastBuild() {
        let last = history(build(3, at: "2026-11-22T03:00:10Z"))
        let before = decider.decide(
            recipe: recipe(cron: "0 3 * * *"), plan: plan(), history: last, registryDigests: [:],
            now: Self.date("2026-11-23T02:59:00Z"))
        #expect(!before.due)
        #expect(before.nextRun == Self.date("2026-11-23T03:00:00Z"))
        let after = decider.decide(
            recipe: recipe(cron: "0 3 * * *"), plan: plan(), history: last, registryDigests: [:],
            now: Self.date("2026-11-23T03:00:30Z"))
        #expect(after.due)
        #expect(after.triggers == ["schedule"])
        #expect(after.pull && after.refresh)
    }

    @Test func cronUsesTheRecipesTimeZone() {
        // 03:00 in Berlin is 02:00 UTC in winter.
        let last = history(build(3, at: "2026-11-22T02:00:10Z"))
        let decision = decider.decide(
            recipe: recipe(cron: "0 3 * * *", timezone: "Europe/Berlin"), plan: plan(), history: last, registryDigests: [:],
            now: Self.date("2026-11-23T02:30:00Z"))
        #expect(decision.due)
        #expect(decision.reasons.first?.contains("Europe/Berlin") == true)
    }

    @Test func recipeAndContextChangesCountOnlyWhenTheirTriggerIsListed() {
        let last = history(build(3, at: "2026-11-22T03:00:00Z"))
        let changed = plan(["recipe field runtime.env changed", "context file app.py changed"])
        let none = decider.decide(recipe: recipe(), plan: changed, history: last, registryDigests: [:], now: Date())
        #expect(!none.due)
        let recipeOnly = decider.decide(
            recipe: recipe(triggers: [.recipeChange]), plan: changed, history: last, registryDigests: [:], now: Date())
        #expect(recipeOnly.due)
        #expect(recipeOnly.triggers == ["recipe-change"])
        let both = decider.decide(
            recipe: recipe(triggers: [.recipeChange, .contextChange]), plan: changed, history: last, registryDigests: [:],
            now: Date())
        #expect(both.triggers == ["recipe-change", "context-change"])
        #expect(!both.pull && !both.refresh)
    }

    @Test func aBaseTagThatMovedInItsRegistryIsDueWithPull() {
        let last = history(build(3, at: "2026-11-22T03:00:00Z", baseDigests: ["base:1": "sha256:old"]))
        let moved = decider.decide(
            recipe: recipe(triggers: [.baseUpdate]), plan: plan(), history: last, registryDigests: ["base:1": "sha256:new"],
            now: Date())
        #expect(moved.due)
        #expect(moved.triggers == ["base-update"])
        #expect(moved.pull)
        #expect(moved.reasons.contains("base base:1 now points at sha256:new (build #3 used sha256:old)"))
        let same = decider.decide(
            recipe: recipe(triggers: [.baseUpdate]), plan: plan(), history: last, registryDigests: ["base:1": "sha256:old"],
            now: Date())
        #expect(!same.due)
        let notListed = decider.decide(
            recipe: recipe(triggers: [.recipeChange]), plan: plan(), history: last, registryDigests: ["base:1": "sha256:new"],
            now: Date())
        #expect(!notListed.due)
    }

    @Test func aLocalBaseWithAnotherImageIDIsABaseUpdate() {
        let last = history(build(3, at: "2026-11-22T03:00:00Z"))
        let decision = decider.decide(
            recipe: recipe(triggers: [.baseUpdate]), plan: plan(["base base:1 is now sha256:2 (was sha256:1)"]),
            history: last, registryDigests: [:], now: Date())
        #expect(decision.due)
        #expect(decision.triggers == ["base-update"])
    }

    @Test func fixableVulnerabilitiesAreDueUntilARebuildForThemChangesNothing() {
        let found = history(build(3, at: "2026-11-22T03:00:00Z", fixable: ["CVE-2024-1 openssl"]))
        let first = decider.decide(
            recipe: recipe(triggers: [.fixableVulnerabilities]), plan: plan(), history: found, registryDigests: [:], now: Date())
        #expect(first.due)
        #expect(first.refresh)
        #expect(first.triggers == ["fixable-vulnerabilities"])

        // The rebuild for them still has them: the fix has not reached the mirror yet; do not loop.
        let stuck = history(
            build(3, at: "2026-11-22T03:00:00Z", fixable: ["CVE-2024-1 openssl"]),
            build(4, trigger: "fixable-vulnerabilities", at: "2026-11-22T04:00:00Z", fixable: ["CVE-2024-1 openssl"]))
        let again = decider.decide(
            recipe: recipe(triggers: [.fixableVulnerabilities]), plan: plan(), history: stuck, registryDigests: [:], now: Date())
        #expect(!again.due)
        #expect(again.reasons.contains { $0.contains("remain after rebuild #4") })

        // A new fixable one appeared after that rebuild: due again.
        let newer = history(
            build(3, at: "2026-11-22T03:00:00Z", fixable: ["CVE-2024-1 openssl"]),
            build(
                4, trigger: "fixable-vulnerabilities", at: "2026-11-22T04:00:00Z",
                fixable: ["CVE-2024-1 openssl", "CVE-2024-2 zlib"]))
        #expect(
            decider.decide(
                recipe: recipe(triggers: [.fixableVulnerabilities]), plan: plan(), history: newer, registryDigests: [:],
                now: Date()
            ).due)
    }

    @Test func failuresBackOffDoublingEachTime() {
        let failing = history(
            build(3, at: "2026-11-22T03:00:00Z"),
            build(4, status: .failed, trigger: "schedule", at: "2026-11-23T03:00:00Z"),
            build(5, status: .failed, trigger: "schedule", at: "2026-11-23T03:05:00Z"))
        #expect(failing.failuresInARow == 2)
        let soon = decider.decide(
            recipe: recipe(cron: "0 3 * * *"), plan: plan(), history: failing, registryDigests: [:],
            now: Self.date("2026-11-23T03:14:00Z"))
        #expect(!soon.due)
        #expect(
            soon.reasons.contains { $0.hasPrefix("backing off: 2 failed attempts in a row, next try after 2026-11-23T03:15:00Z") }
        )
        // A failed scheduled run stays due; after the back-off it is tried again.
        let later = decider.decide(
            recipe: recipe(cron: "0 3 * * *"), plan: plan(), history: failing, registryDigests: [:],
            now: Self.date("2026-11-23T03:16:00Z"))
        #expect(later.due)
        #expect(later.triggers == ["schedule"])
    }

    @Test func anInvalidCronIsReportedNotFatal() {
        let decision = decider.decide(
            recipe: recipe(cron: "61 * * * *"), plan: plan(), history: history(build(3, at: "2026-11-22T03:00:00Z")),
            registryDigests: [:], now: Date())
        #expect(!decision.due)
        #expect(decision.reasons.contains { $0.hasPrefix("schedule.cron '61 * * * *' is not valid") })
    }
}
