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
/// A class: the resolver's indexes hold each package several times, and a copy of a
/// struct of a dozen strings costs a retain and a release per string.
public final class BinaryPackage: Sendable {
    public let name: String
    public let version: DebianVersion
    public let architecture: String
    public let depends: String
    public let preDepends: String
    public let provides: String
    public let essential: Bool
    public let priority: String?
    /// Relative to the mirror: `pool/main/d/dash/dash_0.5.12-2_amd64.deb`.
    public let filename: String
    public let size: Int
    public let sha256: String
    /// The source package (`Source: name` or `Source: name (version)`), nil when it is the package's own name.
    public let source: String?
    public let multiArch: String?
    /// The suite whose index lists it.
    public let origin: SuiteSource

    public init(
        name: String, version: DebianVersion, architecture: String, depends: String, preDepends: String, provides: String,
        essential: Bool, priority: String?, filename: String, size: Int, sha256: String, source: String?, multiArch: String?,
        origin: SuiteSource
    ) {
        self.name = name
        self.version = version
        self.architecture = architecture
        self.depends = depends
        self.preDepends = preDepends
        self.provides = provides
        self.essential = essential
        self.priority = priority
        self.filename = filename
        self.size = size
        self.sha256 = sha256
        self.source = source
        self.multiArch = multiArch
        self.origin = origin
    }

    public var url: URL { origin.mirror.appendingPathComponent(filename) }

    /// `name version` as Debian writes it (`libc6 2.36-9+deb12u9`).
    public var label: String { "\(name) \(version)" }

    static let fields: Set<String> = [
        "Package", "Version", "Architecture", "Depends", "Pre-Depends", "Provides", "Essential", "Priority",
        "Filename", "Size", "SHA256", "Source", "Multi-Arch",
    ]

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
