import ArgumentParser
import Foundation
import HardenArchive
import HardenBuild
import HardenImage
import HardenPlan

/// `harden normalize`: rewrites an image into its reproducible form.
struct NormalizeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "normalize",
        abstract: "Rewrite an image reproducibly: canonical layers, times at SOURCE_DATE_EPOCH, digests recomputed.",
        discussion: """
            Writes an OCI image layout to --output (replaced whole) and, with --docker-archive, \
            a tar for `docker load`. Prints the manifest and config digests.
            """)

    @Argument(help: "A docker-archive, OCI layout or OCI archive, or an image the engine has.")
    var image: String

    @Option(name: .long, help: "The OCI image layout directory to write.")
    var output: String

    @Option(name: .long, help: "Seconds since 1970 for every time in the image (default: $SOURCE_DATE_EPOCH, else 0).")
    var sourceDateEpoch: Int64?

    @Option(name: .long, help: "Also write a docker-archive here, for docker load.")
    var dockerArchive: String?

    @Option(name: .long, help: "The tag the docker-archive (and the layout's ref name) carries.")
    var tag: String?

    @Option(name: .long, help: "How the layout's layers are compressed: gzip, zstd or none.")
    var compression: ArchiveWriter.Compression = .gzip

    @Option(name: .long, help: "The gzip level, 1 (fastest) to 12 (smallest).")
    var gzipLevel: Int = ImageWriter.gzipLevel

    @OptionGroup var imageOptions: ImageOptions

    func validate() throws {
        guard (1...12).contains(gzipLevel) else { throw ValidationError("--gzip-level must be from 1 to 12") }
    }

    func run() async throws {
        let epoch: Int64
        if let given = sourceDateEpoch {
            epoch = given
        } else {
            do throws(BuildError) {
                epoch = try SourceDateEpoch.fromEnvironment(ProcessInfo.processInfo.environment) ?? 0
            } catch {
                Output.error(error.description)
                throw ExitCode(Exit.badInput)
            }
        }
        let platform = try imageOptions.chosenPlatform()
        let (path, cleanup) = try await imageOptions.localImage(image)
        defer { cleanup() }
        let normalizer = ImageNormalizer(
            sourceDateEpoch: epoch, limits: imageOptions.limits, platform: platform, compression: compression,
            gzipLevel: gzipLevel)
        let started = Date()
        let result: NormalizedImage
        do {
            result = try normalizer.normalize(
                path, layout: URL(fileURLWithPath: output), dockerArchive: dockerArchive.map { URL(fileURLWithPath: $0) },
                tag: tag)
        } catch {
            Output.error(error.description)
            throw ExitCode(Exit.badInput)
        }
        let seconds = Date().timeIntervalSince(started)
        let megabytes = Double(result.bytesProcessed) / 1_000_000
        print("manifest \(result.manifestDigest)")
        print("config \(result.configDigest)")
        print(String(format: "%.1f MB of layers in %.2f s (%.0f MB/s)", megabytes, seconds, megabytes / max(seconds, 0.001)))
    }
}

extension ArchiveWriter.Compression: ExpressibleByArgument {}
