import Foundation
import HardenImage

/// Everything installed in an image, as its package records say.
public struct Catalog: Sendable, Codable {
    public var os: OperatingSystem?
    public var packages: [Package]
}

/// Builds the catalog from the records the image reader captured (see `PackageDatabases.wanted`).
public enum Cataloger {
    public static func catalog(_ filesystem: FileSystemView) -> Catalog {
        var packages: [Package] = []
        var os: OperatingSystem?
        for path in filesystem.nodes.keys.sorted() {
            guard let node = filesystem.nodes[path], node.kind == .file, let data = node.content.captured else { continue }
            if path == "/etc/os-release" || (path == "/usr/lib/os-release" && os == nil) {
                os = PackageDatabases.osRelease(data) ?? os
            } else if path == "/var/lib/dpkg/status" || path.hasPrefix("/var/lib/dpkg/status.d/") {
                packages += PackageDatabases.dpkg(data, location: path, layer: node.layer)
            } else if path == "/lib/apk/db/installed" {
                packages += PackageDatabases.apk(data, location: path, layer: node.layer)
            } else if path.hasSuffix(".dist-info/METADATA") || path.hasSuffix(".egg-info/PKG-INFO") || path.hasSuffix(".egg-info") {
                let location = path.hasSuffix(".egg-info") ? path : (path as NSString).deletingLastPathComponent
                if let package = PackageDatabases.python(data, location: location, layer: node.layer) { packages.append(package) }
            }
        }
        // The same distribution recorded twice (dpkg status and status.d) counts once.
        var seen = Set<String>()
        packages = packages.filter { seen.insert("\($0.kind)\u{0}\($0.normalizedName)\u{0}\($0.version)\u{0}\($0.location)").inserted }
        return Catalog(os: os, packages: packages)
    }
}
