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
            .trivyignore or .trivyignore.yaml, the policy file's ignores (each with a reason and an \
            optional last day), and OpenVEX documents (--vex): a not_affected or fixed statement about \
            this image (by digest or purl) or one of its packages accepts the finding like an ignore; \
            of several statements about one finding the newest decides. Statements that matched \
            nothing are listed as stale, those older than --vex-max-age as expired. \
            Exit status: 0 pass; 1 the gate failed; 2 bad input or a scanner that could not run.
            """)

    @Argument(help: "The image: a docker-archive, an OCI layout or archive, or an image reference.")
    var image: String

    @OptionGroup var scanOptions: ScanOptions

    @Option(name: .long, help: "text, json or sarif")
    var format: ScanReportWriter.Format = .text

    @Option(name: .long, help: "Write the report to this file instead of standard output.")
    var output: String?

    @OptionGroup var imageOptions: ImageOptions

    func run() async throws {
        let (report, _) = try await scanOptions.scan(image, imageOptions: imageOptions)
        try Output.emit(ScanReportWriter.render(report, as: format, version: Harden.version), to: output)
        if !report.passed { throw ExitCode(Exit.failure) }
    }
}

/// What every command that scans an image shares: the scanners, the advisories and the gate.
struct ScanOptions: ParsableArguments {
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

    @Option(name: .customLong("vex"), help: "An OpenVEX document whose statements the gate applies; repeatable.")
    var vexFiles: [String] = []

    @Option(name: .long, help: "VEX statements known true more than this many days ago expire and no longer apply.")
    var vexMaxAge: Int?

    @Flag(name: .long, help: "Say on stderr what each phase read and how long it took.")
    var verbose = false

    func validate() throws {
        if let vexMaxAge, vexMaxAge < 1 { throw ValidationError("--vex-max-age must be a whole number of days, at least 1") }
    }

    /// Whether any option that decides how an image is scanned was given.
    var given: Bool { !scanners.isEmpty || advisories != nil || policy != nil || ignoreFile != nil || !vexFiles.isEmpty }

    /// Scans `image` as `harden scan` does; prints what is wrong and exits 2 on bad input.
    func scan(_ image: String, imageOptions: ImageOptions) async throws -> (report: ScanReport, image: CataloguedImage) {
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
        let vex: [VEXStatement]
        do {
            vex = try OpenVEX.load(vexFiles)
        } catch {
            Output.error(error.description)
            throw ExitCode(Exit.badInput)
        }
        let verbose = self.verbose
        let note: @Sendable (String) -> Void = { line in if verbose { Output.note(line) } }
        var started = ContinuousClock.now
        let matcher = try loadAdvisories(needed: settings.scanners.contains(.builtin), state: imageOptions.state)
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
        pipeline.vex = vex
        pipeline.vexNotBefore = vexMaxAge.map { Date().addingTimeInterval(-Double($0) * 86_400) }
        do {
            return (try await pipeline.scan(analysis, path: path, name: image), analysis)
        } catch {
            Output.error(error.description)
            throw ExitCode(Exit.badInput)
        }
    }

    private func loadAdvisories(needed: Bool, state: String) throws -> AdvisoryMatcher? {
        guard needed else { return nil }
        guard let matcher = try Advisories.load(advisories, state: state) else {
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
