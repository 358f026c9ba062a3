import Foundation

/// A suite's Release file (wiki.debian.org/DebianRepository/Format#A.22Release.22_files),
/// read from the signed text of `InRelease`.
public struct ReleaseFile: Sendable {
    /// An index file the Release lists: its path under `dists/<suite>/`, size and SHA256.
    public struct IndexFile: Sendable, Hashable {
        public var path: String
        public var size: Int
        public var sha256: String
    }

    public var suite: String?
    public var codename: String?
    /// `Debian`; with `version` (`12.8`), what `/etc/os-release` is written from.
    public var origin: String?
    public var version: String?
    public var date: Date?
    public var validUntil: Date?
    public var architectures: [String]
    public var components: [String]
    /// By path.
    public var files: [String: IndexFile]

    /// `name` is used in errors (`InRelease of <url> <suite>`).
    public static func parse(_ text: Data, name: String) throws(DebianError) -> ReleaseFile {
        let stanzas = try Deb822.stanzas(in: text, name: name)
        guard let fields = stanzas.first else { throw DebianError(.syntax, "\(name): the Release text is empty") }
        func date(_ field: String) throws(DebianError) -> Date? {
            guard let value = fields[field] else { return nil }
            guard let parsed = parseDate(value) else {
                throw DebianError(.syntax, "\(name): \(field) '\(value)' is not an RFC 2822 date")
            }
            return parsed
        }
        var files: [String: IndexFile] = [:]
        for line in (fields["SHA256"] ?? "").split(separator: "\n") {
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard parts.count == 3, let size = Int(parts[1]), parts[0].count == 64 else {
                throw DebianError(.syntax, "\(name): SHA256 line '\(line)' is not 'hash size path'")
            }
            files[String(parts[2])] = IndexFile(path: String(parts[2]), size: size, sha256: parts[0].lowercased())
        }
        return ReleaseFile(
            suite: fields["Suite"], codename: fields["Codename"], origin: fields["Origin"], version: fields["Version"],
            date: try date("Date"),
            validUntil: try date("Valid-Until"),
            architectures: words(fields["Architectures"]), components: words(fields["Components"]), files: files)
    }

    private static func words(_ text: String?) -> [String] {
        (text ?? "").split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init)
    }

    /// Release dates: `Sat, 10 Jun 2023 08:53:33 UTC` (or a numeric zone, `+0000`).
    static func parseDate(_ text: String) -> Date? {
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEE, dd MMM yyyy HH:mm:ss Z", "dd MMM yyyy HH:mm:ss zzz"] {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }
}
