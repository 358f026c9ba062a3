import AsyncHTTPClient
import Foundation
import HardenHTTP
import NIOCore
import NIOHTTP1
import NIOPosix

/// Requests to the engine's API on its unix socket, through the process's one HTTP client
/// (AsyncHTTPClient's `http+unix://`). One deadline covers connecting, the upload and the
/// whole answer; cancelling the task closes the connection, and the engine stops a build
/// whose connection closes.
struct EngineHTTP: Sendable {
    let socketPath: String

    /// A request whose answer is small (ping, inspect): its status and whole body.
    func exchange(method: String, path: String, timeout: Duration) async throws(DockerError) -> (status: Int, body: Data) {
        let body = Collected()
        let status = try await request(method: method, path: path, timeout: timeout) { body.append($0) }
        return (status, body.data)
    }

    /// Sends one request, its body streamed from `bodyFile` when given; `onBody` gets the answer
    /// as it arrives. Returns the status. An engine that answers before it read the whole body
    /// (a refused build) is heard: its answer is returned, not the broken upload.
    func request(
        method: String, path: String, headers: [(String, String)] = [], bodyFile: String? = nil, timeout: Duration,
        onBody: @escaping @Sendable (ByteBuffer) -> Void
    ) async throws(DockerError) -> Int {
        guard let url = URL(httpURLWithSocketPath: socketPath, uri: path) else {
            throw DockerError(.engineUnreachable, "the engine socket path cannot be used: \(socketPath)")
        }
        var outgoing = HTTPClientRequest(url: url.absoluteString)
        outgoing.method = HTTPMethod(rawValue: method)
        outgoing.headers.add(name: "Host", value: "docker")
        outgoing.headers.add(name: "User-Agent", value: "harden")
        for (name, value) in headers { outgoing.headers.add(name: name, value: value) }
        if let bodyFile {
            var info = stat()
            guard stat(bodyFile, &info) == 0 else {
                throw DockerError(.commandFailed, "cannot read \(bodyFile): \(String(cString: strerror(errno)))")
            }
            outgoing.body = .stream(FileChunks(path: bodyFile), length: .known(Int64(info.st_size)))
        } else if method != "GET" {
            outgoing.body = .bytes(ByteBuffer())
        }
        let deadline = NIODeadline.now() + .nanoseconds(Int64(timeout.inSeconds * 1e9))
        let request = outgoing
        let socket = socketPath
        do {
            return try await withThrowingTaskGroup(of: Int?.self) { group in
                group.addTask {
                    let response = try await HTTPClients.shared.direct.execute(request, deadline: deadline)
                    for try await chunk in response.body { onBody(chunk) }
                    return Int(response.status.code)
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let status = first else {
                    throw HTTPClientError.deadlineExceeded
                }
                return status
            }
        } catch {
            throw Self.classify(error, socketPath: socket, timeout: timeout)
        }
    }

    /// AsyncHTTPClient's and NIO's errors in the terms the rest of harden uses.
    static func classify(_ error: any Error, socketPath: String, timeout: Duration) -> DockerError {
        if error is CancellationError || (error as? HTTPClientError) == .cancelled {
            return DockerError(.interrupted, "interrupted")
        }
        if let error = error as? HTTPClientError,
            [.deadlineExceeded, .connectTimeout, .readTimeout, .writeTimeout].contains(error)
        {
            return DockerError(
                .commandFailed, "the engine at \(socketPath) did not answer within \(Self.shown(timeout))")
        }
        if let code = Self.connectErrno(error) {
            return DockerError(.engineUnreachable, "cannot connect to \(socketPath): \(String(cString: strerror(code)))")
        }
        if let error = error as? HTTPParserError {
            switch error {
            case .invalidEOFState:
                return DockerError(.badOutput, "the engine closed the connection in the middle of an answer")
            case .invalidChunkSize:
                return DockerError(.badOutput, "the engine sent a bad chunk size")
            default:
                return DockerError(.badOutput, "the engine's answer is not HTTP (\(error))")
            }
        }
        if let error = error as? HTTPClientError, error == .remoteConnectionClosed {
            return DockerError(.badOutput, "the engine closed the connection in the middle of an answer")
        }
        if let error = error as? DockerError { return error }
        if let error = error as? FileChunks.ReadError { return DockerError(.commandFailed, error.description) }
        return DockerError(.commandFailed, "lost the engine at \(socketPath): \(error)")
    }

    /// The errno of a failed connect, however NIO wraps it.
    private static func connectErrno(_ error: any Error) -> Int32? {
        if let error = error as? IOError { return error.errnoCode }
        if let error = error as? NIOConnectionError {
            return error.connectionErrors.lazy.compactMap { ($0.error as? IOError)?.errnoCode }.first
        }
        return nil
    }

    private static func shown(_ duration: Duration) -> String {
        let seconds = duration.components.seconds
        if seconds == 0 { return "\(duration.components.attoseconds / 1_000_000_000_000_000) ms" }
        return "\(seconds) s"
    }
}

/// An answer's bytes, gathered from the task that reads them.
private final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var bytes = Data()

    func append(_ buffer: ByteBuffer) { lock.withLock { bytes.append(contentsOf: buffer.readableBytesView) } }
    var data: Data { lock.withLock { bytes } }
}
