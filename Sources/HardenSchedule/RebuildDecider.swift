import Foundation
import HardenCron
import HardenHistory
import HardenPlan
import HardenRecipe

/// Whether one recipe must be rebuilt now, which triggers fired, and how to build it.
public struct DueDecision: Sendable, Codable, Equatable {
    public var recipe: String
    public var due: Bool
    /// The triggers that fired: `new`, `schedule`, `base-update`, `fixable-vulnerabilities`,
    /// `recipe-change`, `context-change`, `image-missing`.
    public var triggers: [String]
    /// One line per fact behind the decision, also when it is not due.
    public var reasons: [String]
    /// Pull the bases again (`--pull`).
    public var pull: Bool
    /// Build without the layer cache, so package-install steps fetch current packages.
    public var refresh: Bool
    /// Resolve the recipe's Debian packages again and write its lock before building.
    public var relock: Bool = false
    /// The next cron firing after now, when the recipe has a schedule.
    public var nextRun: Date?
}

/// Decides whether recipes are due, from their schedule, their plan (what moved since the
/// last build), the registry's current base digests and the last scan.
public struct RebuildDecider: Sendable {
    /// Wait after a failure before trying again: `firstBackoff` doubled per failure in a row, at most `maxBackoff`.
    public var firstBackoff: TimeInterval = 300
    public var maxBackoff: TimeInterval = 6 * 3600

    public init() {}

    /// - Parameters:
    ///   - registryDigests: base as named in the recipe → the digest its tag points at now (registry bases only).
    ///   - registryErrors: base → why the registry could not be asked.
    ///   - packageUpdates: for a Debian base, what the mirror has now against the lock
    ///     (`libssl3 3.0.15-1~deb12u1 → 3.0.17-1~deb12u2 (bookworm-security)`); `packageError`: why it could not be read.
    public func decide(
        recipe: Recipe, plan: BuildPlan, history: RecentAttempts, registryDigests: [String: String],
        registryErrors: [String: String] = [:], packageUpdates: [String] = [], packageError: String? = nil, now: Date
    ) -> DueDecision {
        var decision = DueDecision(recipe: recipe.name, due: false, triggers: [], reasons: [], pull: false, refresh: false)
        let schedule = recipe.schedule ?? Schedule()
        let triggers = Set(schedule.triggers)
        func fire(_ trigger: String, _ reason: String) {
            if !decision.triggers.contains(trigger) { decision.triggers.append(trigger) }
            decision.reasons.append(reason)
        }

        let zone = TimeZone(identifier: schedule.timezone) ?? TimeZone(identifier: "UTC")!
        var cron: CronExpression?
        if let text = schedule.cron {
            do {
                cron = try CronExpression(text)
            } catch {
                decision.reasons.append("schedule.cron '\(text)' is not valid: \(error.description)")
            }
        }
        decision.nextRun = cron?.next(after: now, in: zone)

        guard let last = history.lastSucceeded else {
            fire("new", "never built")
            return finish(decision, history: history, now: now)
        }

        if let cron, let firing = cron.latest(atOrBefore: now, in: zone) {
            let since = last.startedAt  // a failed run stays due, retried after its back-off
            if firing > since {
                fire(
                    "schedule",
                    "scheduled by cron '\(cron.text)' (\(schedule.timezone)) at \(Self.timestamp(firing)), last build \(Self.timestamp(since))"
                )
                decision.pull = true
                decision.refresh = true
            }
        }

        for reason in plan.reasons where plan.action == .build {
            if reason.hasPrefix("recipe field ") || reason == "Dockerfile changed" || reason.hasPrefix("harden renders") {
                if triggers.contains(.recipeChange) { fire("recipe-change", reason) }
            } else if reason.hasPrefix("context file ") {
                if triggers.contains(.contextChange) { fire("context-change", reason) }
            } else if reason.hasPrefix("package ") || reason.hasPrefix("harden assembles") {
                if triggers.contains(.packageUpdate) { fire("package-update", reason) }
            } else if reason.hasPrefix("base ") || reason.hasPrefix("image map ") {
                if triggers.contains(.baseUpdate) { fire("base-update", reason) }
            } else if reason.hasPrefix("image ") {
                fire("image-missing", reason)
            }
        }

        if triggers.contains(.baseUpdate) {
            for (base, digest) in registryDigests.sorted(by: { $0.key < $1.key }) {
                guard let built = last.baseDigests[base] else {
                    fire(
                        "base-update",
                        "base \(base) is at \(digest) in its registry; no digest was recorded for build #\(last.id ?? 0)")
                    decision.pull = true
                    continue
                }
                if built != digest {
                    fire("base-update", "base \(base) now points at \(digest) (build #\(last.id ?? 0) used \(built))")
                    decision.pull = true
                }
            }
            for (base, error) in registryErrors.sorted(by: { $0.key < $1.key }) {
                decision.reasons.append("base \(base): registry not asked: \(error)")
            }
        }

        if triggers.contains(.packageUpdate) {
            for update in packageUpdates {
                fire("package-update", "package \(update)")
                decision.relock = true
            }
            if let packageError { decision.reasons.append("Debian packages not checked for updates: \(packageError)") }
        }

        if triggers.contains(.fixableVulnerabilities), let fixable = last.vulnerabilities?.fixable, !fixable.isEmpty {
            let before = Set(history.previousSucceeded?.vulnerabilities?.fixable ?? [])
            let rebuiltForThem = last.trigger.split(separator: ",").contains("fixable-vulnerabilities")
            if rebuiltForThem && Set(fixable).isSubset(of: before) {
                decision.reasons.append(
                    "\(fixable.count) fixable vulnerabilities remain after rebuild #\(last.id ?? 0); waiting for the fixed packages to reach the mirror"
                )
            } else {
                let shown = fixable.prefix(3).joined(separator: ", ") + (fixable.count > 3 ? ", …" : "")
                fire(
                    "fixable-vulnerabilities",
                    "build #\(last.id ?? 0) has \(fixable.count) vulnerabilities with a fix available (\(shown))")
                decision.refresh = true
            }
        }
        return finish(decision, history: history, now: now)
    }

    /// Applies the back-off after failures and sets `due`.
    private func finish(_ decision: DueDecision, history: RecentAttempts, now: Date) -> DueDecision {
        var decision = decision
        decision.due = !decision.triggers.isEmpty
        if decision.due, history.failuresInARow > 0, let attempt = history.lastAttempt, attempt.status != .succeeded {
            let wait = min(maxBackoff, firstBackoff * pow(2, Double(history.failuresInARow - 1)))
            let retry = attempt.startedAt.addingTimeInterval(wait)
            if retry > now {
                decision.due = false
                decision.reasons.append(
                    "backing off: \(history.failuresInARow) failed attempt\(history.failuresInARow == 1 ? "" : "s") in a row, next try after \(Self.timestamp(retry))"
                )
            }
        }
        if decision.triggers.isEmpty { decision.reasons.insert("nothing to do", at: 0) }
        return decision
    }

    static func timestamp(_ date: Date) -> String {
        ISO8601DateFormatter().string(from: date)
    }
}
