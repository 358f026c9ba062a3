import Foundation
import HardenVersions

/// One suite on one mirror: `http://deb.debian.org/debian` + `bookworm-updates`.
public struct SuiteSource: Sendable, Hashable, CustomStringConvertible {
    public var mirror: URL
    public var suite: String

    public init(mirror: URL, suite: String) {
        self.mirror = mirror
        self.suite = suite
    }

    public var description: String { "\(mirror.absoluteString) \(suite)" }
}

/// A binary package stanza of a `Packages` index. Relation fields stay text until the
/// resolver reaches the package: most of an index's 60 000 packages are never looked at.
public struct BinaryPackage: Sendable {
    public var name: String
    public var version: DebianVersion
    public var architecture: String
    public var depends: String
    public var preDepends: String
    public var provides: String
    public var essential: Bool
    public var priority: String?
    /// Relative to the mirror: `pool/main/d/dash/dash_0.5.12-2_amd64.deb`.
    public var filename: String
    public var size: Int
    public var sha256: String
    /// The source package (`Source: name` or `Source: name (version)`), nil when it is the package's own name.
    public var source: String?
    public var multiArch: String?
    /// The suite whose index lists it.
    public var origin: SuiteSource

    public var url: URL { origin.mirror.appendingPathComponent(filename) }

    /// `name version` as Debian writes it (`libc6 2.36-9+deb12u9`).
    public var label: String { "\(name) \(version)" }

    static let fields: Set<String> = [
        "Package", "Version", "Architecture", "Depends", "Pre-Depends", "Provides", "Essential", "Priority",
        "Filename", "Size", "SHA256", "Source", "Multi-Arch",
    ]

    /// A `Packages` index of `packages` with only the fields harden reads (`parseIndex` reads it back).
    static func index(_ packages: [BinaryPackage]) -> Data {
        var text = ""
        text.reserveCapacity(packages.count * 200)
        func value(_ field: String) -> String {  // a continuation line starts with a space
            field.contains("\n") ? field.replacingOccurrences(of: "\n", with: "\n ") : field
        }
        for package in packages {
            text += "Package: \(package.name)\nVersion: \(package.version)\nArchitecture: \(package.architecture)\n"
            if !package.depends.isEmpty { text += "Depends: \(value(package.depends))\n" }
            if !package.preDepends.isEmpty { text += "Pre-Depends: \(value(package.preDepends))\n" }
            if !package.provides.isEmpty { text += "Provides: \(value(package.provides))\n" }
            if package.essential { text += "Essential: yes\n" }
            if let priority = package.priority { text += "Priority: \(priority)\n" }
            if let source = package.source { text += "Source: \(source)\n" }
            if let multiArch = package.multiArch { text += "Multi-Arch: \(multiArch)\n" }
            text += "Filename: \(package.filename)\nSize: \(package.size)\nSHA256: \(package.sha256)\n\n"
        }
        return Data(text.utf8)
    }

    /// The packages of a `Packages` index; `name` is used in errors.
    public static func parseIndex(_ text: Data, origin: SuiteSource, name: String) throws(DebianError) -> [BinaryPackage] {
        let stanzas = try Deb822.stanzas(in: text, name: name, keeping: fields)
        var packages: [BinaryPackage] = []
        packages.reserveCapacity(stanzas.count)
        for stanza in stanzas {
            func fail(_ why: String) -> DebianError {
                DebianError(
                    .syntax,
                    "\(name) line \(stanza.line): \(stanza["Package"].map { "package \($0): " } ?? "")\(why); the index is damaged, refresh the mirror"
                )
            }
            guard let package = stanza["Package"] else { throw fail("the stanza has no Package field") }
            guard let versionText = stanza["Version"], let version = DebianVersion(versionText) else {
                throw fail("no valid Version")
            }
            guard let filename = stanza["Filename"], let sizeText = stanza["Size"], let size = Int(sizeText),
                let sha256 = stanza["SHA256"], sha256.count == 64
            else { throw fail("no Filename, Size and SHA256") }
            guard !filename.hasPrefix("/"), !filename.split(separator: "/").contains("..") else {
                throw fail("Filename '\(filename)' leaves the mirror")
            }
            packages.append(
                BinaryPackage(
                    name: package, version: version, architecture: stanza["Architecture"] ?? "all",
                    depends: stanza["Depends"] ?? "", preDepends: stanza["Pre-Depends"] ?? "",
                    provides: stanza["Provides"] ?? "", essential: stanza["Essential"] == "yes",
                    priority: stanza["Priority"], filename: filename, size: size, sha256: sha256.lowercased(),
                    source: stanza["Source"], multiArch: stanza["Multi-Arch"], origin: origin))
        }
        return packages
    }
}
