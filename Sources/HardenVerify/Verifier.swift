import Foundation
import HardenImage
import HardenRecipe

/// Runs the rules over an image's final filesystem and config, under a policy.
public struct Verifier: Sendable {
    public var policy: Policy
    /// "Today", for exception expiry (midnight UTC of the date is the end of validity).
    public var now: Date

    /// Files whose content the rules read; see `ImageReader.capture`.
    public static let capturedPaths: Set<String> = ["/etc/passwd", "/etc/group"]

    /// Executable names of shells (also the Debian packages that ship them, for `HardenDebian`).
    public static let shells: Set<String> = [
        "sh", "bash", "rbash", "dash", "ash", "zsh", "ksh", "ksh93", "mksh", "lksh", "pdksh", "yash", "csh", "tcsh",
        "fish", "posh", "busybox", "toybox",
    ]
    /// Executable names of package managers.
    public static let packageManagers: Set<String> = [
        "apt", "apt-get", "aptitude", "dpkg", "dpkg-deb", "apk", "yum", "dnf", "microdnf", "rpm", "zypper", "pacman",
        "pip", "pip3", "npm", "gem",
    ]

    public init(policy: Policy = Policy(), now: Date = Date()) {
        self.policy = policy
        self.now = now
    }

    public func verify(_ contents: ImageContents) -> VerifyReport {
        let image = contents.image
        let view = contents.filesystem
        let config = image.config.config
        var found: [Finding] = []
        let enabled = Policy.rules.filter { policy.enables($0) }

        func layerFinding(_ rule: String, _ message: String, path: String, node: FileNode) -> Finding {
            let layer = image.layers.indices.contains(node.layer) ? image.layers[node.layer] : nil
            return Finding(
                rule: rule, severity: RuleInfo.descriptions[rule]?.severity ?? .error, message: message, path: path,
                layer: layer?.name, layerIndex: layer?.index, createdBy: layer?.createdBy)
        }
        func configFinding(_ rule: String, _ message: String, instruction: String) -> Finding {
            let step = image.config.history?.last { ($0.createdBy ?? "").contains(instruction) }?.createdBy
            return Finding(
                rule: rule, severity: RuleInfo.descriptions[rule]?.severity ?? .error, message: message, createdBy: step)
        }

        // A program found by name counts when it is a binary, or a script where commands are looked up
        // (a bin directory or the PATH): /etc/cron.daily/dpkg is a cron job, not dpkg.
        let searchPath = Set((config?.searchPath ?? []).compactMap { try? view.resolve($0) })
        func onPath(_ path: String) -> Bool {
            let directory = (path as NSString).deletingLastPathComponent
            let base = (directory as NSString).lastPathComponent
            return base == "bin" || base == "sbin" || searchPath.contains(directory)
        }

        // Files: shells, package managers, modes, device nodes, forbidden paths.
        var hasShell = false
        let pythonPath =
            (config?.env ?? []).first { $0.hasPrefix("PYTHONPATH=") }
            .map { $0.dropFirst(11).split(separator: ":").map(String.init) } ?? []
        for path in view.nodes.keys.sorted() where path != "/" {
            guard let node = view.nodes[path] else { continue }
            let name = String(path[path.index(after: path.lastIndex(of: "/")!)...])
            let linked = node.hardlinkOf.map { " (a hardlink of \($0))" } ?? ""
            switch node.kind {
            case .file:
                if let multiCall = node.content.multiCall {
                    hasShell = true
                    let renamed = name == multiCall ? "" : " under the name '\(name)'"
                    found.append(
                        layerFinding(
                            "shell", "\(path) is \(multiCall)\(renamed), a multi-call binary with a shell\(linked)", path: path,
                            node: node))
                } else if Self.shells.contains(name), Self.runnable(node), node.content.kind == .elf || onPath(path) {
                    hasShell = true
                    found.append(layerFinding("shell", "\(path) is a shell\(linked)", path: path, node: node))
                }
                if Self.isPackageManager(name), Self.runnable(node), node.content.kind == .elf || onPath(path) {
                    found.append(layerFinding("package-manager", "\(path) is a package manager\(linked)", path: path, node: node))
                }
                if name == "__init__.py", path.hasSuffix("/pip/__init__.py") {
                    let package = String(path.dropLast("/__init__.py".count))
                    let parent = (package as NSString).deletingLastPathComponent
                    let parentName = (parent as NSString).lastPathComponent
                    if parentName == "site-packages" || parentName == "dist-packages" || pythonPath.contains(parent) {
                        found.append(
                            layerFinding(
                                "package-manager", "\(package) is an importable pip module (python -m pip installs packages)",
                                path: package, node: node))
                    }
                }
                if node.mode & 0o6000 != 0 {
                    let bits = [node.mode & 0o4000 != 0 ? "setuid" : nil, node.mode & 0o2000 != 0 ? "setgid" : nil].compactMap {
                        $0
                    }
                    found.append(
                        layerFinding(
                            "setuid",
                            "\(path) is \(bits.joined(separator: " and ")) (mode \(String(node.mode, radix: 8)), owner \(node.uid))",
                            path: path, node: node))
                }
                if node.mode & 0o002 != 0 {
                    found.append(
                        layerFinding(
                            "world-writable", "\(path) is writable by everyone (mode \(String(node.mode, radix: 8)))", path: path,
                            node: node))
                }
            case .directory:
                if node.mode & 0o002 != 0, node.mode & 0o1000 == 0 {
                    found.append(
                        layerFinding(
                            "world-writable",
                            "directory \(path) is writable by everyone without the sticky bit (mode \(String(node.mode, radix: 8)))",
                            path: path, node: node))
                }
            case .symlink:
                if Self.shells.contains(name) || Self.isPackageManager(name), onPath(path),
                    let (target, targetNode) = view.lookup(path), targetNode.kind == .file, Self.runnable(targetNode)
                {
                    let isShell = Self.shells.contains(name)
                    if isShell { hasShell = true }
                    found.append(
                        layerFinding(
                            isShell ? "shell" : "package-manager",
                            "\(path) links to \(target), \(isShell ? "a shell" : "a package manager") by the name '\(name)'",
                            path: path, node: node))
                }
            case .characterDevice, .blockDevice:
                found.append(
                    layerFinding(
                        "device-node", "\(path) is a \(node.kind == .characterDevice ? "character" : "block") device", path: path,
                        node: node))
            case .fifo, .socket:
                break
            }
            for pattern in policy.forbidPaths where fnmatch(pattern, path, FNM_PATHNAME) == 0 {
                found.append(
                    layerFinding("forbidden-path", "\(path) is forbidden by the policy (\(pattern))", path: path, node: node))
            }
        }
        if !hasShell, let (_, node) = view.lookup("/bin/sh"), node.kind == .file { hasShell = true }

        // Config: user, shell form, executables.
        let user = config?.user ?? ""
        if let problem = Self.rootProblem(user, passwd: view.nodes["/etc/passwd"]?.content.captured) {
            found.append(configFinding("root-user", problem, instruction: "USER"))
        }
        let entrypoint = config?.entrypoint ?? []
        let command = config?.cmd ?? []
        let argv = entrypoint.isEmpty ? command : entrypoint
        let argvName = entrypoint.isEmpty ? "CMD" : "ENTRYPOINT"
        if Self.isShellForm(argv) {
            if !hasShell {
                found.append(
                    configFinding(
                        "shell-form",
                        "\(argvName) \(Self.show(argv)) runs through \(argv[0]), but the image has no shell: it cannot start",
                        instruction: argvName))
            }
        } else if let executable = argv.first {
            if let problem = Self.executableProblem(executable, view: view, config: config) {
                found.append(
                    configFinding("missing-executable", "\(argvName) \(Self.show(argv)): \(problem)", instruction: argvName))
            }
        } else {
            found.append(
                configFinding(
                    "missing-executable", "the image has neither ENTRYPOINT nor CMD: there is nothing to run", instruction: "CMD")
            )
        }
        if let test = config?.healthcheck?.test, let kind = test.first {
            if kind == "CMD-SHELL", !hasShell {
                found.append(
                    configFinding(
                        "shell-form",
                        "HEALTHCHECK CMD-SHELL \(test.dropFirst().joined(separator: " ")) needs a shell the image does not have",
                        instruction: "HEALTHCHECK"))
            } else if kind == "CMD", let executable = test.dropFirst().first,
                let problem = Self.executableProblem(executable, view: view, config: config)
            {
                found.append(
                    configFinding(
                        "missing-executable", "HEALTHCHECK \(Self.show(Array(test.dropFirst()))): \(problem)",
                        instruction: "HEALTHCHECK"))
            }
        }

        return judge(found.filter { enabled.contains($0.rule) }, contents: contents, rules: enabled)
    }

