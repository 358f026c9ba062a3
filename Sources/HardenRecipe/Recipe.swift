import Foundation

/// A hardened image, as declared by one `Recipes/*.yaml` file.
///
/// Either `builder` + `runtime` (harden renders the Dockerfile) or
/// `dockerfile` (an existing multi-stage Dockerfile and its two targets).
public struct Recipe: Sendable, Equatable, Codable {
    public var name: String
    public var description: String?
    /// The build context, relative to the recipe file.
    public var context: String
    public var tags: [String]
    public var builder: BuilderStage?
    public var runtime: RuntimeStage?
    public var dockerfile: DockerfileSource?
    public var policy: Policy
    public var scan: ScanSettings
    public var schedule: Schedule?
    /// Where `build --push` and `rebuild --due` push the image, and how it is signed.
    public var publish: Publish?
    /// Seconds since 1970 for every time in the image; nil: from the environment or git.
    public var sourceDateEpoch: Int64?

    public init(
        name: String, description: String? = nil, context: String = ".", tags: [String] = [],
        builder: BuilderStage? = nil, runtime: RuntimeStage? = nil, dockerfile: DockerfileSource? = nil,
        policy: Policy = Policy(), scan: ScanSettings = ScanSettings(), schedule: Schedule? = nil
    ) {
        self.name = name
        self.description = description
        self.context = context
        self.tags = tags
        self.builder = builder
        self.runtime = runtime
        self.dockerfile = dockerfile
        self.policy = policy
        self.scan = scan
        self.schedule = schedule
    }

    /// Every base image the engine must have, builder first (a runtime made from Debian
    /// packages is assembled by harden, not looked up).
    public var baseImages: [String] {
        [builder?.from, runtime?.debian == nil ? runtime?.from : nil].compactMap { $0 }
    }
}

/// An ordered `NAME: value` pair (env, args, labels keep their YAML order).
public struct KeyValue: Sendable, Equatable, Codable {
    public var key: String
    public var value: String
    public init(_ key: String, _ value: String) {
        self.key = key
        self.value = value
    }
}

public struct BuilderStage: Sendable, Equatable, Codable {
    public var from: String
    public var workdir: String?
    public var args: [KeyValue]
    public var env: [KeyValue]
    public var copy: [CopyStep]
    public var run: [String]

    public init(
        from: String, workdir: String? = nil, args: [KeyValue] = [], env: [KeyValue] = [],
        copy: [CopyStep] = [], run: [String] = []
    ) {
        self.from = from
        self.workdir = workdir
        self.args = args
        self.env = env
        self.copy = copy
        self.run = run
    }
}

public struct RuntimeStage: Sendable, Equatable, Codable {
    /// The base image; for a `debian` base, the local name harden gives the assembled image.
    public var from: String
    /// Debian packages harden assembles into the base, instead of an image.
    public var debian: DebianBase?
    public var workdir: String?
    public var args: [KeyValue]
    public var env: [KeyValue]
    /// Steps run in the runtime stage before files are copied (e.g. `apk add`); the
    /// base must have a shell for these.
    public var run: [String]
    public var copy: [CopyStep]
    public var user: String?
    public var entrypoint: [String]?
    public var cmd: [String]?
    public var expose: [Port]
    public var labels: [KeyValue]
    public var healthcheck: Healthcheck?

    public init(
        from: String, workdir: String? = nil, args: [KeyValue] = [], env: [KeyValue] = [],
        run: [String] = [], copy: [CopyStep] = [], user: String? = nil, entrypoint: [String]? = nil,
        cmd: [String]? = nil, expose: [Port] = [], labels: [KeyValue] = [], healthcheck: Healthcheck? = nil
    ) {
        self.from = from
        self.workdir = workdir
        self.args = args
        self.env = env
        self.run = run
        self.copy = copy
        self.user = user
        self.entrypoint = entrypoint
        self.cmd = cmd
        self.expose = expose
        self.labels = labels
        self.healthcheck = healthcheck
    }
}

/// A runtime base made from Debian packages (`runtime.from.debian`): resolved from the
/// suite's signed indexes, locked in `<recipe>.lock.yaml`, assembled with no maintainer script.
public struct DebianBase: Sendable, Equatable, Codable {
    public var suite: String
    public var packages: [String]
    /// Left out wherever they are wanted (printed as deliberately broken dependencies).
    public var exclude: [String]
    /// Replaces harden's list of packages only maintainer scripts need; nil: that list.
    public var installOnly: [String]?
    /// nil: the host's apt sources for the suite, else deb.debian.org.
    public var mirror: String?
    public var securityMirror: String?
    /// nil: Debian's archive keyring.
    public var keyring: String?
    public var updates: Bool
    public var security: Bool
    /// nil: the host's.
    public var architecture: String?
    /// Accounts beside root and nonroot in `/etc/passwd` and `/etc/group`; nil: none.
    public var users: [DebianUser]?
    /// Package groups, a layer each, in order; the packages no group names go in one last
    /// layer. nil: one layer.
    public var layering: [[String]]?

