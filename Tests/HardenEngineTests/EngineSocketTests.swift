import Foundation
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

    func connection(to engine: ScriptedEngine, within seconds: Int = 10) throws(DockerError) -> EngineConnection {
        let connection = try EngineConnection(socketPath: engine.path, timeout: .seconds(seconds))
        try connection.connect()
        return connection
    }

    func exchange(with engine: ScriptedEngine, within seconds: Int = 10) throws(DockerError) -> (Int, String) {
        let (status, body) = try connection(to: engine, within: seconds).exchange(method: "GET", target: "/_ping")
        return (status, String(decoding: body, as: UTF8.self))
    }

    @Test func aBodyWithoutLengthRunsToTheEnd() throws {
        let engine = try ScriptedEngine(answer: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nOK, all of it")
        let (status, body) = try exchange(with: engine)
        #expect(status == 200)
        #expect(body == "OK, all of it")
    }

    @Test func chunksAreJoined() throws {
        let engine = try ScriptedEngine(
            answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7;x=y\r\n, world\r\n0\r\n\r\n")
        let (status, body) = try exchange(with: engine)
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
    func aBrokenAnswerIsABadOutputError(answer: String, expected: String) throws {
        let engine = try ScriptedEngine(answer: answer)
        do {
            _ = try exchange(with: engine)
            Issue.record("a broken answer was taken")
        } catch {
            #expect(error.kind == .badOutput)
            #expect(error.message.contains(expected), "\(error.message)")
        }
    }

    @Test func anEngineThatNeverAnswersTimesOut() throws {
        let engine = try ScriptedEngine(answer: nil)
        do {
            _ = try exchange(with: engine, within: 1)
            Issue.record("a silent engine answered")
        } catch {
            #expect(error.kind == .commandFailed)
            #expect(error.message.contains("did not answer within 1 s"))
        }
    }

    /// An engine that stops reading a large request does not leave the sender blocked.
    @Test func aRequestTheEngineDoesNotReadTimesOut() throws {
        let engine = try ScriptedEngine(answer: nil)
        let connection = try connection(to: engine, within: 1)
        let started = ContinuousClock.now
        do {
            _ = try connection.request(method: "POST", target: "/build", body: Data(count: 32 << 20)) { _ in }
            Issue.record("a request nobody read was sent")
        } catch {
            #expect(error.kind == .commandFailed)
            #expect(error.message.contains("did not answer within 1 s"), "\(error.message)")
        }
        #expect(ContinuousClock.now - started < .seconds(30))
    }

    /// The engine refuses some requests before reading their body (a bad tag on a build):
    /// its answer is what the caller hears, not the broken pipe, whether it then closes the
    /// connection or keeps it without reading.
    @Test(arguments: [false, true])
    func anAnswerBeforeTheBodyWasReadIsHeard(keepsOpen: Bool) throws {
        let message = #"{"message":"invalid reference format"}"#
        let engine = try ScriptedEngine(
            answer:
                "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: \(message.utf8.count)\r\n\r\n\(message)",
            keepsOpen: keepsOpen)
        var body = Data()
        let answer = try connection(to: engine).request(method: "POST", target: "/build", body: Data(count: 32 << 20)) {
            body.append(contentsOf: $0)
        }
        #expect(answer.status == 400)
        #expect(EngineAPI.message(in: body) == "invalid reference format")
    }

    @Test func aSocketNobodyListensOnIsUnreachable() throws {
        let path = "/tmp/harden-absent-\(UUID().uuidString.prefix(8)).sock"
        do {
            try EngineConnection(socketPath: path, timeout: .seconds(5)).connect()
            Issue.record("connected to \(path)")
        } catch {
            #expect(error.kind == .engineUnreachable)
            #expect(error.message == "cannot connect to \(path): \(String(cString: strerror(ENOENT)))")
        }
    }

    @Test func abortEndsAWaitingRead() async throws {
        let engine = try ScriptedEngine(answer: nil)
        let connection = try connection(to: engine, within: 600)
        let waiting = Task.detached {
            try connection.exchange(method: "GET", target: "/_ping")
        }
        // An abort before the read starts is seen when it starts; one during it ends it.
        connection.abort()
        let result = await waiting.result
        guard case .failure(let error as DockerError) = result else {
            Issue.record("the read was not aborted: \(result)")
            return
        }
        #expect(error.kind == .interrupted)
    }
}

/// Connections a silent engine keeps open until the test ends.
private final class HeldConnections: @unchecked Sendable {
    private let lock = NSLock()
    private var descriptors: [Int32] = []
    func add(_ descriptor: Int32) { lock.withLock { descriptors.append(descriptor) } }
    func closeAll() { lock.withLock { descriptors.forEach { close($0) } } }
}
