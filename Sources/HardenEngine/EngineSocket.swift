import Foundation
import HardenProcess

/// The Docker engine's HTTP API on a local unix socket: one HTTP/1.1 connection, non-blocking,
/// every connect, write and read bounded by one deadline, and `abort()` from any thread to end
/// a request that is waiting.
final class EngineConnection: @unchecked Sendable {
    struct Answer {
        var status: Int
        /// Header values by lowercased name.
        var headers: [String: String]
    }

    let socketPath: String
    private let timeout: Duration
    private let deadline: ContinuousClock.Instant
    private var address: sockaddr_un
    private let descriptor: Int32
    private let lock = NSLock()
    private var aborted = false
    /// The engine stopped reading what was sent (EPIPE, ECONNRESET): it may have answered already.
    private var peerStoppedReading = false
    private var buffer: [UInt8] = []
    private var bufferStart = 0
    /// What one recv fills, made at the first read of the connection.
    private var received: UnsafeMutableRawBufferPointer?

    /// Makes the socket; `connect()` reaches the engine. Everything must be done within `timeout`.
    init(socketPath: String, timeout: Duration) throws(DockerError) {
        self.socketPath = socketPath
        self.timeout = timeout
        deadline = ContinuousClock.now + timeout
        var address = sockaddr_un()
        let pathBytes = Array(socketPath.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw DockerError(.engineUnreachable, "the engine socket path is too long: \(socketPath)")
        }
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        self.address = address
        // Close-on-exec: a child spawned meanwhile must not keep the engine connection open.
        descriptor = socket(
            AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard descriptor >= 0 else {
            throw DockerError(.engineUnreachable, "cannot open a socket: \(String(cString: strerror(errno)))")
        }
    }

    deinit {
        if descriptor >= 0 { Glibc.close(descriptor) }
        received?.deallocate()
    }

    /// Connects; an absent socket or one nobody listens on is `.engineUnreachable`.
    func connect() throws(DockerError) {
        var backoff = 1
        while true {
            if wasAborted { throw DockerError(.interrupted, "interrupted") }
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            let code = errno
            if connected == 0 { return }
            switch code {
            case EINTR:
                continue
            case EAGAIN:
                // The engine's listen queue is full: try again, less often, until the deadline.
                guard ContinuousClock.now < deadline else { throw timedOut() }
                usleep(UInt32(backoff) * 1000)
                backoff = min(backoff * 2, 100)
            case EINPROGRESS:
                _ = try wait(for: Int16(POLLOUT))
                var error: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &error, &length)
                if error == 0 { return }
                throw DockerError(.engineUnreachable, "cannot connect to \(socketPath): \(String(cString: strerror(error)))")
            default:
                throw DockerError(.engineUnreachable, "cannot connect to \(socketPath): \(String(cString: strerror(code)))")
            }
        }
    }

    /// Ends the exchange under way: a blocked read or write returns at once and fails as interrupted.
    func abort() {
        lock.withLock { aborted = true }
        shutdown(descriptor, Int32(SHUT_RDWR))
    }

    private var wasAborted: Bool { lock.withLock { aborted } }

    /// Sends one request. `body` is written after the head; `bodyFile`, when given, is streamed instead.
    private func send(
        method: String, target: String, headers: [(String, String)] = [], body: Data = Data(), bodyFile: String? = nil
    ) throws(DockerError) {
        var length = Int64(body.count)
        var file: FileHandle?
        if let bodyFile {
            guard let handle = FileHandle(forReadingAtPath: bodyFile) else {
                throw DockerError(.commandFailed, "cannot read \(bodyFile)")
            }
            file = handle
            length = (try? handle.seekToEnd()).map(Int64.init) ?? 0
            try? handle.seek(toOffset: 0)
        }
        defer { try? file?.close() }
        var head = "\(method) \(target) HTTP/1.1\r\nHost: docker\r\nUser-Agent: harden\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if method != "GET" || length > 0 { head += "Content-Length: \(length)\r\n" }
        head += "\r\n"
        try write(Data(head.utf8))
        if let file {
            while true {
                let chunk: Data
                do {
                    chunk = try file.read(upToCount: 1 << 20) ?? Data()
                } catch {
                    throw DockerError(.commandFailed, "cannot read \(bodyFile ?? ""): \(error.localizedDescription)")
                }
                if chunk.isEmpty { break }
                try write(chunk)
            }
        } else if !body.isEmpty {
            try write(body)
        }
    }

