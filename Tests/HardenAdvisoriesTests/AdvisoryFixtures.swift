import Foundation
import HardenTestSupport
import Testing

@testable import HardenAdvisories

/// The 49 real PyPA records (../shared/data/osv/PyPI) and the OSV schema beside the repository.
enum SharedData {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let pypi = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data/osv/PyPI")
    static let osvSchema = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data/schemas/osv-schema.json")
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static var pypiFiles: [URL] {
        ((try? FileManager.default.contentsOfDirectory(at: pypi, includingPropertiesForKeys: nil)) ?? [])
            .filter { $0.pathExtension == "json" }.sorted { $0.path < $1.path }
    }
}

/// A directory removed when the test ends.
final class Scratch {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("harden-advisories-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let file = url.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: file)
        return file.path
    }
}

/// Zips made by Python's zipfile, an implementation independent of libarchive.
enum Zip {
    /// `entries`: name in the archive → file to store. `bombMiB` adds an entry of that many MiB of zeros.
    static func make(_ path: String, _ entries: [(String, String)], bombMiB: Int = 0) throws {
        var arguments = [
            "-c",
            """
            import sys, zipfile
            out, bomb = sys.argv[1], int(sys.argv[2])
            with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
                for pair in sys.argv[3:]:
                    name, source = pair.split("=", 1)
                    archive.write(source, name)
                if bomb:
                    with archive.open("bomb.json", "w") as entry:
                        for _ in range(bomb):
                            entry.write(bytes(1 << 20))
            """,
            path, String(bombMiB),
        ]
        arguments += entries.map { "\($0.0)=\($0.1)" }
        try runToolWaiting("/usr/bin/env", ["python3"] + arguments)
    }
}

/// Synthetic records in the OSV format, for the ecosystems the real corpus lacks.
enum Records {
    static func debian(
        _ id: String, package: String, release: String = "Debian:12", fixed: String? = nil, aliases: [String] = [],
        upstream: [String] = [], urgency: String? = nil, modified: String = "2026-01-01T00:00:00Z", extra: String = ""
    ) -> String {
        let events = #"{"introduced": "0"}"# + (fixed.map { #", {"fixed": "\#($0)"}"# } ?? "")
        let specific = urgency.map { #", "ecosystem_specific": {"urgency": "\#($0)"}"# } ?? ""
        return """
            {"id": "\(id)", "modified": "\(modified)", "aliases": \(json(aliases)), "upstream": \(json(upstream))\(extra),
             "affected": [{"package": {"ecosystem": "\(release)", "name": "\(package)"},
                           "ranges": [{"type": "ECOSYSTEM", "events": [\(events)]}]\(specific)}]}
            """
    }

    static func json(_ list: [String]) -> String {
        "[" + list.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
    }
}

/// An entry as a test looks at it: what matching reads and what a report shows.
struct Entry {
    var id: String
    var severity: SeverityVerdict
    var affected: OSVAffected
}

extension AdvisoryDatabase {
    func entries(family: String, name: String) throws -> [Entry] {
        try candidates(family: family, name: name).map { candidate in
            let details = try details(of: candidate)
            return Entry(id: details.id, severity: details.severity, affected: candidate.affected)
        }
    }
}
