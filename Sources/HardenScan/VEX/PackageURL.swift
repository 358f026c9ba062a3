import Foundation

/// A package URL (github.com/package-url/purl-spec), split into the parts VEX matching
/// compares: `pkg:type/namespace/name@version?qualifiers#subpath`.
struct PackageURL: Sendable, Equatable {
    var type: String
    var namespace: String
    var name: String
    var version: String?

    init?(_ text: String) {
        guard text.hasPrefix("pkg:") else { return nil }
        var rest = Substring(text.dropFirst(4))
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        if let question = rest.firstIndex(of: "?") { rest = rest[..<question] }
        if let at = rest.lastIndex(of: "@"), let version = String(rest[rest.index(after: at)...]).removingPercentEncoding {
            self.version = version.isEmpty ? nil : version
            rest = rest[..<at]
        }
        let parts = rest.split(separator: "/").compactMap { String($0).removingPercentEncoding }
        guard parts.count >= 2 else { return nil }
        type = parts[0].lowercased()
        namespace = parts.dropFirst().dropLast().joined(separator: "/").lowercased()
        name = type == "pypi" ? Package.normalizePython(parts[parts.count - 1]) : parts[parts.count - 1].lowercased()
    }

    /// Whether this purl names `other`: the same package, and the same version unless this one
    /// gives none. Qualifiers (arch, distro) and subpaths are not compared.
    func covers(_ other: PackageURL) -> Bool {
        type == other.type && namespace == other.namespace && name == other.name && (version == nil || version == other.version)
    }

    /// The purl of a finding's package: the scanner's, else one made from its ecosystem.
    static func of(_ finding: Vulnerability) -> String? {
        if let purl = finding.purl { return purl }
        let encode = Package.percentEncoded
        switch finding.ecosystem {
        case "python": return "pkg:pypi/\(encode(Package.normalizePython(finding.package)))@\(encode(finding.version))"
        case "deb": return "pkg:deb/debian/\(encode(finding.package))@\(encode(finding.version))"
        case "apk": return "pkg:apk/alpine/\(encode(finding.package))@\(encode(finding.version))"
        default: return nil
        }
    }

    /// `pkg:deb/debian/zlib1g@1.2?arch=amd64` → `pkg:deb/debian/zlib1g`: the package in any version.
    static func withoutVersion(_ purl: String) -> String {
        let path = purl.split(separator: "?", maxSplits: 1).first.map(String.init) ?? purl
        guard let at = path.lastIndex(of: "@") else { return path }
        return String(path[..<at])
    }
}
