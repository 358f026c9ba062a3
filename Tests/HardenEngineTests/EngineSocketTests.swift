import Foundation
import NIOCore
import Testing

@testable import HardenEngine

/// Answers a real engine never gives (no length, cut off, not HTTP, none at all), from a
/// scripted server on a unix socket: each must end in a clear error or a read, never a hang.
@Suite struct EngineSocketTests {
    /// Listens on a fresh socket; for each connection reads one request head and sends `answer`,
    /// then closes, or with `keepsOpen` keeps the connection without reading more (nil: sends
    /// nothing and keeps the connection open until the test ends).
    final class ScriptedEngine: @unchecked Sendable {
        let path = "/tmp/harden-scripted-\(UUID().uuidString.prefix(8)).sock"
        private let listener: Int32
        private let held = HeldConnections()

        init(answer: String?, keepsOpen: Bool = false) throws {
            listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                raw.copyBytes(from: Array(path.utf8))
            }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            guard bound == 0, listen(listener, 4) == 0 else { throw POSIXError(.EADDRINUSE) }
            let listening = listener
            let connections = held
            Thread {
                while true {
                    let client = accept(listening, nil, nil)
                    if client < 0 {
                        // Closed here, not in deinit: a descriptor closed while this thread still
                        // waits on it can be reused by the next test's listener and answered from here.
                        close(listening)
                        return
                    }
                    var head: [UInt8] = []
                    var byte: UInt8 = 0
                    while read(client, &byte, 1) == 1 {
                        head.append(byte)
                        if head.suffix(4) == Array("\r\n\r\n".utf8) { break }
                    }
                    if let answer {
                        _ = answer.withCString { send(client, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
                        if keepsOpen { connections.add(client) } else { close(client) }
                    } else {
                        connections.add(client)
                    }
                }
            }.start()
        }

        deinit {
            shutdown(listener, Int32(SHUT_RDWR))  // ends the accept; the thread closes it
            held.closeAll()
            unlink(path)
        }
    }

    /// A deadline a busy task pool cannot outlast by itself unless a test means it to.
    func exchange(with engine: ScriptedEngine, within seconds: Int = 60) async throws(DockerError) -> (Int, String) {
        let (status, body) = try await EngineHTTP(socketPath: engine.path).exchange(
            method: "GET", path: "/_ping", timeout: .seconds(seconds))
        return (status, String(decoding: body, as: UTF8.self))
    }

    /// A 32 MiB request body, more than a socket buffers.
    func largeBody() throws -> URL {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("harden-body-\(UUID().uuidString)")
        try Data(count: 32 << 20).write(to: file)
        return file
    }

