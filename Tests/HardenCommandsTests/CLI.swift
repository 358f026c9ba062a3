import Foundation
import Testing
import HardenTestSupport

/// Runs the real `harden` binary, as a user would.
enum CLI {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var binary: String {
        if let path = ProcessInfo.processInfo.environment["HARDEN_BIN"] { return path }
        return packageRoot.appendingPathComponent(".build/debug/harden").path
    }

    /// Runs harden in `directory` and waits, at most `timeout` seconds. Waits by sleeping the
    /// task, not a thread: a blocked thread is one less in Swift's small cooperative pool, and
    /// with every command test blocking one, other tests' tasks could not resume for minutes.
    static func run(
        _ arguments: [String], in directory: URL, environment: [String: String] = [:], timeout: Double = 600
    ) async throws -> Result {
        let process = try start(arguments, in: directory, environment: environment)
        let deadline = Date().addingTimeInterval(timeout)
        while process.process.isRunning {
            if Date() > deadline {
                process.process.terminate()
                Issue.record("harden \(arguments.joined(separator: " ")) did not finish in \(timeout) s")
                break
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        process.process.waitUntilExit()
        return process.result()
    }

    final class Running {
        let process: Process
        let stdoutFile: URL
        let stderrFile: URL

        init(process: Process, stdoutFile: URL, stderrFile: URL) {
            self.process = process
            self.stdoutFile = stdoutFile
            self.stderrFile = stderrFile
        }

        func result() -> Result {
            let out = (try? String(contentsOf: stdoutFile, encoding: .utf8)) ?? ""
            let err = (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? ""
            try? FileManager.default.removeItem(at: stdoutFile)
            try? FileManager.default.removeItem(at: stderrFile)
            return Result(status: process.terminationStatus, stdout: out, stderr: err)
        }
    }

    /// Starts harden without waiting; output goes to files (no pipe can fill up).
    static func start(_ arguments: [String], in directory: URL, environment: [String: String] = [:]) throws -> Running {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.currentDirectoryURL = directory
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("harden-cli-\(UUID().uuidString)")
        let out = base.appendingPathExtension("out"), err = base.appendingPathExtension("err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return Running(process: process, stdoutFile: out, stderrFile: err)
    }

    /// Runs `image` (a flask example: it listens on 8080) detached, asks its `/health` until it
    /// answers (up to a minute, see `poll`), runs `body` with the container, its address and the
    /// answer ("" if none came), and removes the container.
    static func withRunningApp<T>(
        _ image: String, _ body: (_ container: String, _ address: String, _ health: String) async throws -> T
    ) async throws -> T {
        let container = try await shell("docker run -d --rm \(image)").output
        defer { _ = try? shellWaiting("docker rm -f \(container)") }
        let address = try await shell("docker inspect --format '{{.NetworkSettings.IPAddress}}' \(container)").output
        let health = try await poll(seconds: 60) { () async throws -> String? in
            let answer = try await shell("curl -sf http://\(address):8080/health").output
            return answer.isEmpty ? nil : answer
        }
        return try await body(container, address, health ?? "")
    }

    /// Runs any command and returns its trimmed stdout (for docker, curl).
    @discardableResult
    static func shell(_ command: String) async throws -> (status: Int32, output: String) {
        try await offThePool { try shellWaiting(command) }
    }

    static func shellWaiting(_ command: String) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

/// A throwaway project folder with `Recipes/`, removed at deinit.
final class Project {
    let root: URL

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("harden-cli-project-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("Recipes"), withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    func write(_ relativePath: String, _ text: String) throws {
        let url = root.appendingPathComponent(relativePath)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    func harden(_ arguments: [String], environment: [String: String] = [:]) async throws -> CLI.Result {
        try await CLI.run(arguments, in: root, environment: environment)
    }
}
