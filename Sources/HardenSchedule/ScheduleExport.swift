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
    /// and `rebuild --due` applies its own zone. The jobs build on the runner's Docker engine; the
    /// history is `$HARDEN_HISTORY` from the repository secret of that name, shared by every run and
    /// recipe. Without the secret each recipe keeps its state in a cache of its own, and the run says so.
    public func githubActions(harden: String, state: String) -> String {
        let crons = Set(entries.map { $0.timezone == "UTC" ? $0.cron : "0 * * * *" }).sorted()
        var lines = [
            "# Written by harden export github-actions. Each job asks harden whether its recipe is due",
            "# (cron, base updates, fixable vulnerabilities, package updates, recipe or context changes)",
            "# and rebuilds it if so, on the runner's Docker engine. The build history is the database",
            "# the HARDEN_HISTORY secret names (postgres://…); without it, each recipe's history lives in",
            "# a cache entry of its own, which GitHub evicts after 7 days unused.",
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
            "    env:",
            "      HARDEN_HISTORY: ${{ secrets.HARDEN_HISTORY }}",
            "    steps:",
            "      - uses: actions/checkout@v4",
            "      - name: without HARDEN_HISTORY, fall back to a per-recipe cache",
            "        if: env.HARDEN_HISTORY == ''",
            "        run: \(Self.quote("echo \"::warning::no HARDEN_HISTORY secret: the history of ${{ matrix.recipe }} is kept in a cache of its own, not shared with other recipes or runners\""))",
            "      - name: keep harden's state between runs (fallback)",
            "        if: env.HARDEN_HISTORY == ''",
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

    /// Where the CronJobs' builds run.
    public enum KubernetesEngine: Sendable, Equatable {
        /// A Docker engine Deployment and Service in the namespace, reached over TLS on 2376.
        case dind(image: String)
        /// An engine elsewhere, at this `DOCKER_HOST`.
        case remote(dockerHost: String)
    }

    public struct KubernetesOptions: Sendable {
        /// The image with harden, a docker client and the project (recipes and contexts) at `projectDirectory`.
        public var image: String
        public var namespace: String
        public var engine: KubernetesEngine
        /// A Secret with `ca.pem`, `cert.pem`, `key.pem` for the jobs (and `server-cert.pem`,
        /// `server-key.pem` for the dind engine); nil: no TLS (remote only).
        public var engineTLSSecret: String?
        /// A Secret whose `url` key is the history database URL (`HARDEN_HISTORY`).
        public var historySecret: String?
        /// A `kubernetes.io/dockerconfigjson` Secret with the registry credentials.
        public var registrySecret: String?
        /// The PersistentVolumeClaim holding the SQLite history when there is no history Secret.
        public var stateClaim: String
        public var projectDirectory: String

        public init(
            image: String, namespace: String, engine: KubernetesEngine, engineTLSSecret: String?, historySecret: String?,
            registrySecret: String?, stateClaim: String, projectDirectory: String = "/project"
        ) {
            self.image = image
            self.namespace = namespace
            self.engine = engine
            self.engineTLSSecret = engineTLSSecret
            self.historySecret = historySecret
            self.registrySecret = registrySecret
            self.stateClaim = stateClaim
            self.projectDirectory = projectDirectory
        }
    }

    /// One CronJob per recipe (its cron and time zone, never two runs at once) and, with a dind
    /// engine, the engine's Deployment and Service. The history is the database of the history
    /// Secret; without one, a SQLite file on `stateClaim` (one job at a time, or SQLite's locks
    /// on a network filesystem decide).
    public func kubernetes(_ options: KubernetesOptions) -> String {
        var documents: [String] = []
        let dockerHost: String
        switch options.engine {
        case .dind(let image):
            documents += Self.dindEngine(image: image, namespace: options.namespace, tlsSecret: options.engineTLSSecret)
            dockerHost = "tcp://harden-engine.\(options.namespace).svc:2376"
        case .remote(let host):
            dockerHost = host
        }
        for entry in entries {
            var lines = [
                "apiVersion: batch/v1",
                "kind: CronJob",
                "metadata:",
                "  name: \(Self.quote(Self.objectName("harden-" + entry.recipe)))",
                "  namespace: \(Self.quote(options.namespace))",
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
                "        metadata:",
                "          labels:",
                "            app.kubernetes.io/name: harden",
                "        spec:",
                "          restartPolicy: Never",
                "          containers:",
                "            - name: harden",
                "              image: \(Self.quote(options.image))",
                "              workingDir: \(Self.quote(options.projectDirectory))",
                "              args: [\(["rebuild", "--due", "--state", "/var/lib/harden", entry.recipe].map(Self.quote).joined(separator: ", "))]",
                "              env:",
                "                - name: DOCKER_HOST",
                "                  value: \(Self.quote(dockerHost))",
            ]
            var mounts = ["                - name: state", "                  mountPath: /var/lib/harden"]
            var volumes: [String] = []
            if let secret = options.engineTLSSecret {
                lines += [
                    "                - name: DOCKER_TLS_VERIFY", "                  value: \"1\"",
                    "                - name: DOCKER_CERT_PATH", "                  value: /etc/harden/engine-tls",
                ]
                mounts += [
                    "                - name: engine-tls", "                  mountPath: /etc/harden/engine-tls",
                    "                  readOnly: true",
                ]
                volumes += [
                    "            - name: engine-tls",
                    "              secret:",
                    "                secretName: \(Self.quote(secret))",
                    "                items:",
                    "                  - {key: ca.pem, path: ca.pem}",
                    "                  - {key: cert.pem, path: cert.pem}",
                    "                  - {key: key.pem, path: key.pem}",
                ]
            }
            if let secret = options.historySecret {
                lines += [
                    "                - name: HARDEN_HISTORY",
                    "                  valueFrom:",
                    "                    secretKeyRef: {name: \(Self.quote(secret)), key: url}",
                ]
            }
            if let secret = options.registrySecret {
                lines += ["                - name: DOCKER_CONFIG", "                  value: /etc/harden/registry"]
                mounts += [
                    "                - name: registry", "                  mountPath: /etc/harden/registry",
                    "                  readOnly: true",
                ]
                volumes += [
                    "            - name: registry",
                    "              secret:",
                    "                secretName: \(Self.quote(secret))",
                    "                items:",
                    "                  - {key: .dockerconfigjson, path: config.json}",
                ]
            }
            lines += ["              volumeMounts:"] + mounts + ["          volumes:"]
            if options.historySecret != nil {
                // The history is in the database: the state directory only holds this run's files.
                lines += ["            - name: state", "              emptyDir: {}"]
            } else {
                lines += [
                    "            - name: state",
                    "              persistentVolumeClaim:",
                    "                claimName: \(Self.quote(options.stateClaim))",
                ]
            }
            lines += volumes
            documents.append(lines.joined(separator: "\n") + "\n")
        }
        return documents.joined(separator: "---\n")
    }

    /// A Docker engine for the jobs: privileged dockerd on TLS 2376 with the Secret's server
    /// certificate, its storage in an emptyDir (the layer cache lasts as long as the pod).
    static func dindEngine(image: String, namespace: String, tlsSecret: String?) -> [String] {
        let secret = tlsSecret ?? "harden-engine-tls"
        let deployment = [
            "apiVersion: apps/v1",
            "kind: Deployment",
            "metadata:",
            "  name: harden-engine",
            "  namespace: \(quote(namespace))",
            "  labels: {app.kubernetes.io/name: harden-engine}",
            "spec:",
            "  replicas: 1",
            "  selector:",
            "    matchLabels: {app.kubernetes.io/name: harden-engine}",
            "  template:",
            "    metadata:",
            "      labels: {app.kubernetes.io/name: harden-engine}",
            "    spec:",
            "      containers:",
            "        - name: dockerd",
            "          image: \(quote(image))",
            "          args:",
            "            - --host=tcp://0.0.0.0:2376",
            "            - --tlsverify",
            "            - --tlscacert=/certs/ca.pem",
            "            - --tlscert=/certs/server-cert.pem",
            "            - --tlskey=/certs/server-key.pem",
            "          env:",
            "            - {name: DOCKER_TLS_CERTDIR, value: \"\"}",
            "          securityContext: {privileged: true}",
            "          ports:",
            "            - {name: docker, containerPort: 2376}",
            "          readinessProbe:",
            "            tcpSocket: {port: 2376}",
            "            periodSeconds: 5",
            "          volumeMounts:",
            "            - {name: certs, mountPath: /certs, readOnly: true}",
            "            - {name: storage, mountPath: /var/lib/docker}",
            "      volumes:",
            "        - name: certs",
            "          secret:",
            "            secretName: \(quote(secret))",
            "            items:",
            "              - {key: ca.pem, path: ca.pem}",
            "              - {key: server-cert.pem, path: server-cert.pem}",
            "              - {key: server-key.pem, path: server-key.pem}",
            "        - name: storage",
            "          emptyDir: {}",
        ]
        let service = [
            "apiVersion: v1",
            "kind: Service",
            "metadata:",
            "  name: harden-engine",
            "  namespace: \(quote(namespace))",
            "spec:",
            "  selector: {app.kubernetes.io/name: harden-engine}",
            "  ports:",
            "    - {name: docker, port: 2376, targetPort: 2376}",
        ]
        return [deployment.joined(separator: "\n") + "\n", service.joined(separator: "\n") + "\n"]
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
