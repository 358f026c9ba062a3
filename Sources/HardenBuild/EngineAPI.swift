import Foundation
import HardenArchive

/// The calls on a build's critical path (ping, image inspect, a classic-builder build) made
/// straight to a local engine's API, without starting the docker client for each one.
public struct EngineAPI: Sendable {
    public var socketPath: String

    public init(socketPath: String) {
        self.socketPath = socketPath
    }

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
        let status = try await onThread(timeout: .seconds(20)) { (connection) throws(DockerError) in
            try connection.exchange(method: "GET", target: "/_ping").0
        }
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
        try await onThread(timeout: .seconds(120)) { (connection) throws(DockerError) in
            var images: [String: EngineImage] = [:]
            for reference in references {
                let (status, body) = try connection.exchange(
                    method: "GET", target: "/images/\(Self.escapePath(reference))/json")
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
        return try await onThread(timeout: timeout) { (connection) throws(DockerError) in
            defer { try? log.close() }
            let answer: EngineConnection.Answer
            do throws(DockerError) {
                answer = try connection.request(
                    method: "POST", target: target, headers: [("Content-Type", "application/x-tar")], bodyFile: scratchTar
                ) { output.take($0) }
            } catch {
                output.finish()
                var error = error
                if error.logPath == nil { error.logPath = logFile }
                throw error
            }
            output.finish()
            if answer.status != 200 {
                output.record(Self.message(in: Data(output.raw)))
                throw DockerError(.commandFailed, "docker build failed (\(answer.status)):\n\(output.tail)", logPath: logFile)
            }
            if output.failed {
                throw DockerError(.commandFailed, "docker build failed:\n\(output.tail)", logPath: logFile)
            }
            guard let id = output.imageID else {
                throw DockerError(.badOutput, "the engine ended the build without an image ID", logPath: logFile)
            }
            return id
        }
    }

    /// Runs `work` on a connection of its own, on a thread of its own: a build can stream for
    /// hours and must not hold a thread of the cooperative pool. Cancelling the task aborts it,
    /// and the engine stops a build whose connection closes.
    private func onThread<T: Sendable>(
        timeout: Duration, _ work: @escaping @Sendable (EngineConnection) throws(DockerError) -> T
    ) async throws(DockerError) -> T {
        let connection = try EngineConnection(socketPath: socketPath, timeout: timeout)
        let result: Result<T, DockerError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                Thread {
                    continuation.resume(
                        returning: Result { () throws(DockerError) in
                            try connection.connect()
                            return try work(connection)
                        })
                }.start()
            }
        } onCancel: {
            connection.abort()
        }
        return try result.get()
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

/// The engine's build output, a stream of JSON messages, turned into the text the client
/// prints: written to the log as it comes, each line to `onLine`, the image ID and any error kept.
private final class BuildOutput: @unchecked Sendable {
    private let log: FileHandle
    private let onLine: (@Sendable (String) -> Void)?
    private var pending: [UInt8] = []
    private var text: [UInt8] = []
    private var lastLines: [String] = []
    /// The whole answer, kept only while it is small (for an error answer that is not a stream).
    private(set) var raw: [UInt8] = []
    private(set) var imageID: String?
    /// The engine reported an error (a failed step, a bad Dockerfile); its text is in the tail.
    private(set) var failed = false

    init(log: FileHandle, onLine: (@Sendable (String) -> Void)?) {
        self.log = log
        self.onLine = onLine
    }

    var tail: String { lastLines.joined(separator: "\n") }

    func take(_ bytes: ArraySlice<UInt8>) {
        if raw.count < 64 << 10 { raw.append(contentsOf: bytes.prefix(64 << 10 - raw.count)) }
        pending.append(contentsOf: bytes)
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            let line = pending[..<newline]
            pending.removeSubrange(...newline)
            message(Data(line))
        }
    }

    func finish() {
        if !pending.isEmpty { message(Data(pending)) }
        pending = []
        if !text.isEmpty { emit(Array(text) + [UInt8(ascii: "\n")]) }
    }

    /// A line of harden's own in the log (an error answer's message).
    func record(_ line: String) {
        emit(Array((line + "\n").utf8))
    }

    private func message(_ line: Data) {
        guard line.contains(where: { $0 != 0x20 && $0 != 0x0D }),
            let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any]
        else { return }
        if let stream = object["stream"] as? String { emit(Array(stream.utf8)) }
        if let status = object["status"] as? String {
            let id = (object["id"] as? String).map { "\($0): " } ?? ""
            emit(Array("\(id)\(status)\n".utf8))
        }
        if let aux = object["aux"] as? [String: Any], let id = aux["ID"] as? String { imageID = id }
        if let error = object["error"] as? String {
            failed = true
            emit(Array((error + "\n").utf8))
        }
    }

    /// Writes text to the log and hands each completed line on.
    private func emit(_ bytes: [UInt8]) {
        log.write(Data(bytes))
        text.append(contentsOf: bytes)
        while let newline = text.firstIndex(of: UInt8(ascii: "\n")) {
            let line = String(decoding: text[..<newline], as: UTF8.self)
            text.removeSubrange(...newline)
            lastLines.append(line)
            if lastLines.count > 15 { lastLines.removeFirst() }
            onLine?(line)
        }
    }
}

