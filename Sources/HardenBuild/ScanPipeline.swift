import Foundation
import HardenAdvisories
import HardenEngine
import HardenImage
import HardenPlan
import HardenProcess
import HardenRecipe
import HardenScan

/// Runs the chosen scanners on an analysed image, merges their findings and judges them
/// with one gate built from a recipe's (or a policy file's) `scan:` settings.
public struct ScanPipeline: Sendable {
    public var settings: ScanSettings
    /// OSV advisories for the built-in scanner.
    public var advisories: AdvisoryMatcher?
    /// The ignore file named by `settings.ignoreFile`, resolved to a path.
    public var ignoreFile: String?
    /// Where external scanners write their reports (inside harden's state directory).
    public var scratch: URL
    public var today: String = IgnoreFiles.today()
    /// OpenVEX statements the gate applies (`harden scan --vex`), and the date before which they expire.
    public var vex: [VEXStatement] = []
    public var vexNotBefore: Date?
    public var externalTimeout: Duration = .seconds(600)
    /// Receives one line per scanner run (what it found, how long it took), for `--verbose`.
    public var note: @Sendable (String) -> Void = { _ in }

    public init(settings: ScanSettings, advisories: AdvisoryMatcher?, ignoreFile: String?, scratch: URL) {
        self.settings = settings
        self.advisories = advisories
        self.ignoreFile = ignoreFile
        self.scratch = scratch
    }

    /// The gate: `fail-on`, `ignore-unfixed`, the ignore file's entries and the settings' own ignores.
    public func gate() throws(IgnoreFileError) -> ScanGate {
        var ignores = try ignoreFile.map { path throws(IgnoreFileError) in try IgnoreFiles.load(path) } ?? []
        ignores += settings.ignores.enumerated().map { position, ignore in
            VulnerabilityIgnore(
                id: ignore.id, package: ignore.package, reason: ignore.reason,
                justification: ignore.justification.flatMap { OpenVEX.Justification(rawValue: $0.rawValue) },
                expires: ignore.expires, source: "scan.ignores[\(position)]")
        }
        return ScanGate(
            failOn: Set(settings.failOn.map { Severity(word: $0.rawValue) }), ignoreUnfixed: settings.ignoreUnfixed,
            ignores: ignores, today: today, failOnUnmatched: settings.failOnUnmatched ?? false, vex: vex,
            vexNotBefore: vexNotBefore)
    }

    /// Scans the image at `path` (already read as `analysis`).
    public func scan(_ analysis: CataloguedImage, path: String, name: String) async throws(ScannerError) -> ScanReport {
        let gate: ScanGate
        do {
            gate = try self.gate()
        } catch {
            throw ScannerError(scanner: "policy", message: error.description)
        }
        var lists: [[Vulnerability]] = []
        // What each scanner that ran could not check; a package counts as unchecked only when
        // no scanner checked it.
        var uncheckedBy: [[UnmatchedPackages]] = []
        let (os, inferred) = InferredRelease.resolve(analysis.catalog)
        if let inferred { note("release: \(inferred.os.osvEcosystem ?? inferred.os.id) inferred from \(inferred.evidence)") }
        for scanner in settings.scanners {
            switch scanner {
            case .builtin:
                guard let advisories else {
                    throw ScannerError(
                        scanner: "builtin", message: "no advisories to match against",
                        hint: "run `harden advisories sync` (or `harden advisories import PATH…`), or pass --advisories")
                }
                let started = ContinuousClock.now
                let found: [Vulnerability]
                do {
                    found = try advisories.match(analysis.catalog.packages, os: os)
                } catch {
                    throw ScannerError(scanner: "builtin", message: error.description, hint: error.hint)
                }
                uncheckedBy.append(advisories.unmatched(analysis.catalog.packages, os: os))
                note(
                    "builtin: \(analysis.catalog.packages.count) packages matched against \(advisories.count) advisories "
                        + "in \(Self.seconds(since: started)): \(found.count) findings")
                lists.append(found)
            case .trivy, .grype:
                let started = ContinuousClock.now
                let external = ExternalScanner(tool: scanner == .trivy ? .trivy : .grype, timeout: externalTimeout)
                let outcome = try await external.run(
                    image: path, format: analysis.contents.image.format, diffIDs: analysis.diffIDs, scratch: scratch)
                note("\(scanner.rawValue): ran in \(Self.seconds(since: started)): \(outcome.findings.count) findings")
                lists.append(outcome.findings)
                uncheckedBy.append(
                    outcome.osDetected == false
                        ? UnmatchedPackages.osPackages(
                            analysis.catalog.packages, reason: "\(scanner.rawValue) did not recognise the image's OS release")
                        : [])
            }
        }
        let unmatched = UnmatchedPackages.uncheckedByAll(uncheckedBy)
        var report = gate.judge(
            FindingMerger.merge(lists), image: name, scanners: settings.scanners.map(\.rawValue), unmatched: unmatched,
            subject: ImageIdentity(analysis.contents.image, name: name))
        report.ecosystems = Catalog(os: os, packages: analysis.catalog.packages).osvEcosystems
        report.inferredRelease = inferred.map {
            "\($0.os.osvEcosystem ?? $0.os.id), inferred from \($0.evidence) (the image's os-release does not say)"
        }
        return report
    }

    /// "0.123 s" since `start`.
    public static func seconds(since start: ContinuousClock.Instant) -> String {
        String(format: "%.3f s", (ContinuousClock.now - start).inSeconds)
    }
}
