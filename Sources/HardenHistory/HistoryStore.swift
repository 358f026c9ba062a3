import Foundation
import HardenSQLite

/// The build history, wherever it is kept: an SQLite file in the state directory
/// (``BuildStore``) or a PostgreSQL database shared by several machines
/// (`PostgresHistory` in HardenHistoryPostgres). Commands see only this.
///
/// Every state change is one transaction. Errors are ``StoreError``s whose `path` is
/// the file, or the server's URL without its password.
public protocol HistoryStore: Sendable {
    /// The file path or the URL (without a password) that errors and notes name.
    var location: String { get }
    /// Builds found abandoned (their harden is gone) and marked interrupted by this open.
    var recovered: [(recipe: String, id: Int64)] { get }

    /// Inserts a record and returns its id.
    @discardableResult
    func insert(_ record: BuildRecord) async throws(StoreError) -> Int64
    /// Replaces a record's fields (matched by `record.id`).
    func update(_ record: BuildRecord) async throws(StoreError)
    /// The newest succeeded build of each recipe.
    func latestSucceeded() async throws(StoreError) -> [String: BuildRecord]
    /// Builds, newest first, optionally for one recipe and from a date on.
    func builds(recipe: String?, since: Date?, limit: Int) async throws(StoreError) -> [BuildRecord]
    /// Per recipe: what a rebuild decision needs (see ``RecentAttempts``).
    func attempts() async throws(StoreError) -> [String: RecentAttempts]
    func build(id: Int64) async throws(StoreError) -> BuildRecord?
    /// "ok" when the store is sound, else what is wrong.
    func integrityCheck() async throws(StoreError) -> String

    /// Cached context file hashes of this machine.
    func fileHashes() async throws(StoreError) -> [String: FileHash]
    func saveFileHashes(_ hashes: [FileHash]) async throws(StoreError)

    /// Records that an image now is in a registry.
    func recordPush(_ push: PushRecord) async throws(StoreError)
    /// Pushes, newest first: all of them, or those of one recipe, or those to one registry.
    func pushes(recipe: String?, registry: String?, limit: Int) async throws(StoreError) -> [PushRecord]

    /// Takes the lock that keeps two builds of `recipe` from running at once, across every
    /// harden that shares this history. The lock goes when it is released or its process ends.
    func lockRecipe(_ recipe: String) async throws(StoreError) -> RecipeLockAttempt
}

/// What asking for a recipe's build lock gave.
public enum RecipeLockAttempt: Sendable {
    case acquired(any RecipeLock)
    /// Another harden holds it; the message says who, in the words a build report uses.
    case busy(String)
}

/// A held per-recipe build lock.
public protocol RecipeLock: Sendable {
    /// Gives the lock up; harmless when called twice.
    func release() async
}
