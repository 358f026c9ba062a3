import Foundation
import HardenArchive
import HardenConcurrency

/// A record that was not imported, and why: counted, never fatal.
public struct SkippedRecord: Sendable, Codable, Equatable {
    /// `all.zip: PYSEC-2023-1.json` or a file path.
    public var entry: String
    public var problem: String
}

/// What one source gave.
public struct ImportSummary: Sendable, Codable, Equatable {
    public var source: String
    /// Records added or replacing an older copy.
    public var records = 0
    public var withdrawn = 0
    /// Records whose packages are all in ecosystems harden does not match (kept for their CVSS).
    public var otherEcosystems = 0
    /// Older copies of records already in the database.
    public var older = 0
    public var skippedCount = 0
    /// The first few skipped records.
    public var skipped: [SkippedRecord] = []

    mutating func skip(_ entry: String, _ problem: String) {
        skippedCount += 1
        if skipped.count < 20 { skipped.append(SkippedRecord(entry: entry, problem: problem)) }
    }
}

/// Reads OSV records from a zip (OSV's `all.zip`), a folder of `.json` files at any depth, or one
/// JSON file (a record or an array of them), checks each against the OSV schema, and adds the
/// good ones to a database writer. A bad record is skipped and counted; an archive that cannot
/// be read whole (cut off, an entry name that climbs out with `..`, more data than its size
/// can hold) is an error, and the writer's caller then abandons the new database.
public enum AdvisoryImporter {
    /// Limits on what an archive may unpack to: one entry, and the whole against its size on disk.
    public struct Limits: Sendable {
        public var entryBytes = 32 << 20
        public var expansion = 100
        public var floorBytes = 256 << 20
        public init() {}
    }