    /// Reads the answer's head, then hands its body to `onBody` piece by piece as it arrives.
    private func receive(onBody: (ArraySlice<UInt8>) throws(DockerError) -> Void) throws(DockerError) -> Answer {
        let statusLine = try readLine()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw DockerError(
                .badOutput, "the engine at \(socketPath) answered something that is not HTTP: \(statusLine.prefix(80))")
        }
        var headers: [String: String] = [:]
        while true {
            let line = try readLine()
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let answer = Answer(status: status, headers: headers)
        // Informational, 204 and 304 answers carry no body.
        if status < 200 || status == 204 || status == 304 { return answer }
        if headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
            while true {
                let sizeLine = try readLine()
                let hex = sizeLine.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
                guard let size = Int(hex, radix: 16), size >= 0 else {
                    throw DockerError(.badOutput, "the engine sent a bad chunk size: \(sizeLine.prefix(40))")
                }
                if size == 0 {
                    while try !readLine().isEmpty {}  // trailers
                    break
                }
                try readBody(count: size, onBody)
                guard try readLine().isEmpty else {
                    throw DockerError(.badOutput, "the engine sent a chunk without its line end")
                }
            }
        } else if let length = headers["content-length"].flatMap(Int.init) {
            try readBody(count: length, onBody)
        } else {
            // No length given: the body runs to the end of the connection.
            repeat {
                if bufferStart < buffer.count {
                    let slice = buffer[bufferStart...]
                    bufferStart = buffer.count
                    try onBody(slice)
                }
            } while try fill()
        }
        return answer
    }

    /// Sends one request and reads its answer. An engine that answers before it has read the
    /// whole request (a bad tag refused before the build context) is heard, not lost to EPIPE.
    func request(
        method: String, target: String, headers: [(String, String)] = [], body: Data = Data(), bodyFile: String? = nil,
        onBody: (ArraySlice<UInt8>) throws(DockerError) -> Void
    ) throws(DockerError) -> Answer {
        do {
            try send(method: method, target: target, headers: headers, body: body, bodyFile: bodyFile)
        } catch {
            guard peerStoppedReading, let answer = try? receive(onBody: onBody) else { throw error }
            return answer
        }
        return try receive(onBody: onBody)
    }

    /// One request with a small body and a small answer, read whole.
    func exchange(method: String, target: String) throws(DockerError) -> (Int, Data) {
        var body = Data()
        let answer = try request(method: method, target: target) { body.append(contentsOf: $0) }
        return (answer.status, body)
    }

    private func readBody(count: Int, _ onBody: (ArraySlice<UInt8>) throws(DockerError) -> Void) throws(DockerError) {
        var remaining = count
        while remaining > 0 {
            if bufferStart == buffer.count {
                guard try fill() else {
                    throw DockerError(.badOutput, "the engine closed the connection in the middle of an answer")
                }
            }
            let take = min(remaining, buffer.count - bufferStart)
            let slice = buffer[bufferStart..<(bufferStart + take)]
            bufferStart += take
            remaining -= take
            try onBody(slice)
        }
    }

    private func readLine() throws(DockerError) -> String {
        while true {
            if let newline = buffer[bufferStart...].firstIndex(of: UInt8(ascii: "\n")) {
                var end = newline
                if end > bufferStart, buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                let line = String(decoding: buffer[bufferStart..<end], as: UTF8.self)
                bufferStart = newline + 1
                return line
            }
            guard buffer.count - bufferStart < 64 << 10 else {
                throw DockerError(.badOutput, "the engine sent a header line longer than 64 KiB")
            }
            guard try fill() else {
                throw DockerError(.badOutput, "the engine closed the connection in the middle of an answer")
            }
        }
    }

    /// Reads more bytes into the buffer; false at the end of the stream.
    private func fill() throws(DockerError) -> Bool {
        if bufferStart > 0 {
            buffer.removeFirst(bufferStart)
            bufferStart = 0
        }
        _ = try wait(for: Int16(POLLIN))
        let received = self.received ?? UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
        self.received = received
        let count = recv(descriptor, received.baseAddress, received.count, 0)
        let code = errno
        if count < 0 {
            if code == EINTR || code == EAGAIN { return true }
            // An engine that stopped reading closes with our request unread: its answer ends in a reset.
            if code == ECONNRESET && lock.withLock({ peerStoppedReading }) { return false }
            throw failure("reading", code)
        }
        if wasAborted { throw DockerError(.interrupted, "interrupted") }
        buffer.append(contentsOf: received[..<count])
        return count > 0
    }

    private func write(_ data: Data) throws(DockerError) {
        var offset = 0
        while offset < data.count {
            let ready = try wait(for: Int16(POLLOUT) | Int16(POLLIN))
            if ready & Int16(POLLIN) != 0 && ready & Int16(POLLOUT) == 0 {
                // Answered, and not reading what is left of the request: hear the answer.
                lock.withLock { peerStoppedReading = true }
                throw DockerError(.commandFailed, "the engine at \(socketPath) answered before it read the whole request")
            }
            let written = data.withUnsafeBytes {
                Glibc.send(descriptor, $0.baseAddress! + offset, data.count - offset, Int32(MSG_NOSIGNAL))
            }
            let code = errno
            if written < 0 {
                if code == EINTR || code == EAGAIN { continue }
                if code == EPIPE || code == ECONNRESET { lock.withLock { peerStoppedReading = true } }
                throw failure("writing", code)
            }
            offset += written
        }
    }

    /// Waits until the socket is ready for one of `events` (returned), the deadline passes (a
    /// timeout) or the exchange is aborted.
    private func wait(for events: Int16) throws(DockerError) -> Int16 {
        while true {
            if wasAborted { throw DockerError(.interrupted, "interrupted") }
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero else { throw timedOut() }
            var poller = pollfd(fd: descriptor, events: events, revents: 0)
            // At most a second between looks at `aborted`.
            let ready = poll(&poller, 1, left.pollMilliseconds(atMost: .seconds(1)))
            let code = errno
            if ready > 0 { return poller.revents }
            if ready < 0, code != EINTR { throw failure("waiting", code) }
        }
    }

    private func timedOut() -> DockerError {
        DockerError(.commandFailed, "the engine at \(socketPath) did not answer within \(Self.shown(timeout))")
    }

    private static func shown(_ duration: Duration) -> String {
        let seconds = duration.components.seconds
        if seconds == 0 { return "\(duration.components.attoseconds / 1_000_000_000_000_000) ms" }
        if seconds >= 3600, seconds % 3600 == 0 { return "\(seconds / 3600) h" }
        if seconds >= 60, seconds % 60 == 0 { return "\(seconds / 60) min" }
        return "\(seconds) s"
    }

    private func failure(_ doing: String, _ code: Int32) -> DockerError {
        if wasAborted { return DockerError(.interrupted, "interrupted") }
        return DockerError(.commandFailed, "lost the engine at \(socketPath) while \(doing): \(String(cString: strerror(code)))")
    }
}
