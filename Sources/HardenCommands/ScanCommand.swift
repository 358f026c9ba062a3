import ArgumentParser
import Foundation
import HardenAdvisories
import HardenBuild
import HardenImage
import HardenRecipe
import HardenScan

struct ScanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Find known vulnerabilities in an image and judge them with one policy gate.",
        discussion: """
            Scanners: builtin (OSV advisories from --advisories, matched to the packages harden catalogs), \
            trivy and grype (run on the image; their vulnerability databases must already be there). \
            Findings of several scanners are merged. The gate: fail-on severities, ignore-unfixed, a \
            .trivyignore or .trivyignore.yaml, and the policy file's ignores (each with a reason and an \
            optional last day). Exit status: 0 pass; 1 the gate failed; 2 bad input or a scanner that could not run.
            """)

    @Argument(help: "The image: a docker-archive, an OCI layout or archive, or an image reference.")
    var image: String

    @Option(
        name: .customLong("scanner"),
        help: "builtin, trivy or grype; repeat to merge several (default: the policy's, else builtin).")
    var scanners: [ScanSettings.Scanner] = []

    @Option(name: .long, help: Advisories.optionHelp)
    var advisories: String?

    @Option(name: .long, help: "A scan policy file (YAML, the keys of a recipe's scan: section).")
    var policy: String?

    @Option(name: .long, help: "A .trivyignore or .trivyignore.yaml (default: the policy's ignore-file).")
    var ignoreFile: String?

    @Option(name: .long, help: "text, json or sarif")
    var format: ScanReportWriter.Format = .text

    @Option(name: .long, help: "Write the report to this file instead of standard output.")
    var output: String?

    @Flag(name: .long, help: "Say on stderr what each phase read and how long it took.")
    var verbose = false

    @OptionGroup var imageOptions: ImageOptions

    func run() async throws {
        let platform = try imageOptions.chosenPlatform()
        var settings = ScanSettings()
        if let policy {
            do {
                settings = try PolicyLoader.loadScan(file: URL(fileURLWithPath: policy), displayPath: policy)
            } catch {
                Output.error(error.description)
                throw ExitCode(Exit.badInput)
            }
        }
        if !scanners.isEmpty { settings.scanners = scanners }
        let ignorePath =
            ignoreFile
            ?? settings.ignoreFile.map { file in
                policy.map { (($0 as NSString).deletingLastPathComponent as NSString).appendingPathComponent(file) } ?? file
            }
        let verbose = self.verbose
        let note: @Sendable (String) -> Void = { line in if verbose { Output.note(line) } }
        var started = ContinuousClock.now
        let matcher = try loadAdvisories(needed: settings.scanners.contains(.builtin))
        if let matcher { note("advisories: \(matcher.count) loaded in \(ScanPipeline.seconds(since: started))") }
        let (path, cleanup) = try await imageOptions.localImage(image)
        defer { cleanup() }
        let analysis: CataloguedImage
        started = ContinuousClock.now
        do {
            analysis = try CataloguedImage.read(path: path, limits: imageOptions.limits, platform: platform)
        } catch {
            Output.error(error.description)
            throw ExitCode(Exit.badInput)
        }
        note("image: read and catalogued in \(ScanPipeline.seconds(since: started)): \(analysis.catalog.packages.count) packages")
        var pipeline = ScanPipeline(
            settings: settings, advisories: matcher, ignoreFile: ignorePath,
            scratch: URL(fileURLWithPath: imageOptions.state).appendingPathComponent("tmp"))
        pipeline.note = note
        let report: ScanReport
        do {
            report = try await pipeline.scan(analysis, path: path, name: image)
        } catch {
            Output.error(error.description)
            throw ExitCode(Exit.badInput)
        }
        try Output.emit(ScanReportWriter.render(report, as: format, version: Harden.version), to: output)
        if !report.passed { throw ExitCode(Exit.failure) }
    }

    private func loadAdvisories(needed: Bool) throws -> AdvisoryMatcher? {
        guard needed else { return nil }
        guard let matcher = try Advisories.load(advisories, state: imageOptions.state) else {
            Output.error(
                "the builtin scanner needs advisories: run `harden advisories sync` (or `harden advisories import PATH…`), "
                    + "or pass --advisories (a database, an OSV zip or a folder of OSV JSON files) or set HARDEN_ADVISORIES")
            throw ExitCode(Exit.badInput)
        }
        return matcher
    }
}

extension ScanSettings.Scanner: ExpressibleByArgument {}
extension ScanReportWriter.Format: ExpressibleByArgument {}
