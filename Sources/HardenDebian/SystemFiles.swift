import Foundation
import HardenArchive

/// Files that Debian's maintainer scripts or `base-files` would have put in a system, written
/// by harden when the assembled packages leave them out.
enum SystemFiles {
    struct Derived {
        var files: [(ArchiveEntry, Data)] = []
        /// One line per file written, for the build output.
        var notes: [String] = []
    }

    static let bundle = "etc/ssl/certs/ca-certificates.crt"

    /// `items`: the image so far, by path.
    static func derive(from items: [String: (ArchiveEntry, Data)], release: OSRelease?) -> Derived {
        var derived = Derived()
        certificates(items, into: &derived)
        if let release, items["etc/os-release"] == nil, items["usr/lib/os-release"] == nil {
            osRelease(release, items, into: &derived)
        }
        return derived
    }

    /// What `update-ca-certificates` makes from `ca-certificates`' files: the bundle of every
    /// certificate under `/usr/share/ca-certificates` (sorted by path, as its configuration lists
    /// them) and one `/etc/ssl/certs/<name>.pem` link per certificate. The OpenSSL hash links are
    /// not made: OpenSSL, Python and Go read the bundle.
    private static func certificates(_ items: [String: (ArchiveEntry, Data)], into derived: inout Derived) {
        let prefix = "usr/share/ca-certificates/"
        let certificates = items.keys.filter { $0.hasPrefix(prefix) && $0.hasSuffix(".crt") && items[$0]?.0.type == .regular }
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        guard !certificates.isEmpty, items[bundle] == nil else { return }
        var text = Data()
        for path in certificates {
            guard let data = items[path]?.1 else { continue }
            text.append(data)
            if data.last != UInt8(ascii: "\n") { text.append(UInt8(ascii: "\n")) }
        }
        derived.files.append((ArchiveEntry(path: bundle, type: .regular, mode: 0o644), text))
        for path in certificates {
            let name = ((path as NSString).lastPathComponent as NSString).deletingPathExtension + ".pem"
            let link = "etc/ssl/certs/\(name)"
            guard items[link] == nil else { continue }
            derived.files.append((ArchiveEntry(path: link, type: .symlink, mode: 0o777, symlinkTarget: "/" + path), Data()))
        }
        derived.notes.append("/\(bundle) from \(certificates.count) certificates")
    }

    /// `/usr/lib/os-release` (with `/etc/os-release` linking to it), as `base-files` ships it,
    /// from the Release file's Origin, Version and Codename; and `/etc/debian_version`.
    private static func osRelease(_ release: OSRelease, _ items: [String: (ArchiveEntry, Data)], into derived: inout Derived) {
        let debian = release.origin == "Debian"
        let name = debian ? "Debian GNU/Linux" : release.origin
        let id = release.origin.lowercased().filter { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" }
        let major = release.version.map { String($0.prefix { $0 != "." }) }
        var lines: [String] = []
        switch (major, release.codename) {
        case (let major?, let codename?): lines.append("PRETTY_NAME=\"\(name) \(major) (\(codename))\"")
        case (let major?, nil): lines.append("PRETTY_NAME=\"\(name) \(major)\"")
        case (nil, let codename?): lines.append("PRETTY_NAME=\"\(name) \(codename)\"")
        case (nil, nil): lines.append("PRETTY_NAME=\"\(name)\"")
        }
        lines.append("NAME=\"\(name)\"")
        if let major {
            lines.append("VERSION_ID=\"\(major)\"")
            lines.append("VERSION=\"\(major)\(release.codename.map { " (\($0))" } ?? "")\"")
        }
        if let codename = release.codename { lines.append("VERSION_CODENAME=\(codename)") }
        lines.append("ID=\(id)")
        if debian {
            lines += [
                "HOME_URL=\"https://www.debian.org/\"", "SUPPORT_URL=\"https://www.debian.org/support\"",
                "BUG_REPORT_URL=\"https://bugs.debian.org/\"",
            ]
        }
        derived.files.append(
            (ArchiveEntry(path: "usr/lib/os-release", type: .regular, mode: 0o644), Data((lines.joined(separator: "\n") + "\n").utf8)))
        derived.files.append(
            (ArchiveEntry(path: "etc/os-release", type: .symlink, mode: 0o777, symlinkTarget: "../usr/lib/os-release"), Data()))
        var note = "/etc/os-release for \(name)\(major.map { " \($0)" } ?? "")"
        if debian, let version = release.version, items["etc/debian_version"] == nil {
            derived.files.append(
                (ArchiveEntry(path: "etc/debian_version", type: .regular, mode: 0o644), Data((version + "\n").utf8)))
            note += " and /etc/debian_version \(version)"
        }
        derived.notes.append(note)
    }
}
