import Foundation

/// Turns a recipe's YAML tree into a `Recipe`, checking every key and value.
enum RecipeParser {
    static let topKeys = [
        "name", "description", "context", "tags", "builder", "runtime", "dockerfile", "builder-target",
        "runtime-target", "policy", "scan", "schedule", "publish", "source-date-epoch",
    ]
    static let builderKeys = ["from", "workdir", "args", "env", "copy", "run"]
    static let runtimeKeys = [
        "from", "workdir", "args", "env", "run", "copy", "user", "entrypoint", "cmd", "expose", "labels", "healthcheck",
    ]
    static let copyKeys = ["from", "src", "dest", "chown"]
    static let debianKeys = [
        "suite", "packages", "exclude", "install-only", "mirror", "security-mirror", "keyring", "updates", "security",
        "architecture", "users", "layering",
    ]
    static let debianUserKeys = ["name", "uid", "gid", "home"]
    static let healthcheckKeys = ["test", "interval", "timeout", "start-period", "retries"]
    static let policyKeys = ["allow-root", "allow-shell", "allow-package-manager", "disable", "forbid-paths", "exceptions"]
    static let exceptionKeys = ["rule", "path", "reason", "expires"]
    static let scanKeys = ["scanners", "fail-on", "ignore-unfixed", "fail-on-unmatched", "ignore-file", "ignores"]
    static let ignoreKeys = ["id", "package", "reason", "justification", "expires"]
    static let scheduleKeys = ["cron", "timezone", "triggers"]
    static let publishKeys = ["to", "tags", "sign-key", "attest", "legacy-sig"]

    static func parse(_ root: YAMLField) throws(RecipeError) -> Recipe {
        let top = try root.mapping(allowed: topKeys)
        var recipe = Recipe(name: try top.required("name").string(Validate.recipeName))
        recipe.description = try top["description"]?.string()
        recipe.context = try top["context"]?.string(Validate.path) ?? "."
        recipe.tags = try top["tags"]?.strings(allowScalar: true, Validate.imageReference) ?? []
        if let builder = top["builder"] { recipe.builder = try parseBuilder(builder) }
        if let runtime = top["runtime"] { recipe.runtime = try parseRuntime(runtime, recipe: recipe.name) }
        if let dockerfile = top["dockerfile"] {
            let hint = "Dockerfile mode needs dockerfile, builder-target and runtime-target"
            recipe.dockerfile = DockerfileSource(
                path: try dockerfile.string(Validate.path),
                builderTarget: try top.required("builder-target", hint: hint).string(stageName),
                runtimeTarget: try top.required("runtime-target", hint: hint).string(stageName))
            if let stage = top["builder"] ?? top["runtime"] {
                throw stage.error(
                    "a recipe has either builder/runtime or dockerfile, not both",
                    hint: "remove \(stage.path), or remove dockerfile to let harden render the Dockerfile")
            }
        } else {
            if let target = top["builder-target"] ?? top["runtime-target"] {
                throw target.error("\(target.path) only applies with dockerfile")
            }
            guard recipe.runtime != nil else {
                throw root.error(
                    "the recipe has no runtime stage",
                    hint: "add runtime: (and usually builder:), or dockerfile: with builder-target: and runtime-target:")
            }
            if recipe.builder == nil, let step = recipe.runtime?.copy.firstIndex(where: { $0.from == .builder }) {
                throw root.error("runtime.copy[\(step)] copies from the builder stage, but the recipe has no builder")
            }
        }
        if let policy = top["policy"] { recipe.policy = try parsePolicy(policy) }
        if let scan = top["scan"] { recipe.scan = try parseScan(scan) }
        if let schedule = top["schedule"] { recipe.schedule = try parseSchedule(schedule) }
        if let publish = top["publish"] { recipe.publish = try parsePublish(publish) }
        if let epoch = top["source-date-epoch"] {
            recipe.sourceDateEpoch = Int64(try epoch.int(in: 0...253_402_300_799))  // up to 9999-12-31
        }
        return recipe
    }