/// The build context as the docker client sends it: the files `.dockerignore` leaves (with
/// their modes and times, owned by root) and the Dockerfile. A Dockerfile inside the context
/// goes as itself, with `.dockerignore`, even when ignored; one from elsewhere goes under a
/// name of its own, which a `.dockerignore` then names so no `COPY .` picks it up.
enum BuildContextTar {
    /// Writes the tar to `path`; returns the Dockerfile's name in it.
    static func write(context: URL, dockerfile: String, to path: String) throws(DockerError) -> String {
        guard let dockerfileText = FileManager.default.contents(atPath: dockerfile) else {
            throw DockerError(.commandFailed, "cannot read \(dockerfile)")
        }
        let contextPath = context.standardizedFileURL.resolvingSymlinksInPath().path
        let dockerfilePath = URL(fileURLWithPath: dockerfile).standardizedFileURL.resolvingSymlinksInPath().path
        let inside = dockerfilePath.hasPrefix(contextPath + "/") ? String(dockerfilePath.dropFirst(contextPath.count + 1)) : nil
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw DockerError(.commandFailed, "cannot write \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        do {
            let writer = try ArchiveWriter(file: descriptor)
            var names = Set<String>()
            var linked: [FileKey: String] = [:]
            let keeping = inside.map { [$0, ".dockerignore"] } ?? []
            try ContextFiles.walk(context, keeping: keeping) { (entry) throws(BuildError) in
                names.insert(entry.path)
                // Sent last, naming the Dockerfile, when that comes from elsewhere.
                if inside == nil && entry.path == ".dockerignore" { return }
                var item = ArchiveEntry(
                    path: entry.path, type: .regular, mode: UInt32(entry.info.st_mode & 0o7777),
                    mtime: Int64(entry.info.st_mtim.tv_sec), xattrs: ArchiveWriter.imageXattrs(of: entry.fullPath))
                switch entry.kind {
                case .directory:
                    item.type = .directory
                    try add(item, to: writer)
                case .symlink:
                    item.type = .symlink
                    item.symlinkTarget = (try? FileManager.default.destinationOfSymbolicLink(atPath: entry.fullPath)) ?? ""
                    try add(item, to: writer)
                case .regular:
                    if entry.info.st_nlink > 1 {
                        let key = FileKey(device: entry.info.st_dev, inode: entry.info.st_ino)
                        if let first = linked[key] {
                            item.type = .hardlink
                            item.hardlinkTarget = first
                            try add(item, to: writer)
                            return
                        }
                        linked[key] = entry.path
                    }
                    // Not followed, never blocking: a file swapped for a symlink or a fifo since it was listed fails.
                    let file = open(entry.fullPath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
                    let code = errno
                    guard file >= 0 else {
                        throw BuildError(
                            .input, "cannot read \(entry.fullPath): \(String(cString: strerror(code)))",
                            hint: "check its permissions, or leave it out with .dockerignore")
                    }
                    defer { close(file) }
                    var info = stat()
                    guard fstat(file, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
                        throw BuildError(.input, "\(entry.fullPath) changed while the build context was sent")
                    }
                    item.size = Int64(info.st_size)
                    do {
                        try writer.add(item, contentsOf: file)
                    } catch {
                        throw BuildError(.input, "cannot add \(entry.fullPath) to the build context: \(error)")
                    }
                }
            }
            if let inside {
                try writer.finish()
                return inside
            }
            var name = ".dockerfile.harden"
            while names.contains(name) { name += "_" }
            try writer.add(
                ArchiveEntry(path: name, type: .regular, size: Int64(dockerfileText.count), mode: 0o600),
                data: dockerfileText)
            // Like the client: the context's .dockerignore (sent even when it names itself) gains the
            // Dockerfile's name; without one, a .dockerignore naming both is made up.
            let ignorePath = context.appendingPathComponent(".dockerignore").path
            var ignoreInfo = stat()
            let hasIgnore = stat(ignorePath, &ignoreInfo) == 0 && ignoreInfo.st_mode & S_IFMT == S_IFREG
            var ignoreText = Data(".dockerignore".utf8)
            if hasIgnore {
                guard let text = FileManager.default.contents(atPath: ignorePath) else {
                    throw DockerError(.commandFailed, "cannot read \(ignorePath)", hint: "check its permissions")
                }
                ignoreText = text
            }
            ignoreText.append(Data("\n\(name)\n".utf8))
            try writer.add(
                ArchiveEntry(
                    path: ".dockerignore", type: .regular, size: Int64(ignoreText.count),
                    mode: hasIgnore ? UInt32(ignoreInfo.st_mode & 0o7777) : 0o600,
                    mtime: hasIgnore ? Int64(ignoreInfo.st_mtim.tv_sec) : 0),
                data: ignoreText)
            try writer.finish()
            return name
        } catch let error as BuildError {
            throw DockerError(.commandFailed, error.message, hint: error.hint)
        } catch let error as DockerError {
            throw error
        } catch {
            throw DockerError(.commandFailed, "cannot write the build context to \(path): \(error)")
        }
    }

    private struct FileKey: Hashable {
        var device: dev_t
        var inode: ino_t
    }

    /// Adds an entry without contents (a directory, a link).
    private static func add(_ entry: ArchiveEntry, to writer: ArchiveWriter) throws(BuildError) {
        do {
            try writer.add(entry)
        } catch {
            throw BuildError(.input, "cannot add \(entry.path) to the build context: \(error)")
        }
    }
}