    public init(suite: String, packages: [String]) {
        self.suite = suite
        self.packages = packages
        exclude = []
        updates = true
        security = true
    }

    /// The local image name of a recipe's assembled base (a tag per lock is added to it).
    public static func imageName(recipe: String) -> String { "harden-base/\(recipe)" }

    /// What resolution depends on: everything but the accounts and the layering.
    public var resolutionSettings: DebianBase {
        var settings = self
        settings.users = nil
        settings.layering = nil
        return settings
    }
}

/// An account of a Debian base (`runtime.from.debian.users`).
public struct DebianUser: Sendable, Equatable, Codable {
    public var name: String
    public var uid: Int
    public var gid: Int
    /// Absolute; created, owned by the account, mode 0700.
    public var home: String

    public init(name: String, uid: Int, gid: Int? = nil, home: String? = nil) {
        self.name = name
        self.uid = uid
        self.gid = gid ?? uid
        self.home = home ?? "/home/\(name)"
    }
}

/// One `COPY`: from the build context or from the builder stage.
public struct CopyStep: Sendable, Equatable, Codable {
    public enum Source: String, Sendable, Codable, CaseIterable {
        case context
        case builder
    }
    public var from: Source
    public var src: [String]
    public var dest: String
    public var chown: String?

    public init(from: Source, src: [String], dest: String, chown: String? = nil) {
        self.from = from
        self.src = src
        self.dest = dest
        self.chown = chown
    }
}

public struct Port: Sendable, Equatable, Codable, CustomStringConvertible {
    public enum Proto: String, Sendable, Codable {
        case tcp, udp
    }
    public var number: Int
    public var proto: Proto
    public init(_ number: Int, _ proto: Proto = .tcp) {
        self.number = number
        self.proto = proto
    }
    public var description: String { proto == .tcp ? "\(number)" : "\(number)/\(proto.rawValue)" }
}

/// A `HEALTHCHECK` in exec form; durations as Docker writes them (`30s`, `1m30s`).
public struct Healthcheck: Sendable, Equatable, Codable {
    public var test: [String]
    public var interval: String?
    public var timeout: String?
    public var startPeriod: String?
    public var retries: Int?

    public init(test: [String], interval: String? = nil, timeout: String? = nil, startPeriod: String? = nil, retries: Int? = nil)
    {
        self.test = test
        self.interval = interval
        self.timeout = timeout
        self.startPeriod = startPeriod
        self.retries = retries
    }
}

/// An existing multi-stage Dockerfile, relative to the recipe.
public struct DockerfileSource: Sendable, Equatable, Codable {
    public var path: String
    public var builderTarget: String
    public var runtimeTarget: String
    public init(path: String, builderTarget: String, runtimeTarget: String) {
        self.path = path
        self.builderTarget = builderTarget
        self.runtimeTarget = runtimeTarget
    }
}

/// What the final image must satisfy. Rule settings beyond these live with the verifier.
public struct Policy: Sendable, Equatable, Codable {
    /// The verifier's rules, by ID.
    public static let rules = [
        "shell", "package-manager", "root-user", "shell-form", "missing-executable", "setuid", "world-writable",
        "device-node", "forbidden-path",
    ]

    public var allowRoot: Bool
    public var allowShell: Bool
    public var allowPackageManager: Bool
    /// Rules turned off entirely.
    public var disable: [String]
    /// Absolute paths or globs (`*`, `?`, `[…]`) that must not exist in the image.
    public var forbidPaths: [String]
    public var exceptions: [PolicyException]

    public init(
        allowRoot: Bool = false, allowShell: Bool = false, allowPackageManager: Bool = false, disable: [String] = [],
        forbidPaths: [String] = [], exceptions: [PolicyException] = []
    ) {
        self.allowRoot = allowRoot
        self.allowShell = allowShell
        self.allowPackageManager = allowPackageManager
        self.disable = disable
        self.forbidPaths = forbidPaths
        self.exceptions = exceptions
    }

    /// Whether a rule applies under this policy.
    public func enables(_ rule: String) -> Bool {
        if disable.contains(rule) { return false }
        switch rule {
        case "shell": return !allowShell
        case "package-manager": return !allowPackageManager
        case "root-user": return !allowRoot
        default: return true
        }
    }
}

