import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// A status, headers and body.
public struct HTTPAnswer: Sendable {
    public let status: Int
    /// Header values by lowercased name.
    public let headers: [String: String]
    public let body: Data

    public func header(_ name: String) -> String? {
        headers[name.lowercased()]
    }
}

/// One request: method, URL, headers and, for uploads, a body.
public struct HTTPRequest: Sendable {
    public enum Body: Sendable {
        case bytes(Data)
        /// `size` bytes of a file from `offset` on, sent as they are read (a blob file, a tar
        /// member in place, one chunk of a large blob).
        case file(path: String, offset: Int64 = 0, size: Int64)
    }

    public var method: String
    public var url: URL
    public var headers: [(String, String)] = []
    public var body: Body?
    /// Instead of the transport's one deadline: give up only when nothing was sent or received
    /// for this long (an upload of any size on a slow link).
    public var stallSeconds: Double?
    /// False for uploads: a redirect is answered as it is, not followed with the body elsewhere.
    public var followRedirects = true

    public init(_ method: String = "GET", _ url: URL) {
        self.method = method
        self.url = url
    }
}

/// Why a request got no answer.
public struct TransportError: Error, Sendable {
    public enum Kind: Sendable {
        case refused, timedOut, hostNotFound, tls, other
        /// Nothing was sent or received for the request's `stallSeconds`.
        case stalled
        /// A file being sent could not be read.
        case file
    }
    public var kind: Kind
    public var detail: String
}

/// AsyncHTTPClient (SwiftNIO, TLS by the BoringSSL built into it) rather than URLSession, whose
/// libcurl brings some thirty shared libraries that every harden start had to load. Answers
/// are returned as they are: a 401 is the caller's to handle, redirects are followed.
public final class HTTPTransport: Sendable {
    private let timeout: TimeAmount
    /// Answers larger than this are refused (manifests and tokens are kilobytes).
    private let bodyLimit = 16 << 20

    public init(timeoutSeconds: Double) {
        timeout = .milliseconds(Int64(timeoutSeconds * 1000))
    }

    public func send(_ request: HTTPRequest) async throws(TransportError) -> HTTPAnswer {
        var outgoing = HTTPClientRequest(url: request.url.absoluteString)
        outgoing.method = HTTPMethod(rawValue: request.method)
        for (name, value) in request.headers { outgoing.headers.add(name: name, value: value) }
        let progress = Progress()
        switch request.body {
        case .bytes(let data): outgoing.body = .bytes(ByteBuffer(bytes: data))
        case .file(let path, let offset, let size):
            outgoing.body = .stream(
                FileChunks(path: path, offset: offset, length: size, onChunk: progress.touch), length: .known(size))
        case nil: break
        }
        let client = HTTPClients.shared.client(for: request.url, followingRedirects: request.followRedirects)
        let stall = request.stallSeconds
        // One deadline for the whole exchange (AsyncHTTPClient's covers the head only), or none
        // but the stall watch.
        let deadline = stall == nil ? NIODeadline.now() + timeout : .distantFuture
        let (prepared, limit, timeout) = (outgoing, bodyLimit, timeout)
        do {
            return try await withThrowingTaskGroup(of: HTTPAnswer?.self) { group in
                group.addTask {
                    let response = try await client.execute(prepared, deadline: deadline)
                    progress.touch()
                    let body = try await response.body.collect(upTo: limit)
                    var headers: [String: String] = [:]
                    // A repeated header is one value, joined by commas (WWW-Authenticate offering two schemes).
                    for name in Set(response.headers.map { $0.name.lowercased() }) {
                        headers[name] = response.headers[name].joined(separator: ", ")
                    }
                    return HTTPAnswer(status: Int(response.status.code), headers: headers, body: Data(body.readableBytesView))
                }
                group.addTask {
                    guard let stall else {
                        try await Task.sleep(nanoseconds: UInt64(max(0, timeout.nanoseconds)))
                        return nil
                    }
                    try await progress.watch(stallSeconds: stall)
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let answer = first else {
                    if let stall {
                        throw TransportError(kind: .stalled, detail: "nothing was sent or received for \(Int(stall)) s")
                    }
                    throw HTTPClientError.deadlineExceeded
                }
                return answer
            }
        } catch let error as TransportError {
            throw error
        } catch {
            throw Self.classify(error)
        }
    }

    static func classify(_ error: any Error) -> TransportError {
        if let error = error as? FileChunks.ReadError { return TransportError(kind: .file, detail: error.description) }
        let detail = String(describing: error)
        if let error = error as? HTTPClientError,
            [.deadlineExceeded, .connectTimeout, .readTimeout, .writeTimeout].contains(error)
        {
            return TransportError(kind: .timedOut, detail: detail)
        }
        if let error = error as? NIOConnectionError {
            if error.connectionErrors.isEmpty && (error.dnsAError != nil || error.dnsAAAAError != nil) {
                return TransportError(kind: .hostNotFound, detail: detail)
            }
            if error.connectionErrors.contains(where: { ($0.error as? IOError)?.errnoCode == ECONNREFUSED }) {
                return TransportError(kind: .refused, detail: detail)
            }
        }
        if let error = error as? IOError, error.errnoCode == ECONNREFUSED {
            return TransportError(kind: .refused, detail: detail)
        }
        if error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError {
            return TransportError(kind: .tls, detail: detail)
        }
        return TransportError(kind: .other, detail: detail)
    }
}

/// The process's HTTP clients, made once and never shut down (as AsyncHTTPClient's own shared
/// client), all on NIO's one event loop group: one direct (also for the engine's unix socket),
/// and one through each proxy the environment names.
public final class HTTPClients: Sendable {
    public static let shared = HTTPClients(settings: ProxySettings(environment: ProcessInfo.processInfo.environment))

