import Foundation

/// The Docker engine's HTTP API on a local unix socket: one HTTP/1.1 connection, blocking
/// reads with a deadline, and `abort()` from any thread to end a request that is waiting.
final class EngineConnection: @unchecked Sendable {
    struct Answer {
        var status: Int
        /// Header values by lowercased name.
        var headers: [String: String]
    }

    let socketPath: String
    private let descriptor: Int32
    private let lock = NSLock()
    private var aborted = false
    private var buffer: [UInt8] = []
    private var bufferStart = 0

    /// Connects; an absent socket or one nobody listens on is `.engineUnreachable`.
    init(socketPath: String) throws(DockerError) {
        self.socketPath = socketPath
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(socketPath.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw DockerError(.engineUnreachable, "the engine socket path is too long: \(socketPath)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        // Close-on-exec: a child spawned meanwhile must not keep the engine connection open.
        descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else {
            throw DockerError(.engineUnreachable, "cannot open a socket: \(String(cString: strerror(errno)))")
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(descriptor)
            throw DockerError(.engineUnreachable, "cannot connect to \(socketPath): \(reason)")
        }
    }

    deinit {
        Glibc.close(descriptor)
    }

    /// Ends the exchange under way: a blocked read or write returns at once and fails as interrupted.
    func abort() {
        lock.withLock { aborted = true }
        shutdown(descriptor, Int32(SHUT_RDWR))
    }

    private var wasAborted: Bool { lock.withLock { aborted } }

    /// Sends one request. `body` is written after the head; `bodyFile`, when given, is streamed instead.
    func send(
        method: String, target: String, headers: [(String, String)] = [], body: Data = Data(), bodyFile: String? = nil,
        deadline: ContinuousClock.Instant
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
        try write(Data(head.utf8), deadline: deadline)
        if let file {
            while true {
                let chunk: Data
                do {
                    chunk = try file.read(upToCount: 1 << 20) ?? Data()
                } catch {
                    throw DockerError(.commandFailed, "cannot read \(bodyFile ?? ""): \(error.localizedDescription)")
                }
                if chunk.isEmpty { break }
                try write(chunk, deadline: deadline)
            }
        } else if !body.isEmpty {
            try write(body, deadline: deadline)
        }
    }

    /// Reads the answer's head, then hands its body to `onBody` piece by piece as it arrives.
    func receive(deadline: ContinuousClock.Instant, onBody: (ArraySlice<UInt8>) throws(DockerError) -> Void)
        throws(DockerError) -> Answer
    {
        let statusLine = try readLine(deadline: deadline)
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw DockerError(
                .badOutput, "the engine at \(socketPath) answered something that is not HTTP: \(statusLine.prefix(80))")
        }
        var headers: [String: String] = [:]
        while true {
            let line = try readLine(deadline: deadline)
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let answer = Answer(status: status, headers: headers)
        // Informational, 204 and 304 answers carry no body.
        if status < 200 || status == 204 || status == 304 { return answer }
        if headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
            while true {
                let sizeLine = try readLine(deadline: deadline)
                let hex = sizeLine.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
                guard let size = Int(hex, radix: 16), size >= 0 else {
                    throw DockerError(.badOutput, "the engine sent a bad chunk size: \(sizeLine.prefix(40))")
                }
                if size == 0 {
                    while try !readLine(deadline: deadline).isEmpty {}  // trailers
                    break
                }
                try readBody(count: size, deadline: deadline, onBody)
                guard try readLine(deadline: deadline).isEmpty else {
                    throw DockerError(.badOutput, "the engine sent a chunk without its line end")
                }
            }
        } else if let length = headers["content-length"].flatMap(Int.init) {
            try readBody(count: length, deadline: deadline, onBody)
        } else {
            // No length given: the body runs to the end of the connection.
            repeat {
                if bufferStart < buffer.count {
                    let slice = buffer[bufferStart...]
                    bufferStart = buffer.count
                    try onBody(slice)
                }
            } while try fill(deadline: deadline)
        }
        return answer
    }

    /// One request with a small body and a small answer, read whole.
    func exchange(method: String, target: String, deadline: ContinuousClock.Instant) throws(DockerError) -> (Int, Data) {
        try send(method: method, target: target, deadline: deadline)
        var body = Data()
        let answer = try receive(deadline: deadline) { body.append(contentsOf: $0) }
        return (answer.status, body)
    }

    private func readBody(
        count: Int, deadline: ContinuousClock.Instant, _ onBody: (ArraySlice<UInt8>) throws(DockerError) -> Void
    ) throws(DockerError) {
        var remaining = count
        while remaining > 0 {
            if bufferStart == buffer.count {
                guard try fill(deadline: deadline) else {
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

    private func readLine(deadline: ContinuousClock.Instant) throws(DockerError) -> String {
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
            guard try fill(deadline: deadline) else {
                throw DockerError(.badOutput, "the engine closed the connection in the middle of an answer")
            }
        }
    }

    /// Reads more bytes into the buffer; false at the end of the stream.
    private func fill(deadline: ContinuousClock.Instant) throws(DockerError) -> Bool {
        if bufferStart > 0 {
            buffer.removeFirst(bufferStart)
            bufferStart = 0
        }
        try wait(for: Int16(POLLIN), deadline: deadline)
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        if count < 0 {
            if errno == EINTR || errno == EAGAIN { return true }
            throw failure("reading")
        }
        if wasAborted { throw DockerError(.interrupted, "interrupted") }
        buffer.append(contentsOf: chunk[..<count])
        return count > 0
    }

    private func write(_ data: Data, deadline: ContinuousClock.Instant) throws(DockerError) {
        var offset = 0
        while offset < data.count {
            try wait(for: Int16(POLLOUT), deadline: deadline)
            let written = data.withUnsafeBytes {
                Glibc.send(descriptor, $0.baseAddress! + offset, data.count - offset, Int32(MSG_NOSIGNAL))
            }
            if written < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw failure("writing")
            }
            offset += written
        }
    }

    /// Waits until the socket is ready, the deadline passes (a timeout) or the exchange is aborted.
    private func wait(for events: Int16, deadline: ContinuousClock.Instant) throws(DockerError) {
        while true {
            if wasAborted { throw DockerError(.interrupted, "interrupted") }
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero else {
                throw DockerError(.commandFailed, "the engine at \(socketPath) did not answer in time")
            }
            var poller = pollfd(fd: descriptor, events: events, revents: 0)
            let milliseconds = Int32(min(left.components.seconds * 1000 + 1, 1000))
            let ready = poll(&poller, 1, milliseconds)
            if ready > 0 { return }
            if ready < 0, errno != EINTR { throw failure("waiting") }
        }
    }

    private func failure(_ doing: String) -> DockerError {
        if wasAborted { return DockerError(.interrupted, "interrupted") }
        return DockerError(.commandFailed, "lost the engine at \(socketPath) while \(doing): \(String(cString: strerror(errno)))")
    }
}
