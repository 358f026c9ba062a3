import CSQLite
import Foundation

/// A failed SQLite call: the database file, what harden was doing, and SQLite's own message.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String
    public var hint: String?

    public init(path: String, message: String, hint: String? = nil) {
        self.path = path
        self.message = message
        self.hint = hint
    }

    public var description: String {
        "\(path): \(message)" + (hint.map { "\n  hint: \($0)" } ?? "")
    }
}

/// A value bound to or read from a statement.
public enum SQLValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)

    public var text: String? { if case .text(let value) = self { value } else { nil } }
    public var integer: Int64? { if case .integer(let value) = self { value } else { nil } }
    public var real: Double? {
        switch self {
        case .real(let value): value
        case .integer(let value): Double(value)
        default: nil
        }
    }
}

/// One open SQLite database. Owns its handle; not shared across threads (its owner serializes use).
public final class SQLiteConnection {
    private var handle: OpaquePointer?
    public let path: String
    /// What to tell the user when the file is damaged.
    private let damagedHint: String

    /// Opens (`readOnly`: never creates or writes) the database at `path`; `damagedHint` says
    /// what to do when the file turns out to be damaged.
    public init(path: String, readOnly: Bool = false, damagedHint: String) throws(StoreError) {
        self.path = path
        self.damagedHint = damagedHint
        let flags =
            (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX
        let status = sqlite3_open_v2(path, &handle, flags, nil)
        guard status == SQLITE_OK else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(handle)
            handle = nil
            throw StoreError(path: path, message: "cannot open the database: \(message)")
        }
        sqlite3_busy_timeout(handle, 10_000)
    }

    deinit {
        sqlite3_close_v2(handle)
    }

    /// Keeps the write-ahead log across runs: no checkpoint when the connection closes and no
    /// new log (with its directory sync) at the next open. SQLite still checkpoints as the log
    /// grows (every 1,000 pages); a run then costs no disk sync at all.
    public func keepWriteAheadLog() {
        var persist: Int32 = 1
        sqlite3_file_control(handle, "main", SQLITE_FCNTL_PERSIST_WAL, &persist)
        harden_sqlite_no_checkpoint_on_close(handle)
    }

    public func execute(_ sql: String) throws(StoreError) {
        var errorMessage: UnsafeMutablePointer<CChar>?
        let status = sqlite3_exec(handle, sql, nil, nil, &errorMessage)
        if status != SQLITE_OK {
            let message = errorMessage.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(status))
            sqlite3_free(errorMessage)
            throw error(message, status: status)
        }
    }

    /// Runs one statement and returns its rows.
    @discardableResult
    public func query(_ sql: String, _ bindings: [SQLValue] = []) throws(StoreError) -> [[SQLValue]] {
        try prepare(sql).rows(bindings)
    }

    /// A statement compiled once, to be run many times (bulk inserts, lookups in a loop).
    public func prepare(_ sql: String) throws(StoreError) -> SQLiteStatement {
        var statement: OpaquePointer?
        let prepared = sqlite3_prepare_v2(handle, sql, -1, &statement, nil)
        guard prepared == SQLITE_OK, let statement else {
            throw error(lastMessage, status: prepared)
        }
        return SQLiteStatement(statement, connection: self)
    }

    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Runs `body` in one transaction (BEGIN IMMEDIATE, so writers queue instead of failing).
    @discardableResult
    public func transaction<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    fileprivate var lastMessage: String { handle.map { String(cString: sqlite3_errmsg($0)) } ?? "no database" }

    fileprivate func error(_ message: String, status: Int32) -> StoreError {
        let primary = status & 0xFF
        if primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB {
            return StoreError(
                path: path, message: "the database is damaged: \(message)",
                hint: damagedHint)
        }
        if primary == SQLITE_BUSY || primary == SQLITE_LOCKED {
            return StoreError(
                path: path, message: "the database is busy: \(message)", hint: "another harden may be writing; try again")
        }
        return StoreError(path: path, message: message)
    }
}

/// A compiled statement of one connection: bind, step, reset.
public final class SQLiteStatement {
    private let statement: OpaquePointer
    private let connection: SQLiteConnection

    fileprivate init(_ statement: OpaquePointer, connection: SQLiteConnection) {
        self.statement = statement
        self.connection = connection
    }

    deinit {
        sqlite3_finalize(statement)
    }

    /// Runs the statement with `bindings` for its effect.
    public func run(_ bindings: [SQLValue]) throws(StoreError) {
        try each(bindings) { _ throws(StoreError) in }
    }

    /// Runs the statement with `bindings` and returns its rows.
    public func rows(_ bindings: [SQLValue] = []) throws(StoreError) -> [[SQLValue]] {
        var rows: [[SQLValue]] = []
        try each(bindings) { (row: Row) throws(StoreError) in
            rows.append((0..<row.count).map { row[$0] })
        }
        return rows
    }

    /// Runs the statement and hands each row to `body` without copying it into values first.
    public func each(_ bindings: [SQLValue], _ body: (Row) throws(StoreError) -> Void) throws(StoreError) {
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        for (index, value) in bindings.enumerated() {
            let position = Int32(index + 1)
            let status: Int32
            switch value {
            case .null: status = sqlite3_bind_null(statement, position)
            case .integer(let number): status = sqlite3_bind_int64(statement, position, number)
            case .real(let number): status = sqlite3_bind_double(statement, position, number)
            case .text(let string): status = sqlite3_bind_text(statement, position, string, -1, harden_sqlite_transient())
            }
            guard status == SQLITE_OK else { throw connection.error(connection.lastMessage, status: status) }
        }
        let row = Row(statement: statement)
        while true {
            let step = sqlite3_step(statement)
            if step == SQLITE_DONE { break }
            guard step == SQLITE_ROW else { throw connection.error(connection.lastMessage, status: step) }
            try body(row)
        }
    }

    /// The current row: read a column as it is needed.
    public struct Row {
        fileprivate let statement: OpaquePointer

        public var count: Int { Int(sqlite3_column_count(statement)) }

        public subscript(column: Int) -> SQLValue {
            let index = Int32(column)
            switch sqlite3_column_type(statement, index) {
            case SQLITE_INTEGER: return .integer(sqlite3_column_int64(statement, index))
            case SQLITE_FLOAT: return .real(sqlite3_column_double(statement, index))
            case SQLITE_NULL: return .null
            default: return .text(text(column) ?? "")
            }
        }

        public func text(_ column: Int) -> String? {
            guard let bytes = sqlite3_column_text(statement, Int32(column)) else { return nil }
            let count = Int(sqlite3_column_bytes(statement, Int32(column)))
            return String(decoding: UnsafeRawBufferPointer(start: bytes, count: count), as: UTF8.self)
        }

        public func integer(_ column: Int) -> Int64 { sqlite3_column_int64(statement, Int32(column)) }

        public func real(_ column: Int) -> Double? {
            sqlite3_column_type(statement, Int32(column)) == SQLITE_NULL ? nil : sqlite3_column_double(statement, Int32(column))
        }
    }
}