    private let settings: ProxySettings
    /// Every host without a proxy, redirects followed: the engine's and most registries' client.
    public let direct: HTTPClient
    /// The others (redirects answered instead of followed for uploads, one per proxy), made on
    /// first use: each client costs its start on every run, and most runs need only `direct`.
    /// Made clients stay: one made and dropped unshut traps in AsyncHTTPClient.
    private let others = Mutex<[Key: HTTPClient]>([:])

    private struct Key: Hashable {
        var proxy: ProxySettings.Server?
        var followingRedirects: Bool
    }

    init(settings: ProxySettings) {
        self.settings = settings
        direct = Self.client(proxy: nil, followingRedirects: true)
    }

    public func client(for url: URL, followingRedirects: Bool = true) -> HTTPClient {
        let key = Key(proxy: settings.proxy(for: url), followingRedirects: followingRedirects)
        if key == Key(proxy: nil, followingRedirects: true) { return direct }
        return others.withLock { clients in
            if let made = clients[key] { return made }
            let made = Self.client(proxy: key.proxy, followingRedirects: key.followingRedirects)
            clients[key] = made
            return made
        }
    }

    /// One event loop thread for every client: a CLI's few connections need no more, and each
    /// thread NIO starts is paid on every run that makes a request.
    private static let loops = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    private static func client(proxy: ProxySettings.Server?, followingRedirects: Bool) -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        // Followed redirects drop the credentials on another origin (AsyncHTTPClient does).
        configuration.redirectConfiguration = followingRedirects ? .follow(max: 5, allowCycles: false) : .disallow
        configuration.proxy = proxy.map { proxy in
            .server(
                host: proxy.host, port: proxy.port,
                authorization: proxy.login.map { .basic(username: $0.user, password: $0.password) })
        }
        // Each request's own deadline decides, not the 10 s default.
        configuration.timeout.connect = .minutes(10)
        // A refused connection fails the request at once instead of being retried until its deadline.
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: loops, configuration: configuration)
    }
}

/// The proxies `http_proxy` and `https_proxy` name (either case), and the hosts `no_proxy`
/// exempts (a host, a domain and its subdomains, or `*`); loopback never goes through one.
/// AsyncHTTPClient reaches every host through a proxy with CONNECT, plain-HTTP ones too.
public struct ProxySettings: Sendable {
    public struct Server: Hashable, Sendable {
        public struct Login: Hashable, Sendable {
            public var user: String
            public var password: String
        }
        public var host: String
        public var port: Int
        public var login: Login?
    }

    public let http: Server?
    public let https: Server?
    private let exempt: [String]

    public init(environment: [String: String]) {
        func value(_ name: String) -> String? {
            (environment[name] ?? environment[name.uppercased()]).flatMap { $0.isEmpty ? nil : $0 }
        }
        http = value("http_proxy").flatMap(Self.server)
        https = value("https_proxy").flatMap(Self.server)
        exempt = (value("no_proxy") ?? "").split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        }
    }

    public func proxy(for url: URL) -> Server? {
        guard let proxy = url.scheme == "https" ? https : http else { return nil }
        let host = (url.host ?? "").lowercased()
        if host == "localhost" || host.hasPrefix("127.") || host == "::1" || host == "[::1]" { return nil }
        let isExempt = exempt.contains { entry in
            let domain = entry.hasPrefix(".") ? String(entry.dropFirst()) : entry
            return entry == "*" || host == domain || host.hasSuffix("." + domain)
        }
        return isExempt ? nil : proxy
    }

    /// An HTTP proxy, `[http://][user:password@]host[:port]`; other kinds (socks, https) are not used.
    private static func server(_ text: String) -> Server? {
        guard let components = URLComponents(string: text.contains("://") ? text : "http://" + text),
            components.scheme?.lowercased() == "http", let host = components.host, !host.isEmpty
        else { return nil }
        let login = components.user.map { Server.Login(user: $0, password: components.password ?? "") }
        return Server(host: host, port: components.port ?? 80, login: login)
    }
}

/// A response whose body went to a file.
public struct HTTPDownload: Sendable {
    public let status: Int
    /// Header values by lowercased name.
    public let headers: [String: String]
    /// Body bytes written (none for a status other than 200).
    public let bytes: Int

    public func header(_ name: String) -> String? { headers[name.lowercased()] }
}

