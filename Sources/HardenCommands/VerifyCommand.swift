import ArgumentParser
import Foundation
import HardenBuild
import HardenImage
import HardenRecipe
import HardenVerify

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Prove that an image has no shell, no package manager, no root user and more.",
        discussion: """
            IMAGE is a docker-archive (docker save), an OCI image layout directory, an OCI archive, \
            or a local image reference (saved through the engine). The image is read in memory; \
            every digest is checked. Exit status: 0 pass; 1 violations; 2 unreadable or invalid image, bad policy.
            """)

    @Argument(help: "The image: a file, a directory, or an image reference.")
    var image: String

    @Option(name: .long, help: "A policy file (YAML, the keys of a recipe's policy: section).")
    var policy: String?

    @Option(name: .long, help: "text, json, sarif or junit")
    var format: ReportWriter.Format = .text

    @OptionGroup var imageOptions: ImageOptions

    func run() async throws {
        let platform = try imageOptions.chosenPlatform()
        var rules = Policy()
        if let policy {
            do {
                rules = try PolicyLoader.load(file: URL(fileURLWithPath: policy), displayPath: policy)
            } catch {
                Output.error(error.description)
                throw ExitCode(Exit.badInput)
            }
        }
        let (path, cleanup) = try await imageOptions.localImage(image)
        defer { cleanup() }
        let report: VerifyReport
        do {
            report = try Verifier(policy: rules).verify(path: path, limits: imageOptions.limits, platform: platform)
        } catch {
            Output.error(error.description)
            throw ExitCode(Exit.badInput)
        }
        print(ReportWriter.render(report, as: format, version: Harden.version))
        if !report.passed { throw ExitCode(Exit.failure) }
    }
}

extension ReportWriter.Format: ExpressibleByArgument {}
