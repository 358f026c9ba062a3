import Foundation
import HardenAdvisories

/// A scanner's report that could not be understood.
public struct ScannerError: Error, Sendable, CustomStringConvertible {
    public var scanner: String
    public var message: String
    /// One line on what to do.
    public var hint: String?

    public init(scanner: String, message: String, hint: String? = nil) {
        self.scanner = scanner
        self.message = message
        self.hint = hint
    }

    public var description: String { "\(scanner): \(message)" + (hint.map { "\n  hint: \($0)" } ?? "") }
}

/// Trivy's JSON report (`trivy image --format json`): `Results[].Vulnerabilities[]`.
public enum TrivyReport {
    struct Report: Decodable {
        var Results: [Result]?
        var Metadata: Metadata?
    }
    struct Metadata: Decodable { var OS: OS? }
    struct OS: Decodable { var Family: String? }

    /// Whether trivy recognised the image's OS (it then checked its OS packages); nil when the
    /// report does not say. Trivy only logs "OS is not detected" at debug level and goes on.
    public static func osDetected(_ data: Data) -> Bool? {
        guard let report = try? JSONDecoder().decode(Report.self, from: data), let metadata = report.Metadata else { return nil }
        return !(metadata.OS?.Family ?? "").isEmpty
    }
    struct Result: Decodable {
        var Target: String?
        var `Type`: String?
        var Vulnerabilities: [Finding]?
    }
    struct Finding: Decodable {
        var VulnerabilityID: String
        var PkgName: String
        var PkgPath: String?
        var PkgIdentifier: Identifier?
        var InstalledVersion: String
        var FixedVersion: String?
        var Severity: String?
        var Title: String?
        var Layer: Layer?
        var VendorIDs: [String]?
    }
    struct Identifier: Decodable { var PURL: String? }
    struct Layer: Decodable {
        var Digest: String?
        var DiffID: String?
    }

    /// Findings, with layers given as diff_ids (see `layerIndex`).
    public static func parse(_ data: Data, diffIDs: [String] = []) throws(ScannerError) -> [Vulnerability] {
        let report: Report
        do {
            report = try JSONDecoder().decode(Report.self, from: data)
        } catch {
            throw ScannerError(scanner: "trivy", message: "the report is not Trivy JSON: \(describe(error))")
        }
        var found: [Vulnerability] = []
        for result in report.Results ?? [] {
            let ecosystem = ecosystemName(result.Type ?? "")
            for item in result.Vulnerabilities ?? [] {
                found.append(
                    Vulnerability(
                        id: item.VulnerabilityID, aliases: item.VendorIDs ?? [], package: item.PkgName,
                        version: item.InstalledVersion,
                        ecosystem: ecosystem, fixedVersion: item.FixedVersion.flatMap { $0.isEmpty ? nil : $0 },
                        severity: HardenAdvisories.Severity(word: item.Severity ?? ""), summary: item.Title,
                        location: item.PkgPath ?? result.Target, layer: item.Layer?.DiffID.flatMap { diffIDs.firstIndex(of: $0) },
                        purl: item.PkgIdentifier?.PURL, scanners: ["trivy"]))
            }
        }
        return found
    }

    /// Trivy's result types, in harden's ecosystem names.
    static func ecosystemName(_ type: String) -> String {
        switch type {
        case "debian", "ubuntu": "deb"
        case "alpine", "wolfi", "chainguard": "apk"
        case "python-pkg", "pip", "pipenv", "poetry", "uv": "python"
        default: type
        }
    }
}

/// Grype's JSON report (`grype … -o json`): `matches[]` of a vulnerability and an artifact.
public enum GrypeReport {
    struct Report: Decodable {
        var matches: [Match]?
        var distro: Distro?
    }
    struct Distro: Decodable {
        var name: String?
        var version: String?
    }

    /// Whether grype recognised the image's distribution and release; nil when the report has
    /// no `distro`. Grype gives no OS matches without them (anchore/grype#1446).
    public static func osDetected(_ data: Data) -> Bool? {
        guard let report = try? JSONDecoder().decode(Report.self, from: data), let distro = report.distro else { return nil }
        return !(distro.name ?? "").isEmpty && !(distro.version ?? "").isEmpty
    }
    struct Match: Decodable {
        var vulnerability: Vuln
        var relatedVulnerabilities: [Related]?
        var artifact: Artifact
    }
    struct Vuln: Decodable {
        var id: String
        var severity: String?
        var description: String?
        var fix: Fix?
    }
    struct Fix: Decodable {
        var versions: [String]?
        var state: String?
    }
    struct Related: Decodable { var id: String }
    struct Artifact: Decodable {
        var name: String
        var version: String
        var type: String?
        var purl: String?
        var locations: [Location]?
    }
    struct Location: Decodable {
        var path: String?
        var layerID: String?
    }

    public static func parse(_ data: Data, diffIDs: [String] = []) throws(ScannerError) -> [Vulnerability] {
        let report: Report
        do {
            report = try JSONDecoder().decode(Report.self, from: data)
        } catch {
            throw ScannerError(scanner: "grype", message: "the report is not Grype JSON: \(describe(error))")
        }
        return (report.matches ?? []).map { match in
            let location = match.artifact.locations?.first
            let fixed = match.vulnerability.fix?.state == "fixed" ? match.vulnerability.fix?.versions?.first : nil
            return Vulnerability(
                id: match.vulnerability.id,
                aliases: (match.relatedVulnerabilities ?? []).map(\.id).filter { $0 != match.vulnerability.id },
                package: match.artifact.name, version: match.artifact.version,
                ecosystem: ecosystemName(match.artifact.type ?? ""),
                fixedVersion: fixed, severity: Severity(word: match.vulnerability.severity ?? ""),
                summary: match.vulnerability.description, location: location?.path,
                layer: location?.layerID.flatMap { diffIDs.firstIndex(of: $0) }, purl: match.artifact.purl, scanners: ["grype"])
        }
    }

    static func ecosystemName(_ type: String) -> String {
        type == "python" ? "python" : type
    }
}

private func describe(_ error: any Error) -> String {
    switch error {
    case DecodingError.keyNotFound(let key, let context):
        return
            "missing \((context.codingPath + [key]).map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: "."))"
    case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
        return "wrong type at \(context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: "."))"
    default:
        return "not valid JSON"
    }
}
