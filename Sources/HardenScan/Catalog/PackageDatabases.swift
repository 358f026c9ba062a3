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
        for paragraph in paragraphs(data, keys: ["Package", "Version", "Status", "Source", "Architecture"]) {
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
            packages.append(
                Package(
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
                packages.append(
                    Package(
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
        guard let headers = paragraphs(data, keys: ["Name", "Version"], firstOnly: true).first, let name = headers["Name"],
            let version = headers["Version"]
        else { return nil }
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

    /// RFC 822-style paragraphs separated by blank lines, with only the fields named in `keys`
    /// (first value wins); continuation lines are skipped. Works on bytes: status files are megabytes.
    static func paragraphs(_ data: Data, keys: Set<String>, firstOnly: Bool = false) -> [[String: String]] {
        var result: [[String: String]] = []
        var current: [String: String] = [:]
        var inParagraph = false
        data.withUnsafeBytes { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            let count = bytes.count
            func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D }
            func text(_ from: Int, _ to: Int) -> String {
                String(decoding: UnsafeBufferPointer(rebasing: bytes[from..<to]), as: UTF8.self)
            }
            var start = 0
            while start < count {
                var end = start
                while end < count && bytes[end] != 0x0A { end += 1 }
                var content = start
                while content < end && isBlank(bytes[content]) { content += 1 }
                if content == end {
                    if inParagraph {
                        result.append(current)
                        if firstOnly { return }
                    }
                    current = [:]
                    inParagraph = false
                } else if content == start {
                    inParagraph = true
                    var colon = start
                    while colon < end && bytes[colon] != 0x3A { colon += 1 }
                    if colon < end {
                        let key = text(start, colon)
                        if keys.contains(key), current[key] == nil {
                            var from = colon + 1
                            var to = end
                            while from < to && isBlank(bytes[from]) { from += 1 }
                            while to > from && isBlank(bytes[to - 1]) { to -= 1 }
                            current[key] = text(from, to)
                        }
                    }
                }
                start = end + 1
            }
            if inParagraph { result.append(current) }
        }
        return result
    }
}