extension HTTPTransport {
    /// GETs `request` and streams a 200's body into `file` (created or truncated). The request
    /// fails when nothing arrives for `stallSeconds` (no head, or no body bytes), when the body
    /// passes `limit` bytes, or when it ends before its Content-Length.
    public func download(
        _ request: HTTPRequest, to file: String, stallSeconds: Double, limit: Int
    ) async throws(TransportError) -> HTTPDownload {
        var outgoing = HTTPClientRequest(url: request.url.absoluteString)
        outgoing.method = HTTPMethod(rawValue: request.method)
        for (name, value) in request.headers { outgoing.headers.add(name: name, value: value) }
        let client = HTTPClients.shared.client(for: request.url)
        let progress = Progress()
        let prepared = outgoing
        do {
            return try await withThrowingTaskGroup(of: HTTPDownload?.self) { group in
                group.addTask {
                    let response = try await client.execute(prepared, deadline: .distantFuture)
                    progress.touch()
                    var headers: [String: String] = [:]
                    for name in Set(response.headers.map { $0.name.lowercased() }) {
                        headers[name] = response.headers[name].joined(separator: ", ")
                    }
                    guard response.status == .ok else {
                        return HTTPDownload(status: Int(response.status.code), headers: headers, bytes: 0)
                    }
                    guard let handle = FileHandle(forWritingAtPath: file) ?? Self.create(file) else {
                        throw TransportError(kind: .other, detail: "cannot write \(file)")
                    }
                    defer { try? handle.close() }
                    try handle.truncate(atOffset: 0)
                    var written = 0
                    for try await chunk in response.body {
                        progress.touch()
                        written += chunk.readableBytes
                        guard written <= limit else {
                            throw TransportError(kind: .other, detail: "the body passed the \(limit >> 20) MiB limit")
                        }
                        try handle.write(contentsOf: Data(chunk.readableBytesView))
                    }
                    if let length = headers["content-length"].flatMap(Int.init), length != written {
                        throw TransportError(kind: .other, detail: "the body ended after \(written) of \(length) bytes")
                    }
                    return HTTPDownload(status: 200, headers: headers, bytes: written)
                }
                group.addTask {
                    try await progress.watch(stallSeconds: stallSeconds)
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let download = first else {
                    throw TransportError(kind: .timedOut, detail: "nothing arrived for \(Int(stallSeconds)) s")
                }
                return download
            }
        } catch let error as TransportError {
            throw error
        } catch {
            throw Self.classify(error)
        }
    }

    private static func create(_ file: String) -> FileHandle? {
        guard FileManager.default.createFile(atPath: file, contents: nil) else { return nil }
        return FileHandle(forWritingAtPath: file)
    }

    /// Whether bytes moved, watched in quarter-second ticks. Only time the process could run
    /// counts as silence: a tick that comes late (every thread busy, the machine paused) counts
    /// as two at most, so a reader that could not be scheduled is not taken for a silent server.
    private final class Progress: @unchecked Sendable {
        private let lock = NSLock()
        private var moved = false
        func touch() { lock.withLock { moved = true } }

        /// Returns when nothing moved for `stallSeconds`.
        func watch(stallSeconds: Double) async throws {
            let tick = Duration.milliseconds(250)
            let limit = Duration.seconds(stallSeconds)
            var silence = Duration.zero
            while silence <= limit {
                let start = ContinuousClock.now
                try await Task.sleep(for: tick)
                let slept = ContinuousClock.now - start
                let didMove = lock.withLock { () -> Bool in
                    defer { moved = false }
                    return moved
                }
                silence = didMove ? .zero : silence + min(slept, tick * 2)
            }
        }
    }
}

/// A file read in 1 MiB chunks as an upload asks for them.
public struct FileChunks: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    public let path: String
    public let offset: Int64
    /// At most this many bytes are read; nil: to the end of the file.
    public let length: Int64?
    /// Told of every chunk read (a stall watch).
    let onChunk: @Sendable () -> Void

    public init(path: String, offset: Int64 = 0, length: Int64? = nil, onChunk: @escaping @Sendable () -> Void = {}) {
        self.path = path
        self.offset = offset
        self.length = length
        self.onChunk = onChunk
    }

    /// Why a file being sent could not be read.
    public struct ReadError: Error, CustomStringConvertible {
        public var path: String
        public var reason: String
        public var description: String { "cannot read \(path): \(reason)" }
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let chunks: FileChunks
        var handle: FileHandle?
        var left: Int64
        var done = false

        public mutating func next() async throws -> ByteBuffer? {
            if done { return nil }
            if handle == nil {
                guard let opened = FileHandle(forReadingAtPath: chunks.path) else {
                    throw ReadError(path: chunks.path, reason: String(cString: strerror(errno)))
                }
                if chunks.offset > 0 { try opened.seek(toOffset: UInt64(chunks.offset)) }
                handle = opened
            }
            let chunk = left > 0 ? try handle?.read(upToCount: Int(Swift.min(left, 1 << 20))) ?? Data() : Data()
            chunks.onChunk()
            if chunk.isEmpty {
                done = true
                try? handle?.close()
                return nil
            }
            left -= Int64(chunk.count)
            return ByteBuffer(bytes: chunk)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(chunks: self, left: length ?? .max) }
}
