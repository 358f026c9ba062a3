import ArgumentParser
import Foundation
import HardenImage

struct DiffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Show what differs between two images: config, files of the final filesystem, and each layer.",
        discussion: """
            Each IMAGE is a docker-archive, an OCI layout directory, an OCI archive or a local image \
            reference. Both are read once, at the same time; file contents are compared by sha256. \
            --semantic ignores timestamps (file mtimes, config and history created) and the order of \
            a layer's entries. Exit status: 0 identical; 1 different; 2 an image could not be read.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    @Argument(help: "The first image (A): a file, a directory, or an image reference.")
    var imageA: String

    @Argument(help: "The second image (B).")
    var imageB: String

    @Flag(name: .long, help: "Ignore timestamps and entry order.")
    var semantic = false

    @Option(name: .long, help: "text or json")
    var format: Format = .text

    @OptionGroup var imageOptions: ImageOptions

    func run() async throws {
        let reader = ImageReader(
            limits: imageOptions.limits, platform: try imageOptions.chosenPlatform(), hashContents: true, keepsLayers: true)
        let (pathA, cleanupA) = try await imageOptions.localImage(imageA)
        defer { cleanupA() }
        let (pathB, cleanupB) = try await imageOptions.localImage(imageB)
        defer { cleanupB() }
        let results = reader.read([pathA, pathB])
        var contents: [ImageContents] = []
        for result in results {
            switch result {
            case .success(let image): contents.append(image)
            case .failure(let error): Output.error(error.description)
            }
        }
        guard contents.count == 2 else { throw ExitCode(Exit.badInput) }
        var diff = ImageDiff(contents[0], contents[1], semantic: semantic)
        diff.a.image = imageA
        diff.b.image = imageB
        print(format == .json ? Output.json(diff) : DiffText(diff: diff).render())
        if !diff.identical { throw ExitCode(Exit.failure) }
    }
}
