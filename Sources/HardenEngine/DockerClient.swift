import Foundation
import HardenArchive
import HardenProcess

/// A base or built image as the engine knows it.
public struct EngineImage: Sendable, Equatable, Codable {
    public var id: String
    public var repoTags: [String]
    public var repoDigests: [String]
    public var user: String?
    public var created: String?
    public var size: Int64?
    public var labels: [String: String]?

    public init(
        id: String, repoTags: [String], repoDigests: [String], user: String? = nil, created: String? = nil,
        size: Int64? = nil, labels: [String: String]? = nil
    ) {
        self.id = id
        self.repoTags = repoTags
        self.repoDigests = repoDigests
        self.user = user
        self.created = created
        self.size = size
        self.labels = labels
    }

    /// The registry manifest digest this image was pulled or pushed with under `reference`'s
    /// repository; nil for an image only ever built or tagged locally under that name.
    public func registryDigest(for reference: String) -> String? {
        let repository = DockerClient.repository(of: DockerClient.normalize(reference))
        let entry = repoDigests.first { DockerClient.repository(of: DockerClient.normalize($0)) == repository }
        guard let entry, let at = entry.firstIndex(of: "@") else { return nil }
        return String(entry[entry.index(after: at)...])
    }
}

public struct DockerError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable { case engineUnreachable, commandFailed, badOutput, interrupted }
    public var kind: Kind
    public var message: String
    public var hint: String?
    public var logPath: String?

    public init(_ kind: Kind, _ message: String, hint: String? = nil, logPath: String? = nil) {
        self.kind = kind
        self.message = message
        self.hint = hint
        self.logPath = logPath
    }

    public var description: String {
        message + (logPath.map { "\n  log: \($0)" } ?? "") + (hint.map { "\n  hint: \($0)" } ?? "")
    }
}

/// Which builder `docker build` uses.
public enum BuilderBackend: String, Sendable, CaseIterable {
    /// The engine's classic builder (`DOCKER_BUILDKIT=0`): works with any client.
    case classic
    /// BuildKit (`DOCKER_BUILDKIT=1`): needs a client with BuildKit (buildx, or a 20.10 client).
    case buildkit
}

/// The Docker CLI, driven as a subprocess. Honours `DOCKER_HOST` and docker contexts.
/// With `engine`, the calls a build waits on (ping, inspect, classic builds without `--pull`)
/// go straight to the local engine's API instead.
public struct DockerClient: Sendable {
    public var runner: any ProcessRunning
    public var executable: String
    public var backend: BuilderBackend
    public var engine: EngineAPI?

    public init(
        runner: any ProcessRunning = ProcessRunner(), executable: String = "docker", backend: BuilderBackend = .classic,
        engine: EngineAPI? = nil
    ) {
        self.runner = runner
        self.executable = executable
        self.backend = backend
        self.engine = engine
    }

    /// The client for this environment: the engine's API on its local socket unless a docker
    /// client was named (`--docker`, `HARDEN_DOCKER`) or the engine is remote.
    public static func forEnvironment(
        _ environment: [String: String], docker: String?, backend: BuilderBackend = .classic
    ) -> DockerClient {
        let named = docker ?? environment["HARDEN_DOCKER"].flatMap { $0.isEmpty ? nil : $0 }
        return DockerClient(
            executable: named ?? "docker", backend: backend,
            engine: named == nil ? EngineAPI.local(environment: environment) : nil)
    }

    /// Runs an API call; a socket nobody answers on becomes the same error the client path gives.
    private func viaEngine<T>(_ call: () async throws(DockerError) -> T) async throws(DockerError) -> T {
        do {
            return try await call()
        } catch  where error.kind == .engineUnreachable {
            throw Self.unreachable(error.message)
        }
    }

    private func docker(_ arguments: [String], timeout: Duration? = .seconds(120)) -> Command {
        Command(executable, arguments, environment: ["DOCKER_CLI_HINTS": "false"], timeout: timeout)
    }

    /// Where the client looks for the engine, for error messages.
    public static var engineAddress: String {
        let environment = ProcessInfo.processInfo.environment
        if let host = environment["DOCKER_HOST"], !host.isEmpty { return "DOCKER_HOST=\(host)" }
        if let context = environment["DOCKER_CONTEXT"], !context.isEmpty { return "docker context \(context)" }
        return "unix:///var/run/docker.sock"
    }

    /// Opens the connection to a local engine's API ahead of the first real request; nothing
    /// for the CLI path. Errors are left to that request.
    public func warmUp() async {
        guard let engine else { return }
        try? await engine.ping()
    }

    /// Fails with `.engineUnreachable` unless an engine answers.
    public func ping() async throws(DockerError) {
        if let engine {
            try await viaEngine { () async throws(DockerError) in try await engine.ping() }
            return
        }
        let result: ProcessResult
        do {
            result = try await runner.run(docker(["version", "--format", "{{.Server.Version}}"], timeout: .seconds(20)))
        } catch {
            throw DockerError(
                .engineUnreachable, "the docker client is not installed (\(error.message))",
                hint: "install it (apt-get install docker.io) and start dockerd")
        }
        guard result.succeeded else { throw Self.unreachable() }
    }

