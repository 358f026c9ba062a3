import Foundation
import HardenConcurrency

/// A failure of the test machinery itself, with what to do about it.
public struct TestSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A background process for a test, its output going to a log file; `stop()` kills and reaps it.
///
/// Foundation starts children with the spawning thread's signal mask, where SIGTERM may be blocked,
/// so stopping uses SIGKILL, which cannot be blocked.
public final class TestProcess {
    public let logFile: URL
    private let process = Process()

    /// Starts `executable`, a path or a name looked up in PATH.
    public init(_ executable: String, _ arguments: [String], logFile: URL) throws {
        let path =
            ProcessInfo.processInfo.environment["PATH", default: ""].split(separator: ":")
            .map { "\($0)/\(executable)" }
            .first { !executable.contains("/") && FileManager.default.isExecutableFile(atPath: $0) } ?? executable
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw TestSetupError("\(executable) is missing: run scripts/setup.sh")
        }
        self.logFile = logFile
        guard FileManager.default.createFile(atPath: logFile.path, contents: nil) else {
            throw TestSetupError("cannot create \(logFile.path)")
        }
        let output = try FileHandle(forWritingTo: logFile)
        defer { try? output.close() }
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    deinit { stop() }

    public var isRunning: Bool { process.isRunning }

    public var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    public func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// The port a test server printed as a line `port N` once it listened, asked for up to
    /// `seconds` (see `poll`); nil if it never printed one.
    public func announcedPort(within seconds: Double = 60) async throws -> Int? {
        try await poll(seconds: seconds) { () -> Int? in
            log.split(separator: "\n").first { $0.hasPrefix("port ") }.flatMap { Int($0.dropFirst(5)) }
        }
    }
}

/// Runs blocking work (waiting on a child) on a thread of its own: Swift's cooperative pool has
/// as many threads as cores, and a test holding one stalls every other test's tasks with it.
public func offThePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await blockingWork(work)
}

/// `runTool` from a task, waiting off the cooperative pool.
@discardableResult
public func runTool(_ executable: String, _ arguments: [String], input: Data? = nil) async throws -> Data {
    try await offThePool { try runToolWaiting(executable, arguments, input: input) }
}

/// Runs a tool to its end and returns its standard output; throws with its standard error when it fails.
@discardableResult
public func runToolWaiting(_ executable: String, _ arguments: [String], input: Data? = nil) throws -> Data {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let output = Pipe()
    let errors = Pipe()
    let stdin = Pipe()
    process.standardOutput = output
    process.standardError = errors
    process.standardInput = input == nil ? FileHandle.nullDevice : stdin
    try process.run()
    if let input {
        stdin.fileHandleForWriting.write(input)
        try stdin.fileHandleForWriting.close()
    }
    let data = output.fileHandleForReading.readDataToEndOfFile()
    let message = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        let text = String(decoding: message, as: UTF8.self)
        throw TestSetupError("\(executable) \(arguments.joined(separator: " ")) failed: \(text)")
    }
    return data
}

/// `sha256:<hex>` of the bytes, by coreutils' sha256sum.
public func sha256Digest(_ data: Data) throws -> String {
    let output = String(decoding: try runToolWaiting("/usr/bin/sha256sum", ["-"], input: data), as: UTF8.self)
    return "sha256:" + output.prefix(while: { !$0.isWhitespace })
}

/// A port on 127.0.0.1 that nothing listens on right now.
public func freePort() throws -> Int {
    let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard socketFD >= 0 else { throw TestSetupError("socket() failed: errno \(errno)") }
    defer { close(socketFD) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
            bind(socketFD, socketAddress, length) == 0 && getsockname(socketFD, socketAddress, &length) == 0
        }
    }
    guard bound else { throw TestSetupError("cannot bind a port on 127.0.0.1: errno \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Runs `body` with a new temporary directory, removed afterwards whatever happens.
public func withScratchDirectory<T>(_ body: (URL) async throws -> T) async throws -> T {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("harden-registry-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    return try await body(directory)
}

/// Asks `check` every 50 ms until it gives a value, or `seconds` have passed and it was asked at
/// least 20 times: when the whole suite keeps the task pool busy (tests start hundreds at once
/// on 2 cores), a wait stalled for a minute still looks again before it gives up.
public func poll<T>(seconds: Double, _ check: () async throws -> T?) async throws -> T? {
    let deadline = Date().addingTimeInterval(seconds)
    var asked = 0
    while true {
        if let value = try await check() { return value }
        asked += 1
        if Date() > deadline && asked >= 20 { return nil }
        try await Task.sleep(for: .milliseconds(50))
    }
}
