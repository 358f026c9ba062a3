import ArgumentParser
import Foundation
import HardenBuild
import HardenHistory
import HardenHistoryPostgres
import HardenSQLite

/// Where the build history is: `--history`, else `$HARDEN_HISTORY`, else the SQLite file in
/// the state directory. A `postgres://` (or `postgresql://`) URL names a PostgreSQL database
/// that several machines share; `sqlite` names the state directory's file explicitly.
enum HistoryLocation {
    static let help = ArgumentHelp(
        "The build history: a postgres:// URL that several machines share, or sqlite for <state>/harden.db (default: $HARDEN_HISTORY, else sqlite).",
        valueName: "url")

    /// The PostgreSQL URL chosen, or nil for the SQLite file.
    static func url(_ option: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        let value = option ?? environment["HARDEN_HISTORY"]
        guard let value, !value.isEmpty, value != "sqlite" else { return nil }
        return value
    }

    /// Opens the history. `onlyIfPresent`: nil, not a new file, when the SQLite file does not exist yet
    /// (for commands that only read it).
    static func open(_ option: String?, state: StateDirectory, onlyIfPresent: Bool = false) async throws(StoreError)
        -> (any HistoryStore)?
    {
        if let url = url(option) { return try await PostgresHistory.open(url) }
        if onlyIfPresent, !FileManager.default.fileExists(atPath: state.database.path) { return nil }
        return try BuildStore(path: state.database.path, locks: state.locks)
    }

    /// Opens the history or exits 2 with the reason.
    static func openOrExit(_ option: String?, state: StateDirectory, onlyIfPresent: Bool = false) async throws
        -> (any HistoryStore)?
    {
        do {
            return try await open(option, state: state, onlyIfPresent: onlyIfPresent)
        } catch {
            Output.error("cannot open the build history: \(error.description)")
            throw ExitCode(Exit.badInput)
        }
    }
}