    /// `shownAs` names the source in errors and skips when `location` is a scratch copy (a URL).
    public static func load(
        _ location: String, as name: String, into writer: AdvisoryDatabaseWriter, limits: Limits = Limits(),
        shownAs: String? = nil
    ) throws(AdvisoryError) -> ImportSummary {
        var summary = ImportSummary(source: name)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: location, isDirectory: &isDirectory) else {
            throw AdvisoryError(file: location, message: "no such file or directory")
        }
        if isDirectory.boolValue {
            let files = jsonFiles(under: location)
            for start in stride(from: 0, to: files.count, by: batchSize) {
                let batch = files[start..<min(start + batchSize, files.count)].map { file in
                    (entry: file, data: FileManager.default.contents(atPath: file))
                }
                try add(batch, source: name, into: writer, summary: &summary)
            }
        } else if try isZip(location) {
            try loadZip(location, as: name, into: writer, limits: limits, shownAs: shownAs ?? location, summary: &summary)
        } else {
            try add([(location, FileManager.default.contents(atPath: location))], source: name, into: writer, summary: &summary)
        }
        if summary.records + summary.withdrawn + summary.otherEcosystems + summary.older == 0 {
            let first = summary.skipped.first.map { " (first: \($0.entry): \($0.problem))" } ?? ""
            throw AdvisoryError(
                file: shownAs ?? location, message: "holds no OSV record harden could read\(first)",
                hint: "give an OSV zip (all.zip), a folder of OSV .json files, or one OSV .json file")
        }
        return summary
    }

    private static let batchSize = 2048

    private static func loadZip(
        _ file: String, as name: String, into writer: AdvisoryDatabaseWriter, limits: Limits, shownAs path: String,
        summary: inout ImportSummary
    ) throws(AdvisoryError) {
        let archiveName = (path as NSString).lastPathComponent
        let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0
        let allowed = max(limits.floorBytes, size.multipliedReportingOverflow(by: limits.expansion).partialValue)
        var unpacked = 0
        var batch: [(entry: String, data: Data?)] = []
        do {
            let reader = try ArchiveReader(path: file, mode: .zip)
            while let entry = try reader.next() {
                guard entry.type == .regular else { continue }
                guard let problem = unsafeName(entry.path) else {
                    guard entry.path.hasSuffix(".json") else {
                        summary.skip("\(archiveName): \(entry.path)", "not a .json entry")
                        continue
                    }
                    let data = try reader.readData(limit: limits.entryBytes)
                    unpacked += data.count
                    guard unpacked <= allowed else {
                        throw AdvisoryError(
                            file: "\(path): entry \(entry.path)",
                            message:
                                "the archive unpacks to more than \(allowed >> 20) MiB, \(limits.expansion)× its size: refused as a zip bomb",
                            hint: "check where the archive came from; OSV's own archives unpack to about 10× their size")
                    }
                    batch.append(("\(archiveName): \(entry.path)", data))
                    if batch.count == batchSize {
                        try add(batch, source: name, into: writer, summary: &summary)
                        batch.removeAll(keepingCapacity: true)
                    }
                    continue
                }
                throw AdvisoryError(
                    file: "\(path): entry \(entry.path)", message: "refused: \(problem)",
                    hint: "the archive is not an OSV export; get it again from its source")
            }
        } catch let error as AdvisoryError {
            throw error
        } catch let error as ArchiveError {
            let entry = error.entry.map { ": entry \($0)" } ?? ""
            let message =
                error.code == .limit
                ? "an entry unpacks to more than \(limits.entryBytes >> 20) MiB (no OSV record is that large): refused as a zip bomb"
                : "cannot be read as a zip (\(error.message))"
            throw AdvisoryError(
                file: path + entry, message: message, hint: "the archive may be cut off or damaged: download it again")
        } catch {
            throw AdvisoryError(file: path, message: "\(error)")
        }
        try add(batch, source: name, into: writer, summary: &summary)
    }

    /// Why an entry name is refused: absolute, or climbing out with `..`.
    static func unsafeName(_ name: String) -> String? {
        if name.hasPrefix("/") { return "an absolute entry name" }
        if name.split(separator: "/", omittingEmptySubsequences: false).contains("..") {
            return "an entry name that climbs out of the archive with .."
        }
        if name.utf8.contains(0) { return "an entry name with a NUL byte" }
        return nil
    }

    /// Parses a batch on every core, then adds its records in order.
    private static func add(
        _ batch: [(entry: String, data: Data?)], source: String, into writer: AdvisoryDatabaseWriter,
        summary: inout ImportSummary
    ) throws(AdvisoryError) {
        let parsed = concurrentMap(batch.count) { index -> Result<[OSVAdvisory], RecordProblem> in
            guard let data = batch[index].data else { return .failure(RecordProblem(path: "", message: "cannot be read")) }
            return Result { () throws(RecordProblem) in try parseRecords(data) }
        }
        for (index, result) in parsed.enumerated() {
            switch result {
            case .failure(let problem):
                summary.skip(batch[index].entry, problem.description)
            case .success(let records):
                for record in records {
                    switch try writer.add(record, source: source) {
                    case .added, .replaced: summary.records += 1
                    case .withdrawn: summary.withdrawn += 1
                    case .olderSkipped: summary.older += 1
                    case .otherEcosystem: summary.otherEcosystems += 1
                    }
                }
            }
        }
    }

    /// One record, or an array of them (the form some mirrors and tests use).
    static func parseRecords(_ data: Data) throws(RecordProblem) -> [OSVAdvisory] {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw RecordProblem(path: "", message: "not valid JSON")
        }
        guard let list = object as? [Any] else { return [try OSVRecordParser.record(object)] }
        var records: [OSVAdvisory] = []
        for (index, item) in list.enumerated() {
            do {
                records.append(try OSVRecordParser.record(item))
            } catch {
                throw RecordProblem(path: "[\(index)]" + (error.path.isEmpty ? "" : "." + error.path), message: error.message)
            }
        }
        return records
    }

    static func jsonFiles(under directory: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return [] }
        var files: [String] = []
        while let name = walker.nextObject() as? String {
            if name.hasSuffix(".json") { files.append(directory + "/" + name) }
        }
        return files.sorted()
    }

    /// What kind of file `path` is, by its first bytes.
    enum FileKind { case zip, database, other }

    static func kind(of path: String) throws(AdvisoryError) -> FileKind {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw AdvisoryError(file: path, message: "cannot be read")
        }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 16)) ?? Data()
        if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) || head.starts(with: [0x50, 0x4B, 0x05, 0x06]) { return .zip }
        if head.starts(with: Array("SQLite format 3".utf8)) { return .database }
        return .other
    }

    private static func isZip(_ path: String) throws(AdvisoryError) -> Bool { try kind(of: path) == .zip }
}
