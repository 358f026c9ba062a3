import Foundation
import Yams

/// One accepted vulnerability: from `.trivyignore`, `.trivyignore.yaml` or harden's policy.
public struct VulnerabilityIgnore: Sendable, Codable, Equatable {
    public var id: String
    /// harden's policy: only this package.
    public var package: String?
    /// `.trivyignore.yaml`: only findings at these paths (globs) or with these purls.
    public var paths: [String]?
    public var purls: [String]?
    public var reason: String?
    /// harden's policy: why the image is not affected, as OpenVEX says it.
    public var justification: OpenVEX.Justification?
    /// The last day (YYYY-MM-DD) it applies, inclusive.
    public var expires: String?
    /// Where it was written: `file:line` or `policy`.
    public var source: String

    public init(
        id: String, package: String? = nil, paths: [String]? = nil, purls: [String]? = nil, reason: String? = nil,
        justification: OpenVEX.Justification? = nil, expires: String? = nil, source: String
    ) {
        self.id = id
        self.package = package
        self.paths = paths
        self.purls = purls
        self.reason = reason
        self.justification = justification
        self.expires = expires
        self.source = source
    }

    public func matches(_ finding: Vulnerability) -> Bool {
        guard id == finding.id || finding.aliases.contains(id) else { return false }
        if let package, Package.normalizePython(package) != Package.normalizePython(finding.package) { return false }
        if let paths, !paths.contains(where: { pattern in finding.location.map { fnmatch(pattern, $0, 0) == 0 } ?? false }) {
            return false
        }
        if let purls, !purls.contains(where: { $0 == finding.purl }) { return false }
        return true
    }

    /// Whether `today` (YYYY-MM-DD, UTC) is past the last day it applies.
    public func isExpired(today: String) -> Bool {
        guard let expires else { return false }
        return today > expires
    }
}

public struct IgnoreFileError: Error, Sendable, CustomStringConvertible {
    public var location: String
    public var message: String
    public var description: String { "\(location): \(message)" }
}

/// Reads ignore files in Trivy's formats.
public enum IgnoreFiles {
    /// `.trivyignore.yaml` (by its name) or `.trivyignore`.
    public static func load(_ path: String) throws(IgnoreFileError) -> [VulnerabilityIgnore] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw IgnoreFileError(location: path, message: "cannot be read")
        }
        let text = String(decoding: data, as: UTF8.self)
        return path.hasSuffix(".yaml") || path.hasSuffix(".yml") ? try yaml(text, file: path) : try plain(text, file: path)
    }

    /// One ID per line, `#` comments, an optional `exp:YYYY-MM-DD`. Trivy stops ignoring on
    /// that date, so the last day that applies is the day before.
    public static func plain(_ text: String, file: String) throws(IgnoreFileError) -> [VulnerabilityIgnore] {
        var ignores: [VulnerabilityIgnore] = []
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let tokens = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            var ignore = VulnerabilityIgnore(id: String(tokens[0]), source: "\(file):\(number + 1)")
            for token in tokens.dropFirst() {
                if token.hasPrefix("#") { break }
                guard token.hasPrefix("exp:"), let day = dayBefore(String(token.dropFirst(4))) else {
                    throw IgnoreFileError(
                        location: "\(file):\(number + 1)",
                        message: "'\(token)' is not exp:YYYY-MM-DD (a line is an ID, then optionally exp:YYYY-MM-DD)")
                }
                ignore.expires = day
            }
            ignores.append(ignore)
        }
        return ignores
    }

    struct YAMLFile: Decodable {
        struct Entry: Decodable {
            var id: String
            var paths: [String]?
            var purls: [String]?
            var statement: String?
            var expired_at: String?
        }
        var vulnerabilities: [Entry]?
    }

    /// `vulnerabilities:` entries with `id`, `paths`, `purls`, `statement`, `expired_at`.
    public static func yaml(_ text: String, file: String) throws(IgnoreFileError) -> [VulnerabilityIgnore] {
        let parsed: YAMLFile
        do {
            parsed = try YAMLDecoder().decode(YAMLFile.self, from: text.isEmpty ? "{}" : text)
        } catch {
            throw IgnoreFileError(location: file, message: "not a .trivyignore.yaml file: \(error)")
        }
        var ignores: [VulnerabilityIgnore] = []
        for (position, entry) in (parsed.vulnerabilities ?? []).enumerated() {
            var expires: String?
            if let expiredAt = entry.expired_at {
                guard let day = dayBefore(expiredAt) else {
                    throw IgnoreFileError(
                        location: "\(file): vulnerabilities[\(position)]", message: "expired_at '\(expiredAt)' is not YYYY-MM-DD")
                }
                expires = day
            }
            ignores.append(
                VulnerabilityIgnore(
                    id: entry.id, paths: entry.paths, purls: entry.purls, reason: entry.statement, expires: expires,
                    source: "\(file): vulnerabilities[\(position)]"))
        }
        return ignores
    }

    static let dayFormat: DateFormatter = {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        return formatter
    }()

    /// `YYYY-MM-DD` → the day before it, or nil when it is not a real date.
    static func dayBefore(_ text: String) -> String? {
        guard text.count == 10, let date = dayFormat.date(from: text), dayFormat.string(from: date) == text else { return nil }
        return dayFormat.string(from: date.addingTimeInterval(-86_400))
    }

    /// Today in UTC, as the expiry dates are written (without a DateFormatter: building one
    /// costs a scan about 2 ms).
    public static func today(_ now: Date = Date()) -> String {
        var seconds = time_t(now.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday))
    }
}
