import ArgumentParser
import Foundation
import HardenBuild
import HardenHistory
import HardenImage
import HardenScan

/// `harden vex IMAGE|RECIPE`: what the policy gate decided, as an OpenVEX document.
struct VexCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vex",
        abstract: "Write what the policy gate decided about an image's vulnerabilities as an OpenVEX 0.2.0 document.",
        discussion: """
            A recipe name takes its last successful build's scan report from the history in --state (and \
            the build's finish time as the document's); any other argument is an image, scanned as harden scan does (its time is \
            SOURCE_DATE_EPOCH, else the image's creation time). Ignored findings become not_affected, \
            with the ignore's reason as impact_statement and its justification (scan.ignores[].justification); \
            an ignore with neither is left out and said on stderr. Other findings become affected, with \
            the update to make. Vulnerabilities of the build before (a recipe's previous successful build, \
            or --previous) that are gone become fixed. Statements name the image by manifest digest \
            (pkg:oci/NAME@sha256%3A…) and by image ID (pkg:docker/…), whichever is known, and the package \
            by its purl. The same input gives the same bytes. No findings and nothing fixed: nothing is \
            written (OpenVEX needs a statement). \
            Exit status: 0 written, or nothing to state; 2 bad input, or a recipe without a scanned build.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case json }

    @Argument(
        help:
            "A recipe name (its last successful build), or an image: a docker-archive, an OCI layout or archive, or an image reference."
    )
    var image: String

    @Option(name: .long, help: "Who makes the statements: a name or an e-mail address.")
    var author = "harden"

    @Option(
        name: .long,
        help: "For an image: the JSON scan report of the image before it (harden scan --format json), for fixed statements.")
    var previous: String?

    @Option(name: .long, help: "json (OpenVEX 0.2.0)")
    var format: Format = .json

    @Option(name: .long, help: "Write the document to this file instead of standard output (whole, or not at all).")
    var output: String?

    @Option(name: .long, help: HistoryLocation.help)
    var history: String?

    @OptionGroup var scanOptions: ScanOptions

    @OptionGroup var imageOptions: ImageOptions

    func run() async throws {
        let report: ScanReport
        let product: ImageIdentity
        let timestamp: Date
        var earlier: [Vulnerability] = []
        if let recipe = try await recipeBuilds() {
            guard !scanOptions.given, previous == nil else {
                Output.error(
                    "\(image) is a recipe: its last build's scan report is used as it is, so --scanner, --advisories, --policy, "
                        + "--ignore-file, --vex and --previous do not apply (change the recipe's scan: section and run harden build \(image))"
                )
                throw ExitCode(Exit.badInput)
            }
            (report, product, timestamp, earlier) = try recipeReports(recipe)
        } else {
            let scanned = try await scanOptions.scan(image, imageOptions: imageOptions)
            report = scanned.report
            product = report.subject ?? ImageIdentity(scanned.image.contents.image, name: image)
            timestamp = SbomCommand.created(scanned.image.contents.image.config)
            if let previous { earlier = try findings(previous).map(\.vulnerability) }
        }
        for finding in OpenVEX.unstated(in: report) {
            Output.note(
                "harden: \(finding.vulnerability.primaryID) in \(finding.vulnerability.package) is ignored by "
                    + "\(finding.ignoredBy ?? "an ignore") without a reason: left out (give the ignore a reason, "
                    + "or a justification in scan.ignores)")
        }
        guard
            let data = OpenVEX.document(
                for: report, product: product, author: author, timestamp: timestamp, previous: earlier,
                tooling: "harden \(Harden.version)")
        else {
            Output.note(
                "harden: \(report.image) has no findings and nothing was fixed since the build before: nothing to state, "
                    + "no document written (OpenVEX needs at least one statement)")
            return
        }
        try Output.emit(String(decoding: data, as: UTF8.self), to: output)
        if let document = try? JSONDecoder().decode(OpenVEX.Document.self, from: data) {
            let counts = Dictionary(grouping: document.statements, by: \.status).mapValues(\.count)
            Output.note(
                "harden: \(document.statements.count) statement\(document.statements.count == 1 ? "" : "s") ("
                    + OpenVEX.Status.allCases.compactMap { status in counts[status].map { "\($0) \(status.rawValue)" } }
                    .joined(separator: ", ") + ") about \(product.ociPURL ?? product.dockerPURL ?? product.name)")
        }
    }

    /// The recipe's recent builds when `image` names a recipe: one with builds in the history,
    /// or a Recipes/NAME.yaml. Nil when it is a file, or no recipe has that name.
    private func recipeBuilds() async throws -> RecentAttempts? {
        if FileManager.default.fileExists(atPath: image) { return nil }
        let state = StateDirectory(root: URL(fileURLWithPath: imageOptions.state))
        var attempts: RecentAttempts?
        if let store = try await HistoryLocation.openOrExit(history, state: state, onlyIfPresent: true) {
            do {
                attempts = try await store.attempts()[image]
            } catch {
                Output.error("cannot read the build history: \(error.description)")
                throw ExitCode(Exit.badInput)
            }
        }
        let recipeFile = ["yaml", "yml"].contains { FileManager.default.fileExists(atPath: "Recipes/\(image).\($0)") }
        guard attempts != nil || recipeFile else { return nil }
        return attempts ?? RecentAttempts()
    }

    /// The last successful build's report, the image it is about and when it finished, and the
    /// findings of the successful build before it.
    private func recipeReports(_ builds: RecentAttempts) throws -> (ScanReport, ImageIdentity, Date, [Vulnerability]) {
        guard let last = builds.lastSucceeded else {
            Output.error("\(image): no successful build in \(imageOptions.state): run harden build \(image) first")
            throw ExitCode(Exit.badInput)
        }
        guard let path = last.scanReport else {
            Output.error(
                "\(image): build \(last.id ?? 0) kept no scan report (no scanner ran: the builtin one needs advisories): "
                    + "run harden advisories sync, then harden build \(image) --force")
            throw ExitCode(Exit.badInput)
        }
        let report: ScanReport
        do {
            report = try ScanReport.read(path: path)
        } catch {
            Output.error(
                "\(path): the scan report of build \(last.id ?? 0) cannot be read (\(error)): run harden build \(image) --force")
            throw ExitCode(Exit.badInput)
        }
        var product = report.subject ?? ImageIdentity(reference: report.image)
        product.imageID = last.runtimeImage ?? product.imageID
        if let imageID = last.runtimeImage {
            product.manifestDigest =
                Self.manifestDigest(
                    layout: StateDirectory(root: URL(fileURLWithPath: imageOptions.state)).imageLayout(
                        recipe: image, imageID: imageID))
                ?? product.manifestDigest
        }
        var earlier: [Vulnerability] = []
        if let before = builds.previousSucceeded {
            if let path = before.scanReport, let kept = try? Self.readFindings(path) {
                earlier = kept.map(\.vulnerability)
            } else {
                Output.note("harden: build \(before.id ?? 0) of \(image) kept no readable scan report: no fixed statements")
            }
        }
        return (report, product, last.finishedAt ?? last.startedAt, earlier)
    }

    /// The manifest digest of the one image in an OCI layout harden wrote.
    static func manifestDigest(layout: URL) -> String? {
        guard let data = FileManager.default.contents(atPath: layout.appendingPathComponent("index.json").path),
            let index = try? JSONDecoder().decode(ImageIndex.self, from: data), index.manifests.count == 1
        else { return nil }
        return index.manifests[0].digest.description
    }

    /// The findings of a JSON scan report (of any harden version).
    static func readFindings(_ path: String) throws -> [JudgedFinding] {
        struct Findings: Decodable { var findings: [JudgedFinding] }
        return try JSONDecoder().decode(Findings.self, from: Data(contentsOf: URL(fileURLWithPath: path))).findings
    }

    /// The findings of a JSON scan report; exits 2 when it is not one.
    private func findings(_ path: String) throws -> [JudgedFinding] {
        do {
            return try Self.readFindings(path)
        } catch {
            Output.error("\(path): not a JSON scan report (\(error)); write one with harden scan IMAGE --format json")
            throw ExitCode(Exit.badInput)
        }
    }
}