    /// Applies the policy's exceptions: waived findings move aside, expired and unused exceptions are listed.
    private func judge(_ findings: [Finding], contents: ImageContents, rules: [String]) -> VerifyReport {
        var open: [Finding] = []
        var waived: [Finding] = []
        var used = Set<Int>()
        let expired = policy.exceptions.enumerated().filter { _, exception in
            exception.expires.flatMap(Validate.parseDate).map { $0.addingTimeInterval(86_400) <= now } ?? false
        }
        let expiredIndexes = Set(expired.map(\.offset))
        for var finding in findings {
            let match = policy.exceptions.enumerated().first { index, exception in
                !expiredIndexes.contains(index) && exception.rule == finding.rule
                    && (exception.path.map { pattern in finding.path.map { fnmatch(pattern, $0, FNM_PATHNAME) == 0 } ?? false }
                        ?? true)
            }
            if let (index, exception) = match {
                used.insert(index)
                finding.waivedBy = exception
                waived.append(finding)
            } else {
                open.append(finding)
            }
        }
        let unused = policy.exceptions.enumerated().filter { !used.contains($0.offset) && !expiredIndexes.contains($0.offset) }
            .map(\.element)
        let image = contents.image
        return VerifyReport(
            image: image.source.displayName, format: image.format.rawValue, configDigest: image.configDigest.description,
            manifestDigest: image.manifestDigest?.description, platform: image.platform?.description,
            user: image.config.config?.user ?? "", layers: image.layers.count, files: contents.filesystem.count, rules: rules,
            findings: open.sorted { (Self.order($0.rule), $0.path ?? "") < (Self.order($1.rule), $1.path ?? "") },
            waived: waived, expiredExceptions: expired.map(\.element), unusedExceptions: unused)
    }