    private static func ruleID(_ value: String) -> String? {
        if Policy.rules.contains(value) { return nil }
        let suggestion = Suggest.closest(to: value, among: Policy.rules).map { "; did you mean '\($0)'?" } ?? ""
        return "'\(Validate.printable(value))' is not a rule (\(Policy.rules.joined(separator: ", ")))\(suggestion)"
    }

    /// CVE-…, GHSA-…, DSA-…, PYSEC-…: letters and digits in dash-separated parts.
    private static func vulnerabilityID(_ value: String) -> String? {
        let parts = value.split(separator: "-", omittingEmptySubsequences: false)
        let valid =
            parts.count >= 2 && value.count <= 64
            && parts.allSatisfy {
                !$0.isEmpty && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ".") }
            }
        return valid ? nil : "'\(Validate.printable(value))' is not a vulnerability ID (e.g. CVE-2023-30861, GHSA-m2qf-hxjv-5gpq)"
    }

    private static func stageName(_ value: String) -> String? {
        Grammar.token(value, first: .letters, rest: .stageRest, maxLength: 128) ? nil : "'\(value)' is not a valid stage name"
    }

    private static func parseBuilder(_ field: YAMLField) throws(RecipeError) -> BuilderStage {
        let map = try field.mapping(allowed: builderKeys)
        var stage = BuilderStage(from: try map.required("from").string(Validate.imageReference))
        stage.workdir = try map["workdir"]?.string(Validate.absolutePath)
        stage.args = try map["args"]?.keyValues(key: Validate.envName) ?? []
        stage.env = try map["env"]?.keyValues(key: Validate.envName) ?? []
        stage.copy = try parseCopies(map["copy"], allowBuilder: false)
        stage.run = try map["run"]?.strings(allowScalar: true, Validate.command) ?? []
        return stage
    }

    private static func parseRuntime(_ field: YAMLField, recipe: String) throws(RecipeError) -> RuntimeStage {
        let map = try field.mapping(allowed: runtimeKeys)
        let fromField = try map.required("from", hint: "an image (from: python:3.11-slim) or Debian packages (from: {debian: …})")
        var stage: RuntimeStage
        if case .mapping = fromField.node {
            let from = try fromField.mapping(allowed: ["debian"])
            stage = RuntimeStage(from: DebianBase.imageName(recipe: recipe))
            stage.debian = try parseDebian(try from.required("debian"))
            if let run = map["run"] {
                throw run.error(
                    "runtime.run needs a shell, and a runtime made from Debian packages has none",
                    hint: "run the steps in the builder stage and copy their results, or add the files with copy")
            }
        } else {
            stage = RuntimeStage(from: try fromField.string(Validate.imageReference))
        }
        stage.workdir = try map["workdir"]?.string(Validate.absolutePath)
        stage.args = try map["args"]?.keyValues(key: Validate.envName) ?? []
        stage.env = try map["env"]?.keyValues(key: Validate.envName) ?? []
        stage.run = try map["run"]?.strings(allowScalar: true, Validate.command) ?? []
        stage.copy = try parseCopies(map["copy"], allowBuilder: true)
        stage.user = try map["user"]?.string(Validate.user)
        if let debian = stage.debian, let user = stage.user, let field = map["user"] {
            let known = ["root", "nonroot"] + (debian.users ?? []).map(\.name)
            for part in user.split(separator: ":") where Int(part) == nil && !known.contains(String(part)) {
                throw field.error(
                    "\(part) has no account in this Debian base (it has \(known.joined(separator: ", ")))",
                    hint: "add it to runtime.from.debian.users, or give a numeric uid")
            }
        }
        stage.entrypoint = try map["entrypoint"]?.strings(Validate.argument)
        stage.cmd = try map["cmd"]?.strings(Validate.argument)
        if let entrypoint = map["entrypoint"], stage.entrypoint?.isEmpty == true {
            throw entrypoint.error("runtime.entrypoint must not be empty", hint: "remove it to keep the base image's entrypoint")
        }
        if let expose = map["expose"] {
            for item in try expose.sequence(allowScalar: true) {
                stage.expose.append(try parsePort(item))
            }
        }
        stage.labels = try map["labels"]?.keyValues(key: Validate.labelKey) ?? []
        if let health = map["healthcheck"] { stage.healthcheck = try parseHealthcheck(health) }
        return stage
    }

    private static func parseDebian(_ field: YAMLField) throws(RecipeError) -> DebianBase {
        let map = try field.mapping(allowed: debianKeys)
        let packages = try map.required("packages", hint: "the packages the runtime needs, e.g. [python3.11-minimal]")
        var base = DebianBase(
            suite: try map.required("suite", hint: "a Debian suite or codename, e.g. bookworm").string(Validate.debianSuite),
            packages: try packages.strings(Validate.debianPackage))
        if base.packages.isEmpty { throw packages.error("\(packages.path) must name at least one package") }
        base.exclude = try map["exclude"]?.strings(Validate.debianPackage) ?? []
        base.installOnly = try map["install-only"]?.strings(Validate.debianPackage)
        base.mirror = try map["mirror"]?.string(Validate.mirrorURL)
        base.securityMirror = try map["security-mirror"]?.string(Validate.mirrorURL)
        base.keyring = try map["keyring"]?.string(Validate.text)
        base.updates = try map["updates"]?.bool() ?? true
        base.security = try map["security"]?.bool() ?? true
        base.architecture = try map["architecture"]?.string(Validate.debianSuite)
        for name in base.exclude where base.packages.contains(name) {
            throw field.error("\(name) is both asked for in packages and excluded", hint: "remove it from one of the two")
        }
        if let users = map["users"] { base.users = try parseDebianUsers(users) }
        if let layering = map["layering"] {
            var groups: [[String]] = []
            var seen: Set<String> = []
            for item in try layering.sequence() {
                let group = try item.strings(Validate.debianPackage)
                if group.isEmpty { throw item.error("\(item.path) must name at least one package", hint: "remove the empty group") }
                for name in group where !seen.insert(name).inserted {
                    throw item.error("\(name) is in two groups of \(layering.path)", hint: "a package goes in one layer; keep it in one group")
                }
                groups.append(group)
            }
            base.layering = groups
        }
        return base
    }

    private static func parseDebianUsers(_ field: YAMLField) throws(RecipeError) -> [DebianUser] {
        var users: [DebianUser] = []
        for item in try field.sequence() {
            let map = try item.mapping(allowed: debianUserKeys)
            let nameField = try map.required("name", hint: "the account's name, e.g. app")
            let name = try nameField.string(Validate.accountName)
            let uidField = try map.required("uid", hint: "the account's uid, e.g. 10001")
            let uid = try uidField.int(in: 1...2_147_483_647)
            let user = DebianUser(
                name: name, uid: uid, gid: try map["gid"]?.int(in: 1...2_147_483_647),
                home: try map["home"]?.string(Validate.absolutePath))
            if name == "root" || name == "nonroot" {
                throw nameField.error("\(name) is always in a Debian base", hint: "remove this entry, or give the account another name")
            }
            if uid == 65532 { throw uidField.error("uid 65532 is nonroot's", hint: "choose another uid, or run as nonroot") }
            if users.contains(where: { $0.name == name }) { throw nameField.error("\(name) is named twice in \(field.path)") }
            if users.contains(where: { $0.uid == uid }) { throw uidField.error("uid \(uid) is given twice in \(field.path)") }
            users.append(user)
        }
        return users
    }

    private static func parseCopies(_ field: YAMLField?, allowBuilder: Bool) throws(RecipeError) -> [CopyStep] {
        guard let field else { return [] }
        var steps: [CopyStep] = []
        for item in try field.sequence() {
            let map = try item.mapping(allowed: copyKeys)
            let fromField = try map.required("from", hint: "copy from 'context' or 'builder'")
            let fromName = try fromField.string()
            guard let from = CopyStep.Source(rawValue: fromName) else {
                let suggestion = Suggest.closest(to: fromName, among: CopyStep.Source.allCases.map(\.rawValue))
                throw fromField.error(
                    "\(fromField.path) must be 'context' or 'builder', not '\(fromName)'"
                        + (suggestion.map { "; did you mean '\($0)'?" } ?? ""))
            }
            if from == .builder && !allowBuilder {
                throw fromField.error("the builder stage can only copy from the context")
            }
            let sources = try map.required("src").strings(allowScalar: true, Validate.path)
            if sources.isEmpty { throw item.error("\(item.path).src must name at least one file") }
            let dest = try map.required("dest").string(Validate.path)
            let chown = try map["chown"]?.string(Validate.user)
            steps.append(CopyStep(from: from, src: sources, dest: dest, chown: chown))
        }
        return steps
    }

    private static func parsePort(_ field: YAMLField) throws(RecipeError) -> Port {
        let value = try field.string()
        let parts = value.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let number = Int(parts[0]), (1...65535).contains(number) else {
            throw field.error("\(field.path): '\(value)' is not a port (expected 1-65535, optionally /tcp or /udp)")
        }
        var proto = Port.Proto.tcp
        if parts.count == 2 {
            guard let parsed = Port.Proto(rawValue: String(parts[1])) else {
                throw field.error("\(field.path): protocol must be tcp or udp, not '\(parts[1])'")
            }
            proto = parsed
        }
        return Port(number, proto)
    }

    private static func parseHealthcheck(_ field: YAMLField) throws(RecipeError) -> Healthcheck {
        let map = try field.mapping(allowed: healthcheckKeys)
        let testField = try map.required("test", hint: "test is the command in exec form, e.g. [python3, -c, '...']")
        let test = try testField.strings(Validate.argument)
        if test.isEmpty { throw testField.error("healthcheck.test must not be empty") }
        return Healthcheck(
            test: test,
            interval: try map["interval"]?.string(Validate.duration),
            timeout: try map["timeout"]?.string(Validate.duration),
            startPeriod: try map["start-period"]?.string(Validate.duration),
            retries: try map["retries"]?.int(in: 1...100))
    }

    static func parsePolicy(_ field: YAMLField) throws(RecipeError) -> Policy {
        let map = try field.mapping(allowed: policyKeys)
        var policy = Policy()
        policy.allowRoot = try map["allow-root"]?.bool() ?? false
        policy.allowShell = try map["allow-shell"]?.bool() ?? false
        policy.allowPackageManager = try map["allow-package-manager"]?.bool() ?? false
        policy.disable = try map["disable"]?.strings(allowScalar: true, ruleID) ?? []
        policy.forbidPaths = try map["forbid-paths"]?.strings(Validate.absolutePath) ?? []
        for item in try map["exceptions"]?.sequence() ?? [] {
            let entry = try item.mapping(allowed: exceptionKeys)
            let reason = try entry.required("reason", hint: "every exception must say why it is acceptable").string()
            if reason.trimmingCharacters(in: .whitespaces).isEmpty {
                throw item.error("\(item.path).reason must not be empty")
            }
            policy.exceptions.append(
                PolicyException(
                    rule: try entry.required("rule").string(ruleID), path: try entry["path"]?.string(Validate.absolutePath),
                    reason: reason, expires: try entry["expires"]?.string(Validate.date)))
        }
        return policy
    }

    static func parseScan(_ field: YAMLField) throws(RecipeError) -> ScanSettings {
        let map = try field.mapping(allowed: scanKeys)
        var scan = ScanSettings()
        if let scanners = map["scanners"] {
            scan.scanners = try enumList(scanners, ScanSettings.Scanner.self)
        }
        if let failOn = map["fail-on"] {
            scan.failOn = try enumList(failOn, ScanSettings.Severity.self, lowercase: true)
        }
        scan.ignoreUnfixed = try map["ignore-unfixed"]?.bool() ?? false
        scan.failOnUnmatched = try map["fail-on-unmatched"]?.bool()
        scan.ignoreFile = try map["ignore-file"]?.string(Validate.path)
        for item in try map["ignores"]?.sequence() ?? [] {
            let entry = try item.mapping(allowed: ignoreKeys)
            let reason = try entry.required("reason", hint: "every ignored vulnerability must say why it is acceptable").string()
            if reason.trimmingCharacters(in: .whitespaces).isEmpty {
                throw item.error("\(item.path).reason must not be empty")
            }
            scan.ignores.append(
                ScanIgnore(
                    id: try entry.required("id").string(vulnerabilityID), package: try entry["package"]?.string(),
                    reason: reason,
                    justification: try entry["justification"].map { field throws(RecipeError) in
                        try enumValue(field, ScanIgnore.Justification.self)
                    },
                    expires: try entry["expires"]?.string(Validate.date)))
        }
        return scan
    }

    private static func parseSchedule(_ field: YAMLField) throws(RecipeError) -> Schedule {
        let map = try field.mapping(allowed: scheduleKeys)
        return Schedule(
            cron: try map["cron"]?.string(Validate.cron),
            timezone: try map["timezone"]?.string(Validate.timezone) ?? "UTC",
            triggers: try map["triggers"].map { field throws(RecipeError) in try enumList(field, Schedule.Trigger.self) } ?? [])
    }

    private static func parsePublish(_ field: YAMLField) throws(RecipeError) -> Publish {
        let map = try field.mapping(allowed: publishKeys)
        let to = try map.required("to").string(repositoryName)
        var publish = Publish(to: to)
        publish.tags = try map["tags"]?.strings(allowScalar: true, tagName) ?? ["latest"]
        if publish.tags.isEmpty, let tags = map["tags"] {
            throw tags.error("\(tags.path) is empty", hint: "name at least one tag, or leave tags out for latest")
        }
        publish.signKey = try map["sign-key"]?.string(Validate.text)
        publish.attest = try map["attest"].map { field throws(RecipeError) in try enumList(field, Publish.Attestation.self) } ?? []
        publish.legacySignatures = try map["legacy-sig"]?.bool() ?? false
        if publish.signKey == nil, let needs = map["attest"] ?? (publish.legacySignatures ? map["legacy-sig"] : nil) {
            throw needs.error(
                "\(needs.path) signs, and publish has no sign-key",
                hint: "add sign-key: a private key file (harden key generate) or env:NAME")
        }
        return publish
    }

    /// `registry/repository`: a reference with a registry host and no tag or digest.
    private static func repositoryName(_ value: String) -> String? {
        if let problem = Validate.imageReference(value) { return problem }
        let last = value.split(separator: "/").last ?? ""
        if value.contains("@") || last.contains(":") {
            return "'\(Validate.printable(value))' names a tag or digest; publish.to is registry/repository, tags go in publish.tags"
        }
        return nil
    }

    /// A tag: letters, digits, `_`, `.`, `-`, at most 128, not starting with `.` or `-`.
    private static func tagName(_ value: String) -> String? {
        let allowed = value.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
                || byte == 0x5f || byte == 0x2e || byte == 0x2d
        }
        if allowed, !value.isEmpty, value.utf8.count <= 128, !value.hasPrefix("."), !value.hasPrefix("-") { return nil }
        return "'\(Validate.printable(value))' is not a tag (letters, digits, '_', '.', '-'; at most 128; no leading '.' or '-')"
    }

    private static func enumList<T: RawRepresentable & CaseIterable>(
        _ field: YAMLField, _ type: T.Type, lowercase: Bool = false
    ) throws(RecipeError) -> [T] where T.RawValue == String {
        var result: [T] = []
        for item in try field.sequence(allowScalar: true) {
            result.append(try enumValue(item, type, lowercase: lowercase))
        }
        return result
    }

    /// One of `T`'s raw values, or an error naming them all and the nearest.
    private static func enumValue<T: RawRepresentable & CaseIterable>(
        _ field: YAMLField, _ type: T.Type, lowercase: Bool = false
    ) throws(RecipeError) -> T where T.RawValue == String {
        let allowed = T.allCases.map(\.rawValue)
        let raw = try field.string()
        guard let value = T(rawValue: lowercase ? raw.lowercased() : raw) else {
            let suggestion = Suggest.closest(to: raw, among: allowed)
            throw field.error(
                "\(field.path): '\(raw)' is not one of \(allowed.joined(separator: ", "))"
                    + (suggestion.map { "; did you mean '\($0)'?" } ?? ""))
        }
        return value
    }
}
