import Foundation

/// Parsers for the package records an image carries. Each takes a file's bytes and where it is.
public enum PackageDatabases {
    /// Paths whose content the catalog needs (absolute), matched while layers stream.
    public static func wanted(_ path: String) -> Bool {
        if path == "/var/lib/dpkg/status" || path == "/lib/apk/db/installed" || path == "/etc/os-release"
            || path == "/usr/lib/os-release"
        {
            return true
        }
        if path.hasPrefix("/var/lib/dpkg/status.d/") { return !path.hasSuffix(".md5sums") }
        if path.hasSuffix(".dist-info/METADATA") { return true }
        if path.hasSuffix(".egg-info/PKG-INFO") || path.hasSuffix(".egg-info") { return true }
        return false
    }

    /// `/var/lib/dpkg/status` or one distroless `status.d/<name>` file: installed packages only.
    public static func dpkg(_ data: Data, location: String, layer: Int?) -> [Package] {
        var packages: [Package] = []
        for paragraph in paragraphs(String(decoding: data, as: UTF8.self)) {
            guard let name = paragraph["Package"], let version = paragraph["Version"] else { continue }
            if let status = paragraph["Status"], !status.hasSuffix(" installed") { continue }
            var sourceName: String?
            var sourceVersion: String?
            if let source = paragraph["Source"] {
                // "Source: openssl (3.0.11-1~deb12u2)" or just "Source: openssl".
                let parts = source.split(separator: " ", maxSplits: 1)
                sourceName = parts.first.map(String.init)
                if parts.count == 2 {
                    sourceVersion = parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "() "))
                }
            }
            packages.append(Package(
                kind: .deb, name: name, version: version, sourceName: sourceName, sourceVersion: sourceVersion,
                architecture: paragraph["Architecture"], location: location, layer: layer))
        }
        return packages
    }

    /// `/lib/apk/db/installed`: `P:` name, `V:` version, `A:` arch, `o:` origin (source package).
    public static func apk(_ data: Data, location: String, layer: Int?) -> [Package] {
        var packages: [Package] = []
        var fields: [Character: String] = [:]
        func flush() {
            if let name = fields["P"], let version = fields["V"] {
                packages.append(Package(
                    kind: .apk, name: name, version: version, sourceName: fields["o"], architecture: fields["A"],
                    location: location, layer: layer))
            }
            fields = [:]
        }
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
            if line.isEmpty {
                flush()
            } else if line.count > 2, line.dropFirst().first == ":", let key = line.first, fields[key] == nil {
                fields[key] = String(line.dropFirst(2))
            }
        }
        flush()
        return packages
    }

    /// A Python distribution's `METADATA` / `PKG-INFO` (email-header format): `Name`, `Version`.
    public static func python(_ data: Data, location: String, layer: Int?) -> Package? {
        let text = String(decoding: data.prefix(64 << 10), as: UTF8.self)
        guard let headers = paragraphs(text).first, let name = headers["Name"], let version = headers["Version"] else { return nil }
        return Package(kind: .python, name: name, version: version, location: location, layer: layer)
    }

    /// `/etc/os-release` (or `/usr/lib/os-release`).
    public static func osRelease(_ data: Data) -> OperatingSystem? {
        var values: [String: String] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let pair = line.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { continue }
            values[String(pair[0]).trimmingCharacters(in: .whitespaces)] =
                String(pair[1]).trimmingCharacters(in: CharacterSet(charactersIn: "\"' \t"))
        }
        guard let id = values["ID"] else { return nil }
        return OperatingSystem(id: id, versionID: values["VERSION_ID"], prettyName: values["PRETTY_NAME"])
    }

    /// RFC 822-style paragraphs separated by blank lines; continuation lines are folded away.
    static func paragraphs(_ text: String) -> [[String: String]] {
        var result: [[String: String]] = []
        var current: [String: String] = [:]
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if line.trimmingCharacters(in: .whitespaces).isEmpty {
                if !current.isEmpty { result.append(current) }
                current = [:]
                continue
            }
            if line.first == " " || line.first == "\t" {
                continue  // a continuation line: descriptions, file lists
            }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = String(line[..<colon])
            if current[key] == nil {
                current[key] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        if !current.isEmpty { result.append(current) }
        return result
    }
}