    @Test func aBodyWithoutLengthRunsToTheEnd() async throws {
        let engine = try ScriptedEngine(answer: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nOK, all of it")
        let (status, body) = try await exchange(with: engine)
        #expect(status == 200)
        #expect(body == "OK, all of it")
    }

    @Test func chunksAreJoined() async throws {
        let engine = try ScriptedEngine(
            answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7;x=y\r\n, world\r\n0\r\n\r\n")
        let (status, body) = try await exchange(with: engine)
        #expect(status == 200)
        #expect(body == "hello, world")
    }

    @Test(arguments: [
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc", "closed the connection in the middle"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", "closed the connection in the middle"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"),
        ("SSH-2.0-OpenSSH_9.2\r\n", "not HTTP"),
        ("HTTP/1.1 200 OK\r\nContent-Le", "closed the connection in the middle"),
    ])
    func aBrokenAnswerIsABadOutputError(answer: String, expected: String) async throws {
        let engine = try ScriptedEngine(answer: answer)
        do {
            _ = try await exchange(with: engine)
            Issue.record("a broken answer was taken")
        } catch {
            #expect(error.kind == .badOutput)
            #expect(error.message.contains(expected), "\(error.message)")
        }
    }

    @Test func anEngineThatNeverAnswersTimesOut() async throws {
        let engine = try ScriptedEngine(answer: nil)
        do {
            _ = try await exchange(with: engine, within: 1)
            Issue.record("a silent engine answered")
        } catch {
            #expect(error.kind == .commandFailed)
            #expect(error.message.contains("did not answer within 1 s"))
        }
    }

    /// An engine that stops reading a large request does not leave the sender blocked.
    @Test func aRequestTheEngineDoesNotReadTimesOut() async throws {
        let engine = try ScriptedEngine(answer: nil)
        let body = try largeBody()
        defer { try? FileManager.default.removeItem(at: body) }
        let started = ContinuousClock.now
        do {
            _ = try await EngineHTTP(socketPath: engine.path).request(
                method: "POST", path: "/build", bodyFile: body.path, timeout: .seconds(1)
            ) { _ in }
            Issue.record("a request nobody read was sent")
        } catch {
            #expect(error.kind == .commandFailed)
            #expect(error.message.contains("did not answer within 1 s"), "\(error.message)")
        }
        // Bounded, not timed: a blocked sender never returns; a full test run on two cores
        // has been seen to delay the 1 s deadline's wake-up by 40 s.
        #expect(ContinuousClock.now - started < .seconds(120))
    }

    /// The engine refuses some requests before reading their body (a bad tag on a build):
    /// its answer is what the caller hears, not the broken upload, whether it then closes the
    /// connection or keeps it without reading.
    @Test(arguments: [false, true])
    func anAnswerBeforeTheBodyWasReadIsHeard(keepsOpen: Bool) async throws {
        let message = #"{"message":"invalid reference format"}"#
        let engine = try ScriptedEngine(
            answer:
                "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: \(message.utf8.count)\r\n\r\n\(message)",
            keepsOpen: keepsOpen)
        let file = try largeBody()
        defer { try? FileManager.default.removeItem(at: file) }
        let body = Received()
        let status = try await EngineHTTP(socketPath: engine.path).request(
            method: "POST", path: "/build", bodyFile: file.path, timeout: .seconds(60)
        ) { body.append(Data($0.readableBytesView)) }
        #expect(status == 400)
        #expect(EngineAPI.message(in: body.data) == "invalid reference format")
    }

    @Test func aSocketNobodyListensOnIsUnreachable() async throws {
        let path = "/tmp/harden-absent-\(UUID().uuidString.prefix(8)).sock"
        do {
            _ = try await EngineHTTP(socketPath: path).exchange(method: "GET", path: "/_ping", timeout: .seconds(60))
            Issue.record("connected to \(path)")
        } catch {
            #expect(error.kind == .engineUnreachable)
            #expect(error.message == "cannot connect to \(path): \(String(cString: strerror(ENOENT)))")
        }
    }

    /// Cancelling the task ends a request that waits for an answer, long before its deadline.
    @Test func cancellingEndsAWaitingRequest() async throws {
        let engine = try ScriptedEngine(answer: nil)
        let started = ContinuousClock.now
        let waiting = Task {
            try await EngineHTTP(socketPath: engine.path).exchange(method: "GET", path: "/_ping", timeout: .seconds(600))
        }
        try await Task.sleep(for: .milliseconds(200))
        waiting.cancel()
        let result = await waiting.result
        guard case .failure(let error as DockerError) = result else {
            Issue.record("the request was not ended: \(result)")
            return
        }
        #expect(error.kind == .interrupted)
        // Far below the 600 s deadline; the margin is for a full test run, whose other suites
        // can keep the task pool's threads busy for tens of seconds.
        #expect(ContinuousClock.now - started < .seconds(120))
    }
}

/// An answer's bytes, gathered as they come.
private final class Received: @unchecked Sendable {
    private let lock = NSLock()
    private var bytes = Data()
    func append(_ data: Data) { lock.withLock { bytes.append(data) } }
    var data: Data { lock.withLock { bytes } }
}
/// Connections a silent engine keeps open until the test ends.
private final class HeldConnections: @unchecked Sendable {
    private let lock = NSLock()
    private var descriptors: [Int32] = []
    func add(_ descriptor: Int32) { lock.withLock { descriptors.append(descriptor) } }
    func closeAll() { lock.withLock { descriptors.forEach { close($0) } } }
}