    // MARK: helpers

    static func order(_ rule: String) -> Int { Policy.rules.firstIndex(of: rule) ?? Policy.rules.count }

    static func runnable(_ node: FileNode) -> Bool {
        node.mode & 0o111 != 0 || node.content.kind == .elf || node.content.kind == .script
    }

    public static func isPackageManager(_ name: String) -> Bool {
        if packageManagers.contains(name) { return true }
        // pip3.11, pip2.7
        guard name.hasPrefix("pip"), name.count > 3 else { return false }
        return name.dropFirst(3).allSatisfy { $0.isNumber || $0 == "." } && name.dropFirst(3).first?.isNumber == true
    }

    static func isShellForm(_ argv: [String]) -> Bool {
        argv.count >= 2 && shells.contains((argv[0] as NSString).lastPathComponent) && argv[1] == "-c"
    }

    static func show(_ argv: [String]) -> String {
        let data = (try? JSONEncoder().encode(argv)) ?? Data()
        return String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\\/", with: "/")
    }

    /// Why the configured user is root or unusable, or nil when it is fine.
    static func rootProblem(_ user: String, passwd: Data?) -> String? {
        let name = user.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        if name.isEmpty { return "no USER is set: the image runs as root" }
        if let uid = Int(name) { return uid == 0 ? "USER \(user) is uid 0 (root)" : nil }
        if name == "root" { return "USER \(user) is root" }
        guard let passwd else { return "USER \(user) is a name, but the image has no /etc/passwd to map it to a uid" }
        for line in String(decoding: passwd, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count >= 3, fields[0] == name else { continue }
            return fields[2] == "0" ? "USER \(user) maps to uid 0 in /etc/passwd: the image runs as root" : nil
        }
        return "USER \(user) is not in /etc/passwd: the container cannot start as that user"
    }

    /// Why an executable can't run (missing, not executable, missing interpreter), or nil.
    static func executableProblem(_ executable: String, view: FileSystemView, config: ContainerConfig?) -> String? {
        guard let (path, node) = locate(executable, view: view, config: config) else {
            return executable.contains("/")
                ? "\(executable) does not exist in the image"
                : "\(executable) is not on the PATH (\((config?.searchPath ?? []).joined(separator: ":")))"
        }
        guard node.kind == .file else { return "\(path) is not a file" }
        guard node.mode & 0o111 != 0 else { return "\(path) is not executable (mode \(String(node.mode, radix: 8)))" }
        if let line = node.content.interpreter {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let interpreter = words.first else { return "\(path) has an empty #! line" }
            guard let (found, interpreterNode) = locate(interpreter, view: view, config: config), interpreterNode.kind == .file
            else {
                return "\(path) starts with #!\(line), and \(interpreter) does not exist in the image"
            }
            if (found as NSString).lastPathComponent == "env",
                let program = words.dropFirst().first(where: { !$0.hasPrefix("-") }),
                locate(program, view: view, config: config) == nil
            {
                return "\(path) starts with #!\(line), and \(program) is not on the PATH"
            }
        }
        return nil
    }

    private static func locate(_ executable: String, view: FileSystemView, config: ContainerConfig?) -> (String, FileNode)? {
        if executable.hasPrefix("/") { return view.lookup(executable) }
        if executable.contains("/") {
            let directory = config?.workingDir.flatMap { $0.isEmpty ? nil : $0 } ?? "/"
            return view.lookup(directory + "/" + executable)
        }
        for directory in config?.searchPath ?? [] {
            if let found = view.lookup(directory + "/" + executable), found.node.kind == .file { return found }
        }
        return nil
    }
}

extension Verifier {
    /// Reads the image at `path` (docker-archive, OCI layout or OCI archive) and verifies it.
    public func verify(path: String, limits: ImageLimits = ImageLimits(), platform: Platform = .current) throws(ImageError)
        -> VerifyReport
    {
        let reader = ImageReader(limits: limits, platform: platform, capture: { Self.capturedPaths.contains($0) })
        return verify(try reader.read(path))
    }
}