/// An allowed violation: always justified, optionally expiring (`YYYY-MM-DD`).
public struct PolicyException: Sendable, Equatable, Codable {
    public var rule: String
    /// An absolute path or glob; nil covers every finding of the rule.
    public var path: String?
    public var reason: String
    public var expires: String?
    public init(rule: String, path: String? = nil, reason: String, expires: String? = nil) {
        self.rule = rule
        self.path = path
        self.reason = reason
        self.expires = expires
    }
}

public struct ScanSettings: Sendable, Equatable, Codable {
    public enum Scanner: String, Sendable, Codable, CaseIterable {
        case builtin, trivy, grype
    }
    public enum Severity: String, Sendable, Codable, CaseIterable {
        case critical, high, medium, low, unknown
    }
    public var scanners: [Scanner]
    public var failOn: [Severity]
    public var ignoreUnfixed: Bool
    /// A `.trivyignore` or `.trivyignore.yaml`, relative to the context.
    public var ignoreFile: String?
    /// Accepted vulnerabilities, each with a reason and optionally a last day.
    public var ignores: [ScanIgnore] = []
    /// `fail-on-unmatched`: packages that could not be checked fail the gate. Nil when not
    /// given (false), so recipes that do not set it keep their input digest.
    public var failOnUnmatched: Bool?

    public init(
        scanners: [Scanner] = [.builtin], failOn: [Severity] = [.critical, .high], ignoreUnfixed: Bool = false,
        ignoreFile: String? = nil
    ) {
        self.scanners = scanners
        self.failOn = failOn
        self.ignoreUnfixed = ignoreUnfixed
        self.ignoreFile = ignoreFile
    }
}

/// One accepted vulnerability in a recipe's `scan.ignores`.
public struct ScanIgnore: Sendable, Equatable, Codable {
    /// Why the image is not affected, in OpenVEX 0.2.0's words (`harden vex` writes it).
    public enum Justification: String, Sendable, Codable, CaseIterable {
        case componentNotPresent = "component_not_present"
        case vulnerableCodeNotPresent = "vulnerable_code_not_present"
        case vulnerableCodeNotInExecutePath = "vulnerable_code_not_in_execute_path"
        case vulnerableCodeCannotBeControlledByAdversary = "vulnerable_code_cannot_be_controlled_by_adversary"
        case inlineMitigationsAlreadyExist = "inline_mitigations_already_exist"
    }

    public var id: String
    public var package: String?
    public var reason: String
    public var justification: Justification?
    /// The last day (YYYY-MM-DD) it applies.
    public var expires: String?

    public init(
        id: String, package: String? = nil, reason: String, justification: Justification? = nil, expires: String? = nil
    ) {
        self.id = id
        self.package = package
        self.reason = reason
        self.justification = justification
        self.expires = expires
    }
}

/// The recipe's `publish:` section.
public struct Publish: Sendable, Equatable, Codable {
    public enum Attestation: String, Sendable, Codable, CaseIterable {
        case sbom, provenance, vex
    }
    /// `registry/repository`, without tag or digest.
    public var to: String
    public var tags: [String]
    /// A private key's path (relative to the project), or `env:NAME`.
    public var signKey: String?
    public var attest: [Attestation]
    /// Also cosign 2's `.sig` and `.att` tags.
    public var legacySignatures: Bool

    public init(
        to: String, tags: [String] = ["latest"], signKey: String? = nil, attest: [Attestation] = [],
        legacySignatures: Bool = false
    ) {
        self.to = to
        self.tags = tags
        self.signKey = signKey
        self.attest = attest
        self.legacySignatures = legacySignatures
    }

    /// `to:tag` for each tag.
    public var destinations: [String] { tags.map { "\(to):\($0)" } }
}

public struct Schedule: Sendable, Equatable, Codable {
    public enum Trigger: String, Sendable, Codable, CaseIterable {
        case baseUpdate = "base-update"
        case fixableVulnerabilities = "fixable-vulnerabilities"
        case recipeChange = "recipe-change"
        case contextChange = "context-change"
        /// The mirror has a newer version of a package in the recipe's lock (a Debian base).
        case packageUpdate = "package-update"
    }
    public var cron: String?
    public var timezone: String
    public var triggers: [Trigger]

    public init(cron: String? = nil, timezone: String = "UTC", triggers: [Trigger] = []) {
        self.cron = cron
        self.timezone = timezone
        self.triggers = triggers
    }
}
