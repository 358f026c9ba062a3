import Foundation
import HardenHTTP

/// What one ecosystem's sync did.
public struct SyncOutcome: Sendable, Codable, Equatable {
    public enum Action: String, Sendable, Codable {
        /// The server said nothing changed (304, or no record newer than the last sync).
        case unchanged
        /// The whole archive was fetched and imported.
        case downloaded
        /// Only the records the source's change list named were fetched.
        case updated
    }
    public var ecosystem: String
    public var action: Action
    /// Records of this source in the new database.
    public var records: Int
    /// Records fetched and changed by an incremental update.
    public var changed: Int
    public var bytes: Int
    public var skipped: Int
    public var skippedRecords: [SkippedRecord]
}

/// Fetches OSV's bulk exports (`<base>/<ecosystem>/all.zip`) into the advisory database, with
/// conditional requests (the ETag and Last-Modified of the last fetch), and, once a source has
/// been fetched whole, only the records its change list (`<base>/<ecosystem>/modified_id.csv`,
/// `<modified>,[<ecosystem>/]<id>` per line, newest first) names as modified since. All
/// ecosystems land in one new database, put in place only when every one of them succeeded.
public struct AdvisorySync: Sendable {
    public static let defaultBase = "https://osv-vulnerabilities.storage.googleapis.com"

    public var base: URL
    public var database: String
    /// Nothing arriving for this long fails the request.
    public var stallSeconds: Double = 60
    /// More changed records than this and the whole archive is fetched instead.
    public var incrementalLimit = 2000
    public var limits = AdvisoryImporter.Limits()
    public var progress: @Sendable (String) -> Void = { _ in }
    /// For the change list and single records: small answers, each held to the stall limit.
    private var transport: HTTPTransport { HTTPTransport(timeoutSeconds: stallSeconds) }

    public init(base: URL, database: String) {
        self.base = base
        self.database = database
    }

    public static func sourceName(_ ecosystem: String) -> String { "osv:" + ecosystem }

    public func run(ecosystems: [String]) async throws(AdvisoryError) -> [SyncOutcome] {
        let writer = try AdvisoryDatabaseWriter(target: database, keepCurrent: true)
        let previous = try writer.sources()
        // Named like the writer's own new file, so an import after a killed sync removes it.
        let scratch = database + ".new-\(getpid()).zip"
        defer { unlink(scratch) }
        var outcomes: [SyncOutcome] = []
        do {
            for ecosystem in ecosystems {
                let name = Self.sourceName(ecosystem)
                let known = previous.first { $0.name == name && $0.location == archiveURL(ecosystem).absoluteString }
                if let known, let outcome = try await incremental(ecosystem, known: known, writer: writer) {
                    outcomes.append(outcome)
                } else {
                    outcomes.append(try await whole(ecosystem, known: known, writer: writer, scratch: scratch))
                }
            }
            _ = try writer.commit()
        } catch {
            writer.abandon()
            throw error
        }
        return outcomes
    }

    func archiveURL(_ ecosystem: String) -> URL { url(ecosystem, "all.zip") }

    private func url(_ ecosystem: String, _ file: String) -> URL {
        base.appendingPathComponent(ecosystem).appendingPathComponent(file)
    }

    /// The whole archive, unless the server says it has not changed.
    private func whole(
        _ ecosystem: String, known: AdvisorySourceStatus?, writer: AdvisoryDatabaseWriter, scratch: String
    ) async throws(AdvisoryError) -> SyncOutcome {
        let name = Self.sourceName(ecosystem)
        let location = archiveURL(ecosystem)
        var request = HTTPRequest("GET", location)
        if let etag = known?.etag { request.headers.append(("If-None-Match", etag)) }
        if let modified = known?.lastModified { request.headers.append(("If-Modified-Since", modified)) }
        progress("\(ecosystem): fetching \(location.absoluteString)")
        let download = try await fetch(request, to: scratch, limit: 4 << 30)
        if download.status == 304, let known {
            try writer.setSource(
                name: name, location: location.absoluteString, syncedAt: Date(), skipped: known.skipped, etag: known.etag,
                lastModified: known.lastModified)
            return SyncOutcome(
                ecosystem: ecosystem, action: .unchanged, records: known.records, changed: 0, bytes: 0, skipped: known.skipped,
                skippedRecords: [])
        }
        guard download.status == 200 else {
            throw AdvisoryError(
                file: location.absoluteString,
                message: download.status == 304
                    ? "answered 304 Not Modified to a request that asked for the whole archive"
                    : "answered HTTP \(download.status)",
                hint: download.status == 404
                    ? "check the ecosystem name (Debian:12, Alpine:v3.22, PyPI) and --from"
                    : "try again later; the advisory database in use is unchanged")
        }
        progress("\(ecosystem): \(download.bytes) bytes; importing")
        try writer.removeSource(name)
        let summary = try AdvisoryImporter.load(
            scratch, as: name, into: writer, limits: limits, shownAs: location.absoluteString)
        try writer.setSource(
            name: name, location: location.absoluteString, syncedAt: Date(), skipped: summary.skippedCount,
            etag: download.header("etag"), lastModified: download.header("last-modified"))
        return SyncOutcome(
            ecosystem: ecosystem, action: .downloaded, records: summary.records, changed: summary.records,
            bytes: download.bytes, skipped: summary.skippedCount, skippedRecords: summary.skipped)
    }

