import Foundation
import HardenCron
import HardenHistory

/// A recipe of the project as the report lists it: its name and when it is scheduled.
public struct ScheduledRecipe: Sendable {
    public var name: String
    public var cron: String?
    public var timezone: String
    /// `base-update`, `fixable-vulnerabilities`…
    public var triggers: [String]

    public init(name: String, cron: String? = nil, timezone: String = "UTC", triggers: [String] = []) {
        self.name = name
        self.cron = cron
        self.timezone = timezone
        self.triggers = triggers
    }
}

/// What `harden report` shows: every recipe, built or not, and each one's builds over time.
public struct FleetReport: Sendable, Codable, Equatable {
    /// One build of a recipe, oldest first in `RecipeRow.builds`.
    public struct Build: Sendable, Codable, Equatable {
        public var id: Int64
        public var started: Date
        public var trigger: String
        public var status: String
        public var vulnerabilities: VulnerabilityCounts?
        /// Vulnerability IDs this build has that the recipe's previous scanned build had not,
        /// and the other way round; nil when there is no previous one or either scan report is
        /// gone (or both builds share one: the same image, scanned again).
        public var added: [String]?
        public var removed: [String]?
        /// The change in the number of vulnerabilities since the previous scanned build.
        public var change: Int?
    }

    public struct RecipeRow: Sendable, Codable, Equatable {
        public var recipe: String
        /// False for a recipe that is in the history but no longer in the project.
        public var inProject: Bool
        public var lastBuild: Int64?
        public var lastBuildAt: Date?
        /// The last attempt's status, or `never built`.
        public var status: String
        /// The runtime image of the last successful build.
        public var image: String?
        public var verification: String?
        /// The last successful build's scan; nil when it was not scanned.
        public var vulnerabilities: VulnerabilityCounts?
        /// The next cron firing, when the recipe has a schedule.
        public var nextRun: Date?
        /// What else makes it due (its triggers), or that nothing schedules it.
        public var due: String
        public var builds: [Build]
    }

    public var generated: Date
    public var since: Date?
    public var recipes: [RecipeRow]

    /// - Parameters:
    ///   - builds: the history's builds (any order); skipped ones are left out.
    ///   - findings: the vulnerability IDs of a build's scan, nil when its report cannot be read.
    public static func make(
        recipes: [ScheduledRecipe], builds: [BuildRecord], findings: (BuildRecord) -> Set<String>?, since: Date?,
        now: Date
    ) -> FleetReport {
        let byRecipe = Dictionary(grouping: builds.filter { $0.status != .skipped }, by: \.recipe)
        var rows = recipes.map { row(for: $0, builds: byRecipe[$0.name] ?? [], findings: findings, inProject: true, now: now) }
        let known = Set(recipes.map(\.name))
        for name in byRecipe.keys.sorted() where !known.contains(name) {
            rows.append(
                row(
                    for: ScheduledRecipe(name: name), builds: byRecipe[name] ?? [], findings: findings, inProject: false, now: now
                ))
        }
        return FleetReport(generated: now, since: since, recipes: rows)
    }

    private static func row(
        for recipe: ScheduledRecipe, builds: [BuildRecord], findings: (BuildRecord) -> Set<String>?, inProject: Bool,
        now: Date
    ) -> RecipeRow {
        let ordered = builds.sorted { ($0.startedAt, $0.id ?? 0) < ($1.startedAt, $1.id ?? 0) }
        let last = ordered.last
        let succeeded = ordered.last { $0.status == .succeeded }
        var points: [Build] = []
        var previous: (build: BuildRecord, findings: Set<String>?)?
        for build in ordered {
            var point = Build(
                id: build.id ?? 0, started: build.startedAt, trigger: build.trigger, status: build.status.rawValue,
                vulnerabilities: build.vulnerabilities)
            if build.status == .succeeded, let counts = build.vulnerabilities {
                let current = findings(build)
                if let previous {
                    point.change = counts.total - (previous.build.vulnerabilities?.total ?? 0)
                    if let before = previous.findings, let current, previous.build.scanReport != build.scanReport {
                        point.added = current.subtracting(before).sorted()
                        point.removed = before.subtracting(current).sorted()
                    }
                }
                previous = (build, current)
            }
            points.append(point)
        }
        let zone = TimeZone(identifier: recipe.timezone) ?? TimeZone(identifier: "UTC")!
        let nextRun = recipe.cron.flatMap { try? CronExpression($0) }?.next(after: now, in: zone)
        var due: [String] = []
        if let cron = recipe.cron { due.append("cron \(cron) (\(recipe.timezone))") }
        if !recipe.triggers.isEmpty { due.append("on " + recipe.triggers.joined(separator: ", ")) }
        return RecipeRow(
            recipe: recipe.name, inProject: inProject, lastBuild: last?.id, lastBuildAt: last?.startedAt,
            status: last?.status.rawValue ?? "never built", image: succeeded?.runtimeImage,
            verification: succeeded?.verification?.rawValue, vulnerabilities: succeeded?.vulnerabilities, nextRun: nextRun,
            due: inProject ? (due.isEmpty ? "not scheduled" : due.joined(separator: "; ")) : "not in the project",
            builds: points)
    }
}
