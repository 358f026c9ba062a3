import ArgumentParser
import Foundation
import HardenBuild
import HardenImage
import HardenScan

struct SbomCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sbom",
        abstract: "List every package in an image as a CycloneDX 1.5 or SPDX 2.3 document.",
        discussion: """
            Packages come from dpkg (status and status.d), apk and Python distributions (dist-info, egg-info), \
            each with a purl and the layer that introduced it. The document is the same for the same image \
            (its time comes from the image, or SOURCE_DATE_EPOCH). Exit status: 0 written; 2 unreadable image.
            """)

    @Argument(help: "The image: a docker-archive, an OCI layout or archive, or an image reference.")
    var image: String

    @Option(name: .long, help: "cyclonedx or spdx")
    var format: SBOMWriter.Format = .cyclonedx

    @Option(name: .long, help: "Write the document to this file instead of standard output.")
    var output: String?

    @OptionGroup var imageOptions: ImageOptions

    func run() async throws {
        let platform = try imageOptions.chosenPlatform()
        let (path, cleanup) = try await imageOptions.localImage(image)
        defer { cleanup() }
        let analysis: CataloguedImage
        do {
            analysis = try CataloguedImage.read(path: path, limits: imageOptions.limits, platform: platform)
        } catch {
            Output.error(error.description)
            throw ExitCode(Exit.badInput)
        }
        var subject = SBOMSubject(analysis.contents.image, created: Self.created(analysis.contents.image.config))
        if !FileManager.default.fileExists(atPath: image) { subject.name = image }
        try Output.emit(
            SBOMWriter.render(analysis.catalog, subject: subject, format: format, toolVersion: Harden.version), to: output)
    }

    /// SOURCE_DATE_EPOCH when set, else the image's own creation time, else the epoch.
    static func created(_ config: ImageConfig) -> Date {
        if let epoch = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"].flatMap(TimeInterval.init) {
            return Date(timeIntervalSince1970: epoch)
        }
        // Seconds are enough: "2024-05-01T10:00:00.123456789Z" → "2024-05-01T10:00:00Z".
        guard let created = config.created, created.count >= 19 else { return Date(timeIntervalSince1970: 0) }
        return ISO8601DateFormatter().date(from: String(created.prefix(19)) + "Z") ?? Date(timeIntervalSince1970: 0)
    }
}

extension SBOMWriter.Format: ExpressibleByArgument {}
