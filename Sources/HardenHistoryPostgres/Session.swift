import Foundation
import HardenSQLite
import PostgresNIO

/// One connection's queries, with values as ``SQLValue``s (the row mapping both backends share)
/// and every failure a ``StoreError`` that names the server and says what to do.
struct Session: Sendable {
    let connection: PostgresConnection
    let logger: Logger
    /// The URL without its password.
    let location: String

    @discardableResult
    func run(_ sql: String, _ values: [SQLValue] = []) async throws(StoreError) -> [[SQLValue]] {
        var binds = PostgresBindings(capacity: values.count)
        for value in values {
            switch value {
            case .null: binds.appendNull()
            case .integer(let integer): binds.append(integer)
            case .real(let real): binds.append(real)
            case .text(let text): binds.append(text)
            }
        }
        return try await run(PostgresQuery(unsafeSQL: sql, binds: binds))
    }

    @discardableResult
    func run(_ query: PostgresQuery) async throws(StoreError) -> [[SQLValue]] {
        do {
            let rows = try await connection.query(query, logger: logger).collect()
            return try rows.map { row in try row.map(Self.value) }
        } catch {
            throw Self.storeError(error, location: location, doing: "a query failed")
        }
    }

    /// The newest version in `harden_schema` (0 for an empty table).
    func schemaVersion() async throws(StoreError) -> Int {
        Int(try await run("SELECT coalesce(max(version), 0)::int8 FROM harden_schema").first?.first?.integer ?? 0)
    }

    private static func value(_ cell: PostgresCell) throws -> SQLValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int2, .int4, .int8: return .integer(try cell.decode(Int64.self))
        case .float4, .float8: return .real(try cell.decode(Double.self))
        case .bool: return .integer(try cell.decode(Bool.self) ? 1 : 0)
        default: return .text(try cell.decode(String.self))
        }
    }

    /// What went wrong, in words (postgres-nio's own description hides everything), and what to do.
    static func storeError(_ error: any Error, location: String, doing: String, url: PostgresURL? = nil) -> StoreError {
        if let error = error as? StoreError { return error }
        let unsetHint = "or unset --history and $HARDEN_HISTORY to use the SQLite file in the state directory"
        let timedOut: Bool
        if error is PostgresHistory.ConnectTimeout {
            timedOut = true
        } else if let error = error as? PSQLError, error.code == .connectionError,
            case .connectTimeout? = error.underlying as? ChannelError
        {
            timedOut = true
        } else {
            timedOut = false
        }
        if timedOut {
            let seconds = url.map { "\($0.connectTimeout.components.seconds) s" } ?? "the connect timeout"
            return StoreError(
                path: location, message: "\(doing): no answer within \(seconds)",
                hint: "check that PostgreSQL runs there and is reachable from this machine (add connect_timeout=SECONDS "
                    + "to the URL to wait longer), \(unsetHint)")
        }
        guard let error = error as? PSQLError else {
            return StoreError(
                path: location, message: "\(doing): \(String(describing: error))", hint: "check the server, \(unsetHint)")
        }
        if let server = error.serverInfo, let message = server[.message] {
            let state = server[.sqlState] ?? ""
            let hint: String
            switch state {
            case "28P01", "28000":
                hint = "check the user and password in the URL (or $PGPASSWORD) and the server's pg_hba.conf"
            case "3D000":
                hint = "create the database (createdb \(url?.database ?? "NAME")) or name another one in the URL"
            case "42501":
                hint = "grant the user the rights to create and write the harden_* tables, or use another user"
            case "57P03", "53300":
                hint = "the server is starting or full: try again in a moment"
            default:
                hint = server[.hint] ?? "check the server's log"
            }
            let detail = server[.detail].map { " (\($0))" } ?? ""
            return StoreError(
                path: location, message: "\(doing): the server said: \(message)\(detail) [SQLSTATE \(state)]", hint: hint)
        }
        let code = error.code
        let underlying = error.underlying.map { ": \(String(describing: $0))" } ?? ""
        let hint: String
        switch code {
        case .connectionError:
            hint =
                "check that PostgreSQL runs at that address and accepts connections from here "
                + "(listen_addresses, pg_hba.conf), \(unsetHint)"
        case .sslUnsupported:
            hint = "the server has no TLS: use sslmode=disable (on a trusted network) or turn on ssl in postgresql.conf"
        case .authMechanismRequiresPassword:
            hint = "put the password in the URL (postgres://USER:PASSWORD@…) or in $PGPASSWORD"
        case .unsupportedAuthMechanism:
            hint = "set the user's authentication to scram-sha-256, md5 or password in pg_hba.conf"
        case .serverClosedConnection, .uncleanShutdown:
            hint = "the server went away: check that it still runs, then run harden again"
        default:
            hint = "check the server and the URL, \(unsetHint)"
        }
        return StoreError(path: location, message: "\(doing): \(code)\(underlying)", hint: hint)
    }
}
