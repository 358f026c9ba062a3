import Foundation
import HardenRecipe

/// Renders the recipes' schedules for engines that run them elsewhere: a GitHub Actions
/// workflow and Kubernetes CronJobs. Each run is `harden rebuild --due RECIPE`, which decides
/// itself whether the recipe is due, so the schedules here only say when to ask.
public struct ScheduleExport: Sendable {
    public struct Entry: Sendable {
        public var recipe: String
        /// When to ask: the recipe's cron, or `checkEvery` when it has event triggers.
        public var cron: String
        public var timezone: String
    }

    public var entries: [Entry]

    /// - Parameter checkEvery: how often recipes with triggers (base-update, fixable-vulnerabilities,
    ///   recipe-change, context-change) are checked; their own cron is checked at the same times.
    public init(recipes: [Recipe], checkEvery: String) {
        entries = recipes.compactMap { recipe in
            guard let schedule = recipe.schedule else { return nil }
            if !schedule.triggers.isEmpty { return Entry(recipe: recipe.name, cron: checkEvery, timezone: "UTC") }
            guard let cron = schedule.cron else { return nil }
            return Entry(recipe: recipe.name, cron: cron, timezone: schedule.timezone)
        }.sorted { $0.recipe < $1.recipe }
    }

    /// A workflow with one `schedule` entry per distinct cron and a matrix over the recipes.
    /// GitHub runs schedules in UTC: a recipe in another time zone is checked hourly instead,
    /// and `rebuild --due` applies its own zone.
    public func githubActions(harden: String, state: String) -> String {
        let crons = Set(entries.map { $0.timezone == "UTC" ? $0.cron : "0 * * * *" }).sorted()
        var lines = [
            "# Written by harden export github-actions. Each job asks harden whether its recipe is due",
            "# (cron, base updates, fixable vulnerabilities, recipe or context changes) and rebuilds it if so.",
            "name: harden rebuild",
            "on:",
            "  schedule:",
        ]
        lines += crons.map { "    - cron: \(Self.quote($0))" }
        lines += [
            "  workflow_dispatch: {}",
            "permissions:",
            "  contents: read",
            "jobs:",
            "  rebuild:",
            "    runs-on: ubuntu-latest",
            "    strategy:",
            "      fail-fast: false",
            "      matrix:",
            "        recipe: [\(entries.map { Self.quote($0.recipe) }.joined(separator: ", "))]",
            "    concurrency:",
            "      group: harden-${{ matrix.recipe }}",
            "      cancel-in-progress: false",
            "    steps:",
            "      - uses: actions/checkout@v4",
            "      - name: keep harden's history between runs",
            "        uses: actions/cache@v4",
            "        with:",
            "          path: \(Self.quote(state))",
            "          key: harden-state-${{ matrix.recipe }}-${{ github.run_id }}",
            "          restore-keys: harden-state-${{ matrix.recipe }}-",
            "      - name: install harden",
            "        run: \(Self.quote(harden))",
            "      - name: rebuild if due",
            "        run: harden rebuild --due --state \(Self.shellQuote(state)) \"${{ matrix.recipe }}\"",
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    /// One CronJob per recipe, never two runs at once, the history on a persistent volume.
    public func kubernetes(image: String, namespace: String, stateClaim: String, dockerHost: String?) -> String {
        entries.map { entry in
            var lines = [
                "apiVersion: batch/v1",
                "kind: CronJob",
                "metadata:",
                "  name: \(Self.quote(Self.objectName("harden-" + entry.recipe)))",
                "  namespace: \(Self.quote(namespace))",
                "  labels:",
                "    app.kubernetes.io/name: harden",
                "    harden/recipe: \(Self.quote(Self.labelValue(entry.recipe)))",
                "spec:",
                "  schedule: \(Self.quote(entry.cron))",
                "  timeZone: \(Self.quote(entry.timezone))",
                "  concurrencyPolicy: Forbid",
                "  startingDeadlineSeconds: 3600",
                "  successfulJobsHistoryLimit: 3",
                "  failedJobsHistoryLimit: 3",
                "  jobTemplate:",
                "    spec:",
                "      backoffLimit: 0",
                "      template:",
                "        spec:",
                "          restartPolicy: Never",
                "          containers:",
                "            - name: harden",
                "              image: \(Self.quote(image))",
                "              args: [\(["rebuild", "--due", "--state", "/var/lib/harden", entry.recipe].map(Self.quote).joined(separator: ", "))]",
            ]
            if let dockerHost {
                lines += [
                    "              env:",
                    "                - name: DOCKER_HOST",
                    "                  value: \(Self.quote(dockerHost))",
                ]
            }
            lines += [
                "              volumeMounts:",
                "                - name: state",
                "                  mountPath: /var/lib/harden",
                "          volumes:",
                "            - name: state",
                "              persistentVolumeClaim:",
                "                claimName: \(Self.quote(stateClaim))",
            ]
            return lines.joined(separator: "\n") + "\n"
        }.joined(separator: "---\n")
    }

    /// A YAML double-quoted scalar (JSON string syntax is valid YAML).
    static func quote(_ text: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        let data = (try? encoder.encode(text)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    static func shellQuote(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// A DNS-1123 name of at most 52 characters (CronJob names leave room for the Job suffix).
    static func objectName(_ text: String) -> String {
        let lowered = text.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }
        let name = String(lowered.prefix(52)).trimmingCharacters(in: CharacterSet(charactersIn: "-"))
        return name.isEmpty ? "harden" : name
    }

    static func labelValue(_ text: String) -> String {
        let cleaned = text.map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "-" }
        return String(String(cleaned).prefix(63)).trimmingCharacters(in: CharacterSet(charactersIn: "-_."))
    }
}
