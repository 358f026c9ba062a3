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

    @Option(name: .long, help: "The platform to pick from a multi-platform index, os/arch[/variant] (default: this machine's).")
    var platform: String?

    @Option(name: .long, help: "text, json, sarif or junit")
    var format: ReportWriter.Format = .text

    @Option(name: .long, help: "Stop above this many uncompressed bytes over all layers.")
    var maxBytes: Int64 = ImageLimits().totalBytes

    @Option(name: .long, help: "Stop above this many entries in one layer.")
    var maxEntries: Int = ImageLimits().entries

    @Option(name: .long, help: "Refuse entry names longer than this many bytes.")
    var maxPathLength: Int = ImageLimits().pathLength

    @Option(name: .long, help: "Follow at most this many symbolic links when resolving one path.")
    var maxSymlinkHops: Int = ImageLimits().symlinkHops

    @Option(name: .long, help: "harden's state directory (where an image reference is saved while it is read).")
    var state: String = ".harden"

    @Option(name: .long, help: "The docker client to run (default: $HARDEN_DOCKER, else docker on PATH).")
    var docker: String?

    func run() async throws {
        var limits = ImageLimits()
        limits.totalBytes = maxBytes
        limits.entries = maxEntries
        limits.pathLength = maxPathLength
        limits.symlinkHops = maxSymlinkHops
        let chosenPlatform: Platform
        if let platform {
            guard let parsed = Platform(platform) else {
                Output.error("--platform '\(platform)' is not os/arch[/variant], e.g. linux/amd64")
                throw ExitCode(Exit.badInput)
            }
            chosenPlatform = parsed
        } else {
            chosenPlatform = .current
        }
        var rules = Policy()
        if let policy {
            do {
                rules = try PolicyLoader.load(file: URL(fileURLWithPath: policy), displayPath: policy)
            } catch {
                Output.error(error.description)
                throw ExitCode(Exit.badInput)
            }
        }
        let (path, cleanup) = try await localImage()
        defer { cleanup() }
        let report: VerifyReport
        do {
            report = try Verifier(policy: rules).verify(path: path, limits: limits, platform: chosenPlatform)
        } catch {
            Output.error(error.description)
            throw ExitCode(Exit.badInput)
        }
        print(ReportWriter.render(report, as: format, version: Harden.version))
        if !report.passed { throw ExitCode(Exit.failure) }
    }

    /// The image as a path: itself when it exists, else saved from the engine into the state directory.
    private func localImage() async throws -> (String, () -> Void) {
        if FileManager.default.fileExists(atPath: image) { return (image, {}) }
        let directory = URL(fileURLWithPath: state).appendingPathComponent("tmp")
        let archive = directory.appendingPathComponent("verify-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).tar").path
        let client = DockerClient(executable: docker ?? ProcessInfo.processInfo.environment["HARDEN_DOCKER"] ?? "docker")
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            FileHandle.standardError.write(Data("harden: saving \(image) from the engine\n".utf8))
            try await client.save(image, to: archive)
        } catch let error as DockerError {
            Output.error("\(image) is neither a file nor a directory, and the engine could not save it: \(error.description)")
            throw ExitCode(Exit.badInput)
        } catch {
            Output.error("cannot prepare \(directory.path): \(error.localizedDescription)")
            throw ExitCode(Exit.badInput)
        }
        return (archive, { try? FileManager.default.removeItem(atPath: archive) })
    }
}

extension ReportWriter.Format: ExpressibleByArgument {}
