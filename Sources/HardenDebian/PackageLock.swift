import Foundation
import HardenImage
import Yams

/// `<recipe>.lock.yaml`: the exact packages a Debian base was resolved to, so builds a month
/// apart assemble the same bytes. Written by `harden lock` (and by a build that has none),
/// read by every build; the packages' digest is a plan input.
public struct PackageLock: Sendable, Codable, Equatable {
    public static let formatVersion = 1

    /// One suite read: where from, and the Release's date and version.
    public struct Source: Sendable, Codable, Equatable {
        public var suite: String
        public var mirror: String
        public var origin: String?
        public var version: String?
        public var codename: String?
        public var date: String?
    }

    public struct Package: Sendable, Codable, Equatable {
        public var name: String
        public var version: String
        public var architecture: String
        /// The suite whose index named it (`bookworm-security`).
        public var suite: String
        public var filename: String
        public var size: Int
        public var sha256: String
        public var source: String?
        /// The chain that pulled it in, from a package the recipe asked for.
        public var wantedBy: [String]?

        enum CodingKeys: String, CodingKey {
            case name, version, architecture, suite, filename, size, sha256, source
            case wantedBy = "wanted-by"
        }
    }

    /// A dependency left out on purpose (install-only, excluded).
    public struct LeftOut: Sendable, Codable, Equatable {
        public var dependent: String
        public var relation: String
        public var dropped: [String]
        public var reason: String
    }

    public var lockVersion: Int
    public var recipe: String
    public var suite: String
    public var architecture: String
    /// The digest of the recipe's `debian:` settings this was resolved from; another means stale.
    public var request: String
    public var resolvedAt: String
    public var sources: [Source]
    public var packages: [Package]
    public var leftOut: [LeftOut]

    enum CodingKeys: String, CodingKey {
        case recipe, suite, architecture, request, sources, packages
        case lockVersion = "lock-version"
        case resolvedAt = "resolved-at"
        case leftOut = "left-out"
    }

    /// What the image is made of: every package's name, version, architecture and hash.
    public var digest: Digest {
        var text = "harden-debian-lock \(Self.formatVersion)\n"
        for package in packages {
            text += "\(package.name) \(package.version) \(package.architecture) \(package.sha256)\n"
        }
        return .sha256(Data(text.utf8))
    }

    /// The mirror a package's `filename` is relative to.
    public func mirror(of package: Package) -> URL? {
        sources.first { $0.suite == package.suite }.flatMap { URL(string: $0.mirror) }
    }

    /// `Recipes/flask-debian.yaml` → `Recipes/flask-debian.lock.yaml`.
    public static func file(beside recipe: URL) -> URL {
        recipe.deletingPathExtension().appendingPathExtension("lock.yaml")
    }

    // MARK: Reading and writing

    public static func read(_ file: URL) throws(DebianError) -> PackageLock? {
        guard let data = FileManager.default.contents(atPath: file.path) else {
            if FileManager.default.fileExists(atPath: file.path) {
                throw DebianError(.fetch, "\(file.path): cannot be read; check its permissions")
            }
            return nil
        }
        let lock: PackageLock
        do {
            lock = try YAMLDecoder().decode(PackageLock.self, from: data)
        } catch {
            throw DebianError(
                .syntax, "\(file.path): not a harden lock file (\(Self.describe(error))); remove it and run harden lock again")
        }
        guard lock.lockVersion <= formatVersion else {
            throw DebianError(
                .syntax, "\(file.path): lock-version \(lock.lockVersion) is newer than this harden reads (\(formatVersion)); update harden")
        }
        for package in lock.packages where lock.mirror(of: package) == nil {
            throw DebianError(
                .syntax, "\(file.path): package \(package.name) comes from suite \(package.suite), which sources does not list")
        }
        return lock
    }

    private static func describe(_ error: any Error) -> String {
        if case DecodingError.keyNotFound(let key, let context) = error {
            return "missing \((context.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: "."))"
        }
        if case DecodingError.typeMismatch(_, let context) = error {
            return "wrong type at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        }
        return "\(error)"
    }

    /// The file's text: fixed key order, one package per block, every string quoted.
    public func yaml(recipeFile: String) -> String {
        func q(_ value: String) -> String {
            let data = (try? JSONEncoder().encode(value)) ?? Data("\"\"".utf8)
            return String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\\/", with: "/")
        }
        func list(_ values: [String]) -> String { "[" + values.map(q).joined(separator: ", ") + "]" }
        var lines = [
            "# The Debian packages of \(recipeFile)'s runtime, as harden resolved them.",
            "# Builds use exactly these; `harden lock \(recipeFile)` resolves them again. Do not edit.",
            "lock-version: \(lockVersion)",
            "recipe: \(q(recipe))",
            "suite: \(q(suite))",
            "architecture: \(q(architecture))",
            "request: \(q(request))",
            "resolved-at: \(q(resolvedAt))",
            "sources:",
        ]
        for source in sources {
            lines.append("  - suite: \(q(source.suite))")
            lines.append("    mirror: \(q(source.mirror))")
            if let origin = source.origin { lines.append("    origin: \(q(origin))") }
            if let version = source.version { lines.append("    version: \(q(version))") }
            if let codename = source.codename { lines.append("    codename: \(q(codename))") }
            if let date = source.date { lines.append("    date: \(q(date))") }
        }
        lines.append("packages:")
        for package in packages {
            lines.append("  - name: \(q(package.name))")
            lines.append("    version: \(q(package.version))")
            lines.append("    architecture: \(q(package.architecture))")
            lines.append("    suite: \(q(package.suite))")
            lines.append("    filename: \(q(package.filename))")
            lines.append("    size: \(package.size)")
            lines.append("    sha256: \(q(package.sha256))")
            if let source = package.source { lines.append("    source: \(q(source))") }
            if let chain = package.wantedBy, !chain.isEmpty { lines.append("    wanted-by: \(list(chain))") }
        }
        lines.append(leftOut.isEmpty ? "left-out: []" : "left-out:")
        for item in leftOut {
            lines.append("  - dependent: \(q(item.dependent))")
            lines.append("    relation: \(q(item.relation))")
            lines.append("    dropped: \(list(item.dropped))")
            lines.append("    reason: \(q(item.reason))")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
