import Foundation
import HardenHistory
import Testing

@testable import HardenReport

@Suite struct FleetReportTests {
    func build(
        _ id: Int64, _ recipe: String, day: Int, status: BuildRecord.Status = .succeeded, trigger: String = "schedule",
        counts: VulnerabilityCounts? = nil
    ) -> BuildRecord {
        BuildRecord(
            id: id, recipe: recipe, status: status, trigger: trigger, reasons: [], inputDigest: "sha256:in", inputParts: [:],
            baseImages: [:], runtimeImage: "sha256:" + String(repeating: "\(id % 10)", count: 64),
            startedAt: Date(timeIntervalSince1970: 1_790_000_000 + Double(day) * 86_400),
            verification: status == .succeeded ? .pass : nil, scanReport: counts == nil ? nil : "scan-\(id)",
            vulnerabilities: counts)
    }

    static let findings: [String: Set<String>] = [
        "scan-1": ["CVE-2024-1", "CVE-2024-2"], "scan-3": ["CVE-2024-2", "CVE-2024-9"],
    ]

    @Test func everyRecipeIsListedAndEachRebuildSaysWhatItRemovedAndAdded() {
        let counts = { (high: Int, low: Int) in
            VulnerabilityCounts(critical: 0, high: high, medium: 0, low: low, unknown: 0, fixable: [])
        }
        let builds = [
            build(1, "app", day: 0, trigger: "new", counts: counts(1, 1)),
            build(2, "app", day: 1, status: .failed),
            build(3, "app", day: 2, trigger: "base-update", counts: counts(0, 2)),
            build(4, "gone", day: 1, counts: nil),
            build(5, "app", day: 3, status: .skipped),
        ]
        let report = FleetReport.make(
            recipes: [
                ScheduledRecipe(name: "app", cron: "0 3 * * *", triggers: ["base-update"]), ScheduledRecipe(name: "new-one"),
            ],
            builds: builds, findings: { $0.scanReport.flatMap { Self.findings[$0] } }, since: nil,
            now: Date(timeIntervalSince1970: 1_790_500_000))
        #expect(report.recipes.map(\.recipe) == ["app", "new-one", "gone"])
        let app = report.recipes[0]
        #expect(app.builds.map(\.id) == [1, 2, 3] && app.lastBuild == 3 && app.status == "succeeded")
        #expect(app.builds[2].removed == ["CVE-2024-1"] && app.builds[2].added == ["CVE-2024-9"])
        #expect(app.builds[0].added == nil, "the first scan has nothing to compare with")
        #expect(app.vulnerabilities?.low == 2 && app.verification == "pass")
        #expect(app.nextRun == ISO8601DateFormatter().date(from: "2026-09-28T03:00:00Z"))
        #expect(app.due == "cron 0 3 * * * (UTC); on base-update")
        #expect(report.recipes[1].status == "never built" && report.recipes[1].due == "not scheduled")
        #expect(!report.recipes[2].inProject && report.recipes[2].due == "not in the project")

        let page = ReportPage.html(report)
        #expect(page.contains("<td class=\"n\">2</td>"))
        #expect(page.contains("removed CVE-2024-1; added CVE-2024-9"))
        #expect(page.contains("<svg") && page.contains("class=\"high\""))
        #expect(!page.contains("src=") && !page.contains("<link"), "the page fetches nothing")
        let markdown = ReportPage.markdown(report)
        #expect(markdown.contains("| app | #3 2026-09-"))
        #expect(markdown.contains("- #3 2026-09-") && markdown.contains("base-update: removed CVE-2024-1; added CVE-2024-9"))
    }

    @Test func textFromRecipesAndHistoryIsEscaped() {
        let report = FleetReport.make(
            recipes: [ScheduledRecipe(name: "<script>alert(1)</script>")],
            builds: [build(1, "<script>alert(1)</script>", day: 0, trigger: "a\"b<c>")], findings: { _ in nil },
            since: nil, now: Date())
        let page = ReportPage.html(report)
        #expect(!page.contains("<script>") && page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(page.contains("a&quot;b&lt;c&gt;"))
    }
}
