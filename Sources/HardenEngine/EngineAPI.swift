import Foundation
import HardenArchive
import HardenProcess

/// The calls on a build's critical path (ping, image inspect, a classic-builder build) made
/// straight to a local engine's API, without starting the docker client for each one.
public struct EngineAPI: Sendable {
    public var socketPath: String

    public init(socketPath: String) {
        self.socketPath = socketPath
    }

    var http: EngineHTTP { EngineHTTP(socketPath: socketPath) }

    /// The engine socket the docker client would use when that is a local unix socket; nil for
    /// tcp and ssh hosts and docker contexts, which are left to the client.
    public static func local(environment: [String: String]) -> EngineAPI? {
        if let context = environment["DOCKER_CONTEXT"], !context.isEmpty, context != "default" { return nil }
        if let host = environment["DOCKER_HOST"], !host.isEmpty {
            guard host.hasPrefix("unix://") else { return nil }
            let path = host.dropFirst("unix://".count)
            return EngineAPI(socketPath: path.isEmpty ? "/var/run/docker.sock" : String(path))
        }
        if let context = currentContext(environment: environment), context != "default" { return nil }
        return EngineAPI(socketPath: "/var/run/docker.sock")
    }

    /// `currentContext` of the client's config.json, which `docker context use` sets.
    private static func currentContext(environment: [String: String]) -> String? {
        let directory =
            environment["DOCKER_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (environment["HOME"] ?? NSHomeDirectory()) + "/.docker"
        guard let data = FileManager.default.contents(atPath: directory + "/config.json"),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let context = object["currentContext"] as? String, !context.isEmpty
        else { return nil }
        return context
    }

    /// Fails with `.engineUnreachable` unless the engine answers.
    func ping() async throws(DockerError) {
        let status = try await http.exchange(method: "GET", path: "/_ping", timeout: .seconds(20)).status
        guard status == 200 else {
            throw DockerError(.engineUnreachable, "the engine at \(socketPath) answered /_ping with status \(status)")
        }
    }

    /// Each reference the engine has → its image. One request per reference, on up to four
    /// connections at once: the engine answers a connection's requests one at a time (~0.5 ms
    /// each here), and four lanes get through a thousand references ~2.5× sooner than one, and
    /// a build's four (bases, last images) in the time of one or two.
    func inspect(_ references: [String]) async throws(DockerError) -> [String: EngineImage] {
        let lanes = min(4, max(1, references.count))
        let shares = (0..<lanes).map { lane in stride(from: lane, to: references.count, by: lanes).map { references[$0] } }
        let answers = await withTaskGroup(of: Result<[String: EngineImage], DockerError>.self) { group in
            for share in shares {
                group.addTask {
                    do throws(DockerError) {
                        return .success(try await inspectInOneLane(share))
                    } catch {
                        return .failure(error)
                    }
                }
            }
            var answers: [Result<[String: EngineImage], DockerError>] = []
            for await answer in group {
                if case .failure = answer { group.cancelAll() }
                answers.append(answer)
            }
            return answers
        }
        var images: [String: EngineImage] = [:]
        for answer in answers { images.merge(try answer.get()) { first, _ in first } }
        return images
    }

    private func inspectInOneLane(_ references: [String]) async throws(DockerError) -> [String: EngineImage] {
        var images: [String: EngineImage] = [:]
        for reference in references {
            let (status, body) = try await http.exchange(
                method: "GET", path: "/images/\(Self.escapePath(reference))/json", timeout: .seconds(120))
            switch status {
            case 200:
                guard let answer = try? JSONDecoder().decode(InspectAnswer.self, from: body) else {
                    throw DockerError(.badOutput, "the engine's inspect answer for \(reference) is not an image")
                }
                images[reference] = answer.image
            case 404, 400:
                // 400: a reference the engine cannot parse, which the client also reports as absent.
                continue
            default:
                throw DockerError(
                    .commandFailed, "the engine could not inspect \(reference) (\(status)): \(Self.message(in: body))")
            }
        }
        return images
    }

    /// A classic-builder build of `context` (what `.dockerignore` leaves, as the client sends it)
    /// with `dockerfile`; the engine's output goes to `logFile` and `onLine`. Returns the image ID.
    func build(
        dockerfile: String, context: String, target: String?, tags: [String], buildArgs: [String: String],
        labels: [String: String], noCache: Bool, scratchTar: String, logFile: String, timeout: Duration,
        onLine: (@Sendable (String) -> Void)?
    ) async throws(DockerError) -> String {
        let dockerfileName = try BuildContextTar.write(
            context: URL(fileURLWithPath: context), dockerfile: dockerfile, to: scratchTar)
        defer { unlink(scratchTar) }
        var query: [(String, String)] = [("version", "1"), ("dockerfile", dockerfileName), ("rm", "1"), ("forcerm", "1")]
        if let target { query.append(("target", target)) }
        for tag in tags { query.append(("t", tag)) }
        if !buildArgs.isEmpty { query.append(("buildargs", Self.json(buildArgs))) }
        if !labels.isEmpty { query.append(("labels", Self.json(labels))) }
        if noCache { query.append(("nocache", "1")) }
        let target = "/build?" + query.map { "\($0.0)=\(Self.escapeQuery($0.1))" }.joined(separator: "&")
        let log: FileHandle
        do {
            log = FileHandle(fileDescriptor: try InPlaceFile.create(logFile), closeOnDealloc: true)
        } catch {
            throw DockerError(.commandFailed, "cannot write the log file: \(error.localizedDescription)")
        }
        let output = BuildOutput(log: log, onLine: onLine)
        defer { try? log.close() }
        let status: Int
        do throws(DockerError) {
            status = try await http.request(
                method: "POST", path: target, headers: [("Content-Type", "application/x-tar")], bodyFile: scratchTar,
                timeout: timeout
            ) { output.take($0.readableBytesView) }
        } catch {
            output.finish()
            var error = error
            if error.logPath == nil { error.logPath = logFile }
            throw error
        }
        output.finish()
        if status != 200 {
            output.record(Self.message(in: Data(output.raw)))
            throw DockerError(.commandFailed, "docker build failed (\(status)):\n\(output.tail)", logPath: logFile)
        }
        if output.failed {
            throw DockerError(.commandFailed, "docker build failed:\n\(output.tail)", logPath: logFile)
        }
        guard let id = output.imageID else {
            throw DockerError(.badOutput, "the engine ended the build without an image ID", logPath: logFile)
        }
        return id
    }

    private static func json(_ values: [String: String]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(values)) ?? Data("{}".utf8), as: UTF8.self)
    }

    /// The `message` of an engine error answer, else the answer itself.
    static func message(in body: Data) -> String {
        if let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
            let message = object["message"] as? String
        {
            return message
        }
        return String(decoding: body.prefix(500), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8)

    /// Image references keep `/`, `:` and `@` in a path, as the client sends them.
    static func escapePath(_ text: String) -> String {
        escape(text, keeping: unreserved.union("/:@".utf8))
    }

    static func escapeQuery(_ text: String) -> String {
        escape(text, keeping: unreserved)
    }

    private static func escape(_ text: String, keeping allowed: Set<UInt8>) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            if allowed.contains(byte) {
                out.append(byte)
            } else {
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// The parts of the engine's image inspect answer harden uses.
private struct InspectAnswer: Decodable {
    struct Config: Decodable {
        var user: String?
        var labels: [String: String]?
        enum CodingKeys: String, CodingKey {
            case user = "User"
            case labels = "Labels"
        }
    }
    var id: String
    var repoTags: [String]?
    var repoDigests: [String]?
    var created: String?
    var size: Int64?
    var config: Config?

    enum CodingKeys: String, CodingKey {
        case id = "Id"
        case repoTags = "RepoTags"
        case repoDigests = "RepoDigests"
        case created = "Created"
        case size = "Size"
        case config = "Config"
    }

    var image: EngineImage {
        EngineImage(
            id: id, repoTags: repoTags ?? [], repoDigests: repoDigests ?? [], user: config?.user, created: created,
            size: size, labels: config?.labels)
    }
}