    private static func unreachable(_ reason: String? = nil) -> DockerError {
        if let reason, reason.contains(String(cString: strerror(EACCES))) {
            return DockerError(
                .engineUnreachable, "the Docker engine at \(engineAddress) refuses this user (\(reason))",
                hint: "run as root, or add the user to the docker group (usermod -aG docker $USER) and log in again")
        }
        return DockerError(
            .engineUnreachable, "no Docker engine answers at \(engineAddress)" + (reason.map { " (\($0))" } ?? ""),
            hint: "start one (dockerd &, or systemctl start docker), or set DOCKER_HOST; scripts/start-docker.sh does it here")
    }

    /// What the client prints when it cannot reach the engine at all.
    public static func saysUnreachable(_ output: String) -> Bool {
        ["Cannot connect to the Docker daemon", "error during connect", "connect: no such file"]
            .contains { output.contains($0) }
    }

    /// Inspects many images in one call; names that the engine doesn't have are absent from the result.
    /// Doubles as the engine check: fails with `.engineUnreachable` when no engine answers.
    public func inspect(_ references: [String]) async throws(DockerError) -> [String: EngineImage] {
        let unique = Array(Set(references)).sorted()
        guard !unique.isEmpty else {
            try await ping()
            return [:]
        }
        if let engine {
            return try await viaEngine { () async throws(DockerError) in try await engine.inspect(unique) }
        }
        let format =
            "{{json .Id}}\t{{json .RepoTags}}\t{{json .RepoDigests}}\t{{json .Config.User}}\t{{json .Created}}\t{{json .Size}}\t{{json .Config.Labels}}"
        let result = try await runChecked(docker(["image", "inspect", "--format", format] + unique), allowFailure: true)
        if !result.succeeded, Self.saysUnreachable(result.output) { throw Self.unreachable() }
        var images: [EngineImage] = []
        for line in result.output.split(separator: "\n") where line.hasPrefix("\"sha256:") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map { Data($0.utf8) }
            guard fields.count == 7, let id = try? JSONDecoder().decode(String.self, from: fields[0]) else {
                throw DockerError(.badOutput, "unexpected output from docker image inspect: \(line.prefix(200))")
            }
            images.append(
                EngineImage(
                    id: id,
                    repoTags: (try? JSONDecoder().decode([String]?.self, from: fields[1])).flatMap { $0 } ?? [],
                    repoDigests: (try? JSONDecoder().decode([String]?.self, from: fields[2])).flatMap { $0 } ?? [],
                    user: try? JSONDecoder().decode(String.self, from: fields[3]),
                    created: try? JSONDecoder().decode(String.self, from: fields[4]),
                    size: try? JSONDecoder().decode(Int64.self, from: fields[5]),
                    labels: (try? JSONDecoder().decode([String: String]?.self, from: fields[6])).flatMap { $0 }))
        }
        var byReference: [String: EngineImage] = [:]
        for reference in unique {
            if let match = images.first(where: { Self.matches(reference, $0) }) { byReference[reference] = match }
        }
        return byReference
    }

    /// Whether `reference` names `image` (by tag, digest or ID), the way the engine resolves names.
    public static func matches(_ reference: String, _ image: EngineImage) -> Bool {
        if reference.hasPrefix("sha256:") { return image.id.hasPrefix(reference) }
        let normal = normalize(reference)
        if image.repoTags.contains(where: { normalize($0) == normal })
            || image.repoDigests.contains(where: { normalize($0) == normal })
        {
            return true
        }
        // A short ID, as `docker images` shows it.
        return reference.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
            && image.id.hasPrefix("sha256:" + reference)
    }

    /// `python` → `python:latest`; `docker.io/library/x` → `x`.
    public static func normalize(_ reference: String) -> String {
        var name = reference
        for prefix in ["docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/"]
        where name.hasPrefix(prefix) {
            name = String(name.dropFirst(prefix.count))
            break
        }
        let lastComponent = name.split(separator: "/").last ?? Substring(name)
        if !lastComponent.contains(":") && !name.contains("@") { name += ":latest" }
        return name
    }

    /// The repository part of a reference: `127.0.0.1:5000/base:1` → `127.0.0.1:5000/base`.
    public static func repository(of reference: String) -> String {
        var name = reference.split(separator: "@", maxSplits: 1).first.map(String.init) ?? reference
        if let colon = name.lastIndex(of: ":"), !name[colon...].contains("/") { name = String(name[..<colon]) }
        return name
    }

    /// One `docker build`; returns the image ID read from `--iidfile`.
    public func build(
        dockerfile: String, context: String, target: String?, tags: [String], iidFile: String, logFile: String,
        noCache: Bool, pull: Bool, buildArgs: [String: String] = [:], labels: [String: String] = [:],
        onLine: (@Sendable (String) -> Void)?
    ) async throws(DockerError) -> (imageID: String, seconds: Double) {
        try? FileManager.default.removeItem(atPath: iidFile)
        // --pull stays with the client, which sends the registry credentials. Without it a build
        // never pulls: the planner refuses one whose bases are not in the engine.
        if let engine, backend == .classic, !pull {
            let started = ContinuousClock.now
            let id = try await viaEngine { () async throws(DockerError) in
                try await engine.build(
                    dockerfile: dockerfile, context: context, target: target, tags: tags, buildArgs: buildArgs,
                    labels: labels, noCache: noCache, scratchTar: iidFile + ".context.tar", logFile: logFile,
                    timeout: .seconds(3 * 3600), onLine: onLine)
            }
            try? InPlaceFile.write(Data((id + "\n").utf8), to: iidFile)
            return (id, (ContinuousClock.now - started).inSeconds)
        }
        var arguments = ["build", "--file", dockerfile, "--iidfile", iidFile]
        if let target { arguments += ["--target", target] }
        for tag in tags { arguments += ["--tag", tag] }
        for (key, value) in buildArgs.sorted(by: { $0.key < $1.key }) { arguments += ["--build-arg", "\(key)=\(value)"] }
        for (key, value) in labels.sorted(by: { $0.key < $1.key }) { arguments += ["--label", "\(key)=\(value)"] }
        if noCache { arguments.append("--no-cache") }
        if pull { arguments.append("--pull") }
        switch backend {
        case .buildkit: arguments += ["--progress", "plain"]
        case .classic: arguments.append("--force-rm")
        }
        arguments.append(context)
        var command = docker(arguments, timeout: .seconds(3 * 3600))
        command.environment["DOCKER_BUILDKIT"] = backend == .buildkit ? "1" : "0"
        let result: ProcessResult
        do {
            result = try await runner.run(command, logFile: logFile, onLine: onLine)
        } catch {
            throw DockerError(.commandFailed, error.description, logPath: logFile)
        }
        switch result.ending {
        case .exited(0):
            break
        case .cancelled:
            throw DockerError(.interrupted, "interrupted", logPath: logFile)
        case .timedOut:
            throw DockerError(.commandFailed, "docker build timed out", logPath: logFile)
        default:
            let tail = result.output.split(separator: "\n").suffix(15).joined(separator: "\n")
            throw DockerError(.commandFailed, "docker build failed (\(result.ending)):\n\(tail)", logPath: logFile)
        }
        guard let id = try? String(contentsOfFile: iidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
            id.hasPrefix("sha256:")
        else {
            throw DockerError(.badOutput, "docker build succeeded but wrote no image ID to \(iidFile)", logPath: logFile)
        }
        return (id, result.seconds)
    }

    /// `docker save` into `path`, through a temporary name so a half-written archive is never left there.
    public func save(_ reference: String, to path: String) async throws(DockerError) {
        let temporary = path + ".partial-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        _ = try await runChecked(docker(["save", "--output", temporary, reference], timeout: .seconds(1800)))
        let descriptor = open(temporary, O_RDONLY)
        if descriptor >= 0 {
            fsync(descriptor)
            close(descriptor)
        }
        guard rename(temporary, path) == 0 else {
            throw DockerError(.commandFailed, "cannot move the saved image to \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// `docker load` of a docker-archive; returns the image IDs the engine reports loading.
    @discardableResult
    public func load(_ path: String) async throws(DockerError) -> [String] {
        let result = try await runChecked(docker(["load", "--input", path], timeout: .seconds(1800)))
        return result.output.split(separator: "\n").compactMap { line in
            line.hasPrefix("Loaded image ID: ") ? String(line.dropFirst("Loaded image ID: ".count)) : nil
        }
    }

    public func tag(_ image: String, as tag: String) async throws(DockerError) {
        _ = try await runChecked(docker(["tag", image, tag]))
    }

    @discardableResult
    public func runChecked(_ command: Command, allowFailure: Bool = false) async throws(DockerError) -> ProcessResult {
        let result: ProcessResult
        do {
            result = try await runner.run(command)
        } catch {
            throw DockerError(
                .engineUnreachable, "the docker client could not run: \(error.description)",
                hint: "install it (apt-get install docker.io), or point --docker or HARDEN_DOCKER at it")
        }
        if result.ending == .cancelled { throw DockerError(.interrupted, "interrupted") }
        if !result.succeeded && !allowFailure {
            if Self.saysUnreachable(result.output) { throw Self.unreachable() }
            let tail = result.output.split(separator: "\n").suffix(10).joined(separator: "\n")
            throw DockerError(.commandFailed, "\(command.displayString) failed (\(result.ending)):\n\(tail)")
        }
        return result
    }
}
