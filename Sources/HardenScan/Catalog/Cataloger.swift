import Foundation
import HardenImage

/// Everything installed in an image, as its package records say.
public struct Catalog: Sendable, Codable {
    public var os: OperatingSystem?
    public var packages: [Package]

    public init(os: OperatingSystem?, packages: [Package]) {
        self.os = os
        self.packages = packages
    }

    /// The OSV ecosystems the packages belong to (`Debian:12`, `PyPI`), sorted.
    public var osvEcosystems: [String] {
        var ecosystems = Set<String>()
        for package in packages {
            switch package.kind {
            case .python: ecosystems.insert("PyPI")
            case .deb: if os?.id == "debian", let ecosystem = os?.osvEcosystem, ecosystem.contains(":") { ecosystems.insert(ecosystem) }
            case .apk: if os?.id == "alpine", let ecosystem = os?.osvEcosystem, ecosystem.contains(":") { ecosystems.insert(ecosystem) }
            }
        }
        return ecosystems.sorted()
    }
}

/// Builds the catalog from the records the image reader captured (see `PackageDatabases.wanted`).
public enum Cataloger {
    /// Reads the final filesystem's records; a package in a shared database (dpkg `status`,
    /// apk `installed`) is credited to the first layer from which every later version of that
    /// database lists it, which is the layer that installed it.
    public static func catalog(_ contents: ImageContents) -> Catalog {
        let filesystem = contents.filesystem
        var packages: [Package] = []
        var os: OperatingSystem?
        // Only captured files are read: sorting those, not every path of the image.
        let captured = filesystem.nodes.compactMap { path, node in
            node.kind == .file && node.content.captured != nil ? path : nil
        }
        for path in captured.sorted() {
            guard let node = filesystem.nodes[path], let data = node.content.captured else { continue }
            if path == "/etc/os-release" || (path == "/usr/lib/os-release" && os == nil) {
                os = PackageDatabases.osRelease(data) ?? os
            } else if path == "/var/lib/dpkg/status" {
                packages += credit(PackageDatabases.dpkg(data, location: path, layer: node.layer), path, contents.capturedFiles) {
                    PackageDatabases.dpkg($0, location: path, layer: nil)
                }
            } else if path.hasPrefix("/var/lib/dpkg/status.d/") {
                packages += PackageDatabases.dpkg(data, location: path, layer: node.layer)
            } else if path == "/lib/apk/db/installed" {
                packages += credit(PackageDatabases.apk(data, location: path, layer: node.layer), path, contents.capturedFiles) {
                    PackageDatabases.apk($0, location: path, layer: nil)
                }
            } else if path.hasSuffix(".dist-info/METADATA") || path.hasSuffix(".egg-info/PKG-INFO") || path.hasSuffix(".egg-info")
            {
                let location = path.hasSuffix(".egg-info") ? path : (path as NSString).deletingLastPathComponent
                if let package = PackageDatabases.python(data, location: location, layer: node.layer) { packages.append(package) }
            }
        }
        // The same distribution recorded twice (dpkg status and status.d) counts once.
        var seen = Set<String>()
        packages = packages.filter {
            seen.insert("\($0.kind)\u{0}\($0.normalizedName)\u{0}\($0.version)\u{0}\($0.location)").inserted
        }
        return Catalog(os: os, packages: packages)
    }

    /// Sets each package's layer from the versions of its database file the layers wrote.
    private static func credit(
        _ packages: [Package], _ path: String, _ captured: [CapturedFile], parse: (Data) -> [Package]
    ) -> [Package] {
        var since: [String: Int] = [:]
        for version in captured where version.path == path {
            let present = Set(parse(version.data).map { "\($0.name)\u{0}\($0.version)" })
            since = since.filter { present.contains($0.key) }
            for key in present where since[key] == nil { since[key] = version.layer }
        }
        return packages.map { package in
            var package = package
            package.layer = since["\(package.name)\u{0}\(package.version)"] ?? package.layer
            return package
        }
    }
}
