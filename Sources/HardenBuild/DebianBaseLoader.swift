import Foundation
import HardenDebian
import HardenEngine
import HardenImage
import HardenPlan

/// Makes sure the engine has a recipe's Debian base before its runtime stage is built: the
/// locked packages are fetched (or taken from the state directory's cache), assembled in
/// process and loaded under the lock's tag.
struct DebianBaseLoader: Sendable {
    var docker: DockerClient
    var state: StateDirectory
    var progress: BuildProgress

    func ensure(_ plan: BuildPlan) async throws(BuildError) {
        guard let debian = plan.debianBase else { return }
        guard let lock = debian.usable, let tag = debian.tag else {
            throw BuildError(
                .input, "\(debian.lockFile) is \(debian.lock == nil ? "missing" : "stale")",
                hint: "run harden lock on the recipe, then build again")
        }
        if let present = try? await docker.inspect([tag])[tag] {
            progress.note("\(plan.recipe) base: \(tag) is in the engine (\(Planner.short(present.id)))")
            return
        }
        let started = ContinuousClock.now
        let image: DebianBaseImage
        do {
            image = try await DebianBaseBuilder(cache: BlobCache(directory: state.debianCache)).assemble(lock, layout: debian.layout)
        } catch {
            throw BuildError(.failed, "cannot assemble the Debian base of \(plan.recipe): \(error.description)")
        }
        let archive = state.root.appendingPathComponent("bases/.\(plan.recipe)-\(getpid())-\(UUID().uuidString.prefix(8)).tar")
        try state.createDirectory(archive.deletingLastPathComponent())
        defer { try? FileManager.default.removeItem(at: archive) }
        do {
            try ImageWriter.writeDockerArchive(config: image.config, layers: image.layers, to: archive, tag: tag)
        } catch {
            throw BuildError(.failed, "cannot write the Debian base of \(plan.recipe) to \(archive.path): \(error.description)")
        }
        let loaded: [String]
        do {
            loaded = try await docker.load(archive.path)
        } catch {
            throw BuildError(
                error.kind == .interrupted ? .interrupted : .failed, "docker load of the Debian base failed: \(error.description)")
        }
        guard loaded.isEmpty || loaded.contains(image.id.description) else {
            throw BuildError(.failed, "docker load gave \(loaded.joined(separator: ", ")), expected \(image.id)")
        }
        let megabytes = String(format: "%.1f", Double(image.layers.reduce(0) { $0 + $1.data.count }) / 1_048_576)
        let layers = image.layers.count == 1 ? "" : ", \(image.layers.count) layers"
        progress.note(
            "\(plan.recipe) base: assembled \(lock.packages.count) packages into \(Planner.short(image.id.description)) "
                + "(\(megabytes) MB\(layers)) in \(BuildProgress.format(ContinuousClock.now - started)), tagged \(tag)")
        for note in image.scriptNotes { progress.note("\(plan.recipe) base: \(note)") }
        for note in image.assembly.written { progress.note("\(plan.recipe) base: wrote \(note)") }
        for conflict in image.assembly.conflicts { progress.note("\(plan.recipe) base: conflict \(conflict)") }
    }
}
