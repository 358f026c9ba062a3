import Foundation
import HardenSQLite

/// Where a PostgreSQL history is, parsed from a libpq-style URL:
/// `postgres://user[:password]@host[:port]/database?sslmode=disable|prefer|require|verify-full`
/// (`postgresql://` too), or over a unix socket: `postgres://user@/database?host=/socket/directory`.
public struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    public enum SSLMode: String, Sendable, CaseIterable {
        /// No TLS.
        case disable
        /// TLS when the server offers it, certificate not checked (libpq's default).
        case prefer
        /// TLS always, certificate not checked.
        case require
        /// TLS always, the certificate checked against the system's roots and the host name.
        case verifyFull = "verify-full"
    }

    public var user: String
    public var password: String?
    /// The TCP host; nil for a unix socket.
    public var host: String?
    public var port: Int
    /// The directory of the server's socket (`host=` starting with `/`).
    public var socketDirectory: String?
    public var database: String
    public var sslMode: SSLMode
    /// How long connecting and logging in may take.
    public var connectTimeout: Duration

    /// The socket file: `DIRECTORY/.s.PGSQL.PORT`, as libpq names it.
    public var socketPath: String? { socketDirectory.map { "\($0)/.s.PGSQL.\(port)" } }

    /// The URL as given, less its password: safe to print.
    public let description: String

    /// Parses `text`; the error names the URL (password removed) and says what a good one looks like.
    public init(_ text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(StoreError) {
        let shown = Self.redact(text)
        func bad(_ message: String) -> StoreError {
            StoreError(
                path: shown, message: message,
                hint:
                    "write postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|prefer|require|verify-full], "
                    + "or postgres://USER@/DATABASE?host=/SOCKET/DIRECTORY; leave --history and $HARDEN_HISTORY unset "
                    + "for the SQLite file in the state directory")
        }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw bad("not a URL")
        }
        guard scheme == "postgres" || scheme == "postgresql" else {
            throw bad("harden keeps its history in SQLite (the default) or PostgreSQL, not '\(scheme):'")
        }
        var query: [String: String] = [:]
        for item in components.queryItems ?? [] {
            guard let value = item.value else { throw bad("the parameter '\(item.name)' has no value") }
            query[item.name] = value
        }
        let known: Set = ["sslmode", "host", "port", "user", "password", "dbname", "connect_timeout", "application_name"]
        if let unknown = query.keys.sorted().first(where: { !known.contains($0) }) {
            throw bad("harden does not know the parameter '\(unknown)' (it knows \(known.sorted().joined(separator: ", ")))")
        }
        user = query["user"] ?? components.user ?? environment["PGUSER"] ?? environment["USER"] ?? "postgres"
        password = query["password"] ?? components.password ?? environment["PGPASSWORD"]
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        database = query["dbname"] ?? (path.isEmpty ? user : path)
        guard !database.contains("/") else { throw bad("the database name '\(database)' has a '/'") }
        let portText = query["port"] ?? components.port.map(String.init) ?? "5432"
        guard let port = Int(portText), (1...65535).contains(port) else { throw bad("the port '\(portText)' is not 1 to 65535") }
        self.port = port
        let hostParameter = query["host"]
        if let hostParameter, hostParameter.hasPrefix("/") {
            socketDirectory = hostParameter
            host = nil
        } else {
            socketDirectory = nil
            host = hostParameter ?? components.host.flatMap { $0.isEmpty ? nil : $0 }
            if host == nil { throw bad("no host: name one (postgres://USER@HOST/DATABASE), or a socket directory (?host=/path)") }
        }
        let mode = query["sslmode"] ?? "prefer"
        guard let sslMode = SSLMode(rawValue: mode) else {
            throw bad(
                "sslmode '\(mode)' is not one harden knows (\(SSLMode.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        if socketDirectory != nil, sslMode == .require || sslMode == .verifyFull {
            throw bad("sslmode=\(mode) over a unix socket: PostgreSQL has no TLS there; use sslmode=disable")
        }
        self.sslMode = socketDirectory == nil ? sslMode : .disable
        let timeoutText = query["connect_timeout"] ?? "10"
        guard let seconds = Int(timeoutText), seconds > 0 else {
            throw bad("connect_timeout '\(timeoutText)' is not a number of seconds above 0")
        }
        connectTimeout = .seconds(seconds)
        description = shown
    }

    /// `text` without the password of its user part or its `password=` parameter.
    public static func redact(_ text: String) -> String {
        guard var components = URLComponents(string: text) else { return "(a history URL that is not a URL)" }
        if components.password != nil { components.password = nil }
        if let items = components.queryItems, items.contains(where: { $0.name == "password" }) {
            components.queryItems = items.filter { $0.name != "password" }
        }
        return components.string ?? "(a history URL)"
    }
}
