import Foundation
import Testing

/// A real PostgreSQL 15 server (Debian's `postgresql` package) for a test suite: `initdb` and
/// `pg_ctl` in a temporary directory, listening on a free 127.0.0.1 port (password login) and
/// on a unix socket in that directory (trusted), with durability off; never the machine's
/// own cluster. Stopped (immediately) and its files removed at the end.
///
/// initdb refuses to run as root: as root the server runs as `nobody`, in a directory it owns.
public final class PostgresServer: Sendable {
    public static let binaries = "/usr/lib/postgresql/15/bin"
    /// The server of the suite marked `.postgresServer`.
    @TaskLocal public static var current: PostgresServer?

    public let directory: URL
    public let port: Int
    public let user = "harden"
    public let password: String

    /// `postgres://harden:PASSWORD@127.0.0.1:PORT/DATABASE?sslmode=disable`.
    public func url(database: String) -> String {
        "postgres://\(user):\(password)@127.0.0.1:\(port)/\(database)?sslmode=disable"
    }

    /// The unix-socket form: `postgres://harden@/DATABASE?host=DIRECTORY&port=PORT`.
    public func socketURL(database: String) -> String {
        "postgres://\(user)@/\(database)?host=\(directory.path)&port=\(port)"
    }

    private init(directory: URL, port: Int, password: String) {
        self.directory = directory
        self.port = port
        self.password = password
    }

    /// Starts a server, runs `body`, then stops it and removes its files, whatever happens.
    public static func run<T>(_ body: (PostgresServer) async throws -> T) async throws -> T {
        let server = try await start()
        do {
            let value = try await body(server)
            await server.stop()
            return value
        } catch {
            await server.stop()
            throw error
        }
    }

    /// A new, empty database (one per test, so tests share the server but never their data).
    public func createDatabase() async throws -> String {
        let name = "harden_\(UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: ""))"
        try await psql("CREATE DATABASE \(name)")
        return name
    }

    /// Runs SQL through psql over the socket; returns its unaligned output.
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") async throws -> String {
        try await Self.tool(
            "psql",
            ["-X", "-h", directory.path, "-p", "\(port)", "-U", user, "-d", database, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql],
            asServer: false, in: directory)
    }

    /// Dates the heartbeat of harden build `id` in `database` ten minutes back, as if its
    /// machine had died then: past any stale limit without waiting for it.
    public func dateHeartbeatBack(ofBuild id: Int64, database: String) async throws {
        try await psql(
            "UPDATE harden_builds SET heartbeat_at = heartbeat_at - interval '10 minutes' WHERE id = \(id)",
            database: database)
    }

    private static func start() async throws -> PostgresServer {
        guard FileManager.default.isExecutableFile(atPath: "\(binaries)/initdb") else {
            throw TestSetupError("PostgreSQL 15 is missing (\(binaries)/initdb): run scripts/setup.sh")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("harden-pg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let password = UUID().uuidString
        let passwordFile = directory.appendingPathComponent("password")
        try Data(password.utf8).write(to: passwordFile)
        if getuid() == 0 {
            guard chown(directory.path, 65534, 65534) == 0, chown(passwordFile.path, 65534, 65534) == 0 else {
                throw TestSetupError("cannot give \(directory.path) to nobody: errno \(errno)")
            }
        }
        let data = directory.appendingPathComponent("data").path
        do {
            try await tool(
                "initdb",
                [
                    "-D", data, "-U", "harden", "--pwfile", passwordFile.path, "--auth-local=trust",
                    "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions",
                ], asServer: true, in: directory)
            // A port found free can be taken before the server binds it: try a few.
            for attempt in 1...3 {
                let port = try freePort()
                do {
                    try await tool(
                        "pg_ctl",
                        [
                            "-D", data, "-l", directory.appendingPathComponent("server.log").path, "-w", "-t", "60", "-o",
                            "-k \(directory.path) -c listen_addresses=127.0.0.1 -p \(port) -c fsync=off "
                                + "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60",
                            "start",
                        ], asServer: true, in: directory)
                    return PostgresServer(directory: directory, port: port, password: password)
                } catch  where attempt < 3 {
                    continue
                }
            }
        } catch {
            let log = (try? String(contentsOf: directory.appendingPathComponent("server.log"), encoding: .utf8)) ?? ""
            try? FileManager.default.removeItem(at: directory)
            throw TestSetupError("PostgreSQL did not start: \(error)\n\(log)")
        }
        throw TestSetupError("unreachable")
    }

    public func stop() async {
        _ = try? await Self.tool(
            "pg_ctl", ["-D", directory.appendingPathComponent("data").path, "-m", "immediate", "-w", "stop"], asServer: true,
            in: directory)
        try? FileManager.default.removeItem(at: directory)
    }

    /// Runs one of PostgreSQL's programs to its end, off the cooperative pool; as `nobody` when
    /// `asServer` and this is root.
    @discardableResult
    private static func tool(_ name: String, _ arguments: [String], asServer: Bool, in directory: URL) async throws -> String {
        let asNobody = asServer && getuid() == 0
        let executable = asNobody ? "/usr/sbin/runuser" : "\(binaries)/\(name)"
        let arguments = asNobody ? ["-u", "nobody", "--", "\(binaries)/\(name)"] + arguments : arguments
        // Output to a file, not a pipe: the server pg_ctl starts would keep a pipe open. Spawned
        // and reaped here (posix_spawn, waitpid), not by Foundation's Process, whose exit
        // monitor was seen to miss runuser's end when two suites started servers at once.
        let log = directory.appendingPathComponent("\(name)-\(UUID().uuidString).out").path
        return try await offThePool {
            defer { unlink(log) }
            let status = try spawnAndWait(executable, arguments, output: log, in: directory.path)
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            guard status == 0 else {
                throw TestSetupError("\(name) \(arguments.joined(separator: " ")) failed (status \(status)): \(text)")
            }
            return text
        }
    }

    /// Runs `executable` with stdin from /dev/null, stdout and stderr to `output`, in `directory`,
    /// with no signal blocked; waits for it and gives its exit status (128 + N for signal N).
    private static func spawnAndWait(_ executable: String, _ arguments: [String], output: String, in directory: String) throws
        -> Int32
    {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        // env --chdir: glibc's posix_spawn_file_actions_addchdir_np is not visible to Swift.
        let command = ["/usr/bin/env", "--chdir=\(directory)", executable] + arguments
        let argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/usr/bin/env", &actions, &attributes, argv, environ)
        guard spawned == 0 else { throw TestSetupError("cannot start \(executable): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw TestSetupError("waitpid \(executable): errno \(errno)") }
        }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}

/// Starts one PostgreSQL server for the whole suite it marks (``PostgresServer/current`` inside).
public struct PostgresServerTrait: SuiteTrait, TestScoping {
    public var isRecursive: Bool { false }

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        try await PostgresServer.run { server in
            try await PostgresServer.$current.withValue(server) { try await function() }
        }
    }
}

extension Trait where Self == PostgresServerTrait {
    /// One real PostgreSQL server for the suite, stopped after its last test.
    public static var postgresServer: Self { Self() }
}
