import Foundation

/// The OS release of an image whose os-release does not give it, from its packages, when they
/// say it reliably: Debian's `base-files` version (`12.4+deb12u5` is Debian 12), else the
/// `+debNNuM` / `~debNNuM` suffix that stable updates carry, when at least three packages have
/// one and all name the same release; Alpine's `alpine-release` package. Scanning uses it and
/// says so; the SBOM keeps to what the image itself states.
public struct InferredRelease: Sendable, Equatable {
    public var os: OperatingSystem
    /// What it was inferred from, for the report: `base-files 12.4+deb12u5`.
    public var evidence: String

    /// The release matching should use: the image's own, else one inferred (with why), else none.
    public static func resolve(_ catalog: Catalog) -> (os: OperatingSystem?, inferred: InferredRelease?) {
        if let os = catalog.os, os.versionID != nil || !["debian", "alpine"].contains(os.id) { return (os, nil) }
        guard let inferred = infer(catalog.packages, id: catalog.os?.id) else { return (catalog.os, nil) }
        return (inferred.os, inferred)
    }

    static func infer(_ packages: [Package], id: String?) -> InferredRelease? {
        let debs = packages.filter { $0.kind == .deb }
        if !debs.isEmpty, id == nil || id == "debian" {
            // Debian's own base-files only (`12.4+deb12u5`, `13.8`): Ubuntu's is `12ubuntu4.6`.
            if let baseFiles = debs.first(where: { $0.name == "base-files" }),
                baseFiles.version.wholeMatch(of: /[0-9]+(\.[0-9]+)*(\+deb[0-9]+u[0-9]+)?/) != nil,
                let major = baseFiles.version.split(separator: ".").first.map({ $0.prefix { $0.isNumber } })
            {
                return InferredRelease(
                    os: OperatingSystem(id: "debian", versionID: String(major)), evidence: "base-files \(baseFiles.version)")
            }
            var releases: [String: Int] = [:]
            for package in debs {
                if let release = suffixRelease(package.sourceVersion ?? package.version) { releases[release, default: 0] += 1 }
            }
            if releases.count == 1, let (release, count) = releases.first, count >= 3 {
                return InferredRelease(
                    os: OperatingSystem(id: "debian", versionID: release),
                    evidence: "\(count) packages with +deb\(release)uN or ~deb\(release)uN versions")
            }
        }
        if id == nil || id == "alpine",
            let release = packages.first(where: { $0.kind == .apk && $0.name == "alpine-release" })
        {
            let version = release.version.split(separator: "-").first.map(String.init) ?? release.version
            return InferredRelease(os: OperatingSystem(id: "alpine", versionID: version), evidence: "alpine-release \(release.version)")
        }
        return nil
    }

    /// `1.2.3-1+deb12u2` → `12`.
    static func suffixRelease(_ version: String) -> String? {
        guard let range = version.range(of: "deb", options: .backwards), range.lowerBound > version.startIndex else { return nil }
        let before = version[version.index(before: range.lowerBound)]
        guard before == "+" || before == "~" else { return nil }
        let rest = version[range.upperBound...]
        let digits = rest.prefix { $0.isNumber }
        guard !digits.isEmpty, rest.dropFirst(digits.count).first == "u" else { return nil }
        return String(digits)
    }
}
