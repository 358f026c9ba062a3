import ArgumentParser
import Foundation
import HardenBuild
import HardenEngine
import HardenImage

/// Options every command that reads images shares: which platform, the reading limits,
/// and how to get an image that is only known to the engine.
struct ImageOptions: ParsableArguments {
    @Option(name: .long, help: "The platform to pick from a multi-platform index, os/arch[/variant] (default: this machine's).")
    var platform: String?

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

    var limits: ImageLimits {
        var limits = ImageLimits()
        limits.totalBytes = maxBytes
        limits.entries = maxEntries
        limits.pathLength = maxPathLength
        limits.symlinkHops = maxSymlinkHops
        return limits
    }

    /// The platform asked for; exits 2 when it is not os/arch[/variant].
    func chosenPlatform() throws -> Platform {
        guard let platform else { return .current }
        guard let parsed = Platform(platform) else {
            Output.error("--platform '\(platform)' is not os/arch[/variant], e.g. linux/amd64")
            throw ExitCode(Exit.badInput)
        }
        return parsed
    }

    /// The image as a path: itself when it exists, else saved from the engine into the state
    /// directory (removed again by the returned cleanup).
    func localImage(_ image: String) async throws -> (path: String, cleanup: () -> Void) {
        if FileManager.default.fileExists(atPath: image) { return (image, {}) }
        let directory = URL(fileURLWithPath: state).appendingPathComponent("tmp")
        let archive = directory.appendingPathComponent("image-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).tar").path
        let client = DockerClient(executable: docker ?? ProcessInfo.processInfo.environment["HARDEN_DOCKER"] ?? "docker")
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            FileHandle.standardError.write(Data("harden: saving \(image) from the engine\n".utf8))
            try await client.save(image, to: archive)
        } catch let error as DockerError {
            try? FileManager.default.removeItem(atPath: archive)
            Output.error("\(image) is neither a file nor a directory, and the engine could not save it: \(error.description)")
            throw ExitCode(Exit.badInput)
        } catch {
            Output.error("cannot prepare \(directory.path): \(error.localizedDescription)")
            throw ExitCode(Exit.badInput)
        }
        return (archive, { try? FileManager.default.removeItem(atPath: archive) })
    }
}
