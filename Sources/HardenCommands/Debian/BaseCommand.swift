import ArgumentParser
import Foundation
import HardenArchive
import HardenBuild
import HardenDebian
import HardenEngine
import HardenImage
import HardenPlan

struct BaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "base",
        abstract: "Assemble a recipe's Debian base from its lock into an image file, without an engine.",
        discussion: """
            The locked packages are fetched (or taken from the state directory's cache), each checked against \
            its SHA256, and unpacked in process with no maintainer script. The image is what `harden build` \
            loads as the runtime's base, byte for byte.
            Exit status: 0 written; 2 bad recipe, missing or stale lock, or a package that cannot be fetched.
            """)

    @OptionGroup var project: ProjectOptions

    @Option(name: .long, help: "Write a docker-archive (docker load) here.")
    var output: String?

    @Option(name: .long, help: "Write an OCI image layout here.")
    var layout: String?

    func validate() throws {
        guard output != nil || layout != nil else { throw ValidationError("name --output FILE, --layout DIR or both") }
        guard project.recipes.count == 1 else { throw ValidationError("name exactly one recipe") }
    }

    func run() async throws {
        guard let recipe = try project.loadRecipes().first else { throw ExitCode(Exit.badInput) }
        let started = ContinuousClock.now
        do {
            guard let plan = try DebianBases.plan(for: recipe) else {
                Output.error("\(recipe.displayPath): the runtime is an image, not Debian packages (runtime.from.debian)")
                throw ExitCode(Exit.badInput)
            }
            guard let lock = plan.usable, let tag = plan.tag else {
                Output.error(
                    "\(plan.lockFile) is \(plan.lock == nil ? "missing" : "stale"); run harden lock \(recipe.displayPath) first")
                throw ExitCode(Exit.badInput)
            }
            let image = try await DebianBaseBuilder(cache: BlobCache(directory: project.stateDirectory.debianCache)).assemble(
                lock, layout: plan.layout, compression: layout == nil ? .none : .gzip)
            if let output {
                try ImageWriter.writeDockerArchive(
                    config: image.config, layers: image.layers, to: URL(fileURLWithPath: output), tag: tag)
            }
            if let layout {
                try ImageWriter.writeLayout(config: image.config, layers: image.layers, to: URL(fileURLWithPath: layout), refName: tag)
            }
            Output.note(
                "\(recipe.name): \(lock.packages.count) packages assembled into \(image.id)\(image.layers.count == 1 ? "" : " (\(image.layers.count) layers)") in \(BuildProgress.format(ContinuousClock.now - started)) (\(tag))")
            for note in image.scriptNotes { Output.note("  \(note)") }
            for note in image.assembly.written { Output.note("  wrote \(note)") }
            for conflict in image.assembly.conflicts { Output.note("  conflict: \(conflict)") }
            print(image.id)
        } catch let error as DebianError {
            Output.error("\(recipe.displayPath): \(error.description)")
            throw ExitCode(Exit.badInput)
        } catch let error as BuildError {
            Output.error(error.description)
            throw ExitCode(Exit.badInput)
        } catch let error as ImageError {
            Output.error("cannot write the image: \(error.description)")
            throw ExitCode(Exit.badInput)
        }
    }
}
