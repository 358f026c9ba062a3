import ArgumentParser
import Foundation
import HardenAdvisories
import HardenBuild
import HardenImage
import HardenRecipe
import HardenScan

struct CompareCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare images side by side: size, packages, vulnerabilities, shell, package manager, user.",
        discussion: """
            Each image is read once; vulnerabilities come from the scanners given (default builtin, which \
            needs --advisories). Exit status: 0 compared; 2 an image could not be read or a scanner could not run.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, markdown, json }

    /// One image's line in the comparison.
    struct Row: Codable {
        var image: String
        var base: String
        var sizeBytes: Int64
        var packages: Int
        var vulnerabilities: [String: Int]?
        var fixable: Int?
        var shell: Bool
        var packageManager: Bool
        var user: String
    }

    @Argument(help: "Two or more images (files, directories or image references).")
    var images: [String]

    @Option(name: .customLong("scanner"), help: "builtin, trivy or grype; repeat to merge several (default: builtin).")
    var scanners: [ScanSettings.Scanner] = [.builtin]

    @Option(name: .long, help: Advisories.optionHelp)
    var advisories: String?

    @Option(name: .long, help: "text, markdown or json")
    var format: Format = .text

    @OptionGroup var imageOptions: ImageOptions

    func validate() throws {
        guard images.count >= 2 else { throw ValidationError("compare needs at least two images") }
    }

    func run() async throws {
        let platform = try imageOptions.chosenPlatform()
        var settings = ScanSettings(scanners: scanners, failOn: [])
        var matcher: AdvisoryMatcher?
        if scanners.contains(.builtin) {
            matcher = try Advisories.load(advisories, state: imageOptions.state)
            if matcher == nil {
                settings.scanners.removeAll { $0 == .builtin }
                FileHandle.standardError.write(
                    Data(
                        "harden: no advisories (run `harden advisories sync` or pass --advisories): vulnerability columns left empty\n"
                            .utf8))
            }
        }
        var rows: [Row] = []
        for image in images {
            let (path, cleanup) = try await imageOptions.localImage(image)
            defer { cleanup() }
            FileHandle.standardError.write(Data("harden: reading \(image)\n".utf8))
            do {
                let analysis = try ImageAnalysis.analyze(path: path, limits: imageOptions.limits, platform: platform)
                var row = Row(
                    image: image, base: analysis.catalog.os?.prettyName ?? analysis.catalog.os?.id ?? "unknown",
                    sizeBytes: analysis.contents.uncompressedBytes, packages: analysis.catalog.packages.count,
                    shell: analysis.verification.findings.contains { $0.rule == "shell" },
                    packageManager: analysis.verification.findings.contains { $0.rule == "package-manager" },
                    user: analysis.verification.user.isEmpty ? "root (unset)" : analysis.verification.user)
                if !settings.scanners.isEmpty {
                    let pipeline = ScanPipeline(
                        settings: settings, advisories: matcher, ignoreFile: nil,
                        scratch: URL(fileURLWithPath: imageOptions.state).appendingPathComponent("tmp"))
                    let report = try await pipeline.scan(analysis.catalogued, path: path, name: image)
                    row.vulnerabilities = Dictionary(
                        uniqueKeysWithValues: Severity.allCases.map { ($0.rawValue, report.counts[$0] ?? 0) })
                    row.fixable = report.findings.filter { $0.vulnerability.fixedVersion != nil }.count
                }
                rows.append(row)
            } catch let error as ImageError {
                Output.error(error.description)
                throw ExitCode(Exit.badInput)
            } catch let error as ScannerError {
                Output.error(error.description)
                throw ExitCode(Exit.badInput)
            }
        }
        print(render(rows))
    }

    func render(_ rows: [Row]) -> String {
        if format == .json { return Output.json(rows) }
        let header = [
            "image", "base", "size", "packages", "critical", "high", "medium", "low", "unknown", "total", "fixable", "shell",
            "pkg manager", "user",
        ]
        let table = rows.map { row -> [String] in
            let counts = row.vulnerabilities
            let count = { (severity: String) in counts.map { "\($0[severity] ?? 0)" } ?? "—" }
            return [
                row.image, row.base, String(format: "%.1f MB", Double(row.sizeBytes) / 1e6), "\(row.packages)",
                count("critical"), count("high"), count("medium"), count("low"), count("unknown"),
                counts.map { "\($0.values.reduce(0, +))" } ?? "—", row.fixable.map(String.init) ?? "—",
                row.shell ? "yes" : "no", row.packageManager ? "yes" : "no", row.user,
            ]
        }
        if format == .markdown {
            let lines = [header, header.map { _ in "---" }] + table
            return lines.map { "| " + $0.joined(separator: " | ") + " |" }.joined(separator: "\n")
        }
        let widths = header.indices.map { column in ([header] + table).map { $0[column].count }.max() ?? 0 }
        return ([header] + table).map { cells in
            cells.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n")
    }
}