    /// Only what changed since the newest record of the last fetch; nil when the source has no
    /// change list or too much changed (the whole archive is then fetched).
    private func incremental(
        _ ecosystem: String, known: AdvisorySourceStatus, writer: AdvisoryDatabaseWriter
    ) async throws(AdvisoryError) -> SyncOutcome? {
        guard let since = known.newestModified else { return nil }
        let listURL = url(ecosystem, "modified_id.csv")
        let answer: HTTPAnswer
        do {
            answer = try await transport.send(HTTPRequest("GET", listURL))
        } catch {
            throw AdvisoryError(file: listURL.absoluteString, message: Self.describe(error))
        }
        guard answer.status == 200 else { return nil }
        var changed: [String] = []
        for line in String(decoding: answer.body, as: UTF8.self).split(whereSeparator: \.isNewline) {
            let fields = line.split(separator: ",", maxSplits: 1)
            guard fields.count == 2 else { continue }
            let modified = fields[0].trimmingCharacters(in: .whitespaces)
            guard modified > since else { continue }
            let path = fields[1].trimmingCharacters(in: .whitespaces)
            if let slash = path.lastIndex(of: "/") {
                guard path[..<slash] == ecosystem else { continue }
                changed.append(String(path[path.index(after: slash)...]))
            } else {
                changed.append(path)
            }
        }
        guard changed.count <= incrementalLimit else {
            progress("\(ecosystem): \(changed.count) records changed; fetching the whole archive")
            return nil
        }
        let name = Self.sourceName(ecosystem)
        var summary = ImportSummary(source: name)
        progress("\(ecosystem): \(changed.count) records changed since \(since)")
        for id in changed {
            let recordURL = url(ecosystem, id + ".json")
            let record: HTTPAnswer
            do {
                record = try await transport.send(HTTPRequest("GET", recordURL))
            } catch {
                throw AdvisoryError(file: recordURL.absoluteString, message: Self.describe(error))
            }
            if record.status == 404 {
                try writer.remove(id: id)
                continue
            }
            guard record.status == 200 else {
                throw AdvisoryError(
                    file: recordURL.absoluteString, message: "answered HTTP \(record.status)",
                    hint: "try again later; the advisory database in use is unchanged")
            }
            do {
                for advisory in try AdvisoryImporter.parseRecords(record.body) {
                    if try writer.add(advisory, source: name) != .olderSkipped { summary.records += 1 }
                }
            } catch let problem as RecordProblem {
                summary.skip(recordURL.absoluteString, problem.description)
            } catch let error as AdvisoryError {
                throw error
            } catch {
                throw AdvisoryError(file: recordURL.absoluteString, message: "\(error)")
            }
        }
        try writer.setSource(
            name: name, location: known.location, syncedAt: Date(), skipped: known.skipped + summary.skippedCount,
            etag: known.etag, lastModified: known.lastModified)
        let total = try writer.sourceRecordCount(name)
        return SyncOutcome(
            ecosystem: ecosystem, action: changed.isEmpty ? .unchanged : .updated, records: total, changed: summary.records,
            bytes: 0, skipped: summary.skippedCount, skippedRecords: summary.skipped)
    }

    private func fetch(_ request: HTTPRequest, to file: String, limit: Int) async throws(AdvisoryError) -> HTTPDownload {
        do {
            return try await transport.download(request, to: file, stallSeconds: stallSeconds, limit: limit)
        } catch {
            throw AdvisoryError(
                file: request.url.absoluteString, message: Self.describe(error),
                hint: "check the address (--from) and the network; the advisory database in use is unchanged")
        }
    }

    static func describe(_ error: TransportError) -> String {
        switch error.kind {
        case .refused: "connection refused"
        case .timedOut, .stalled: "timed out (\(error.detail))"
        case .hostNotFound: "host not found"
        case .tls: "TLS failed (\(error.detail))"
        case .other, .file: error.detail
        }
    }
}
