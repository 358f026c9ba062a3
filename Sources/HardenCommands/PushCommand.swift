import ArgumentParser
import Foundation
import HardenBuild
import HardenHistory
import HardenPublish
import HardenRegistry

/// `harden push SOURCE DEST`: an image leaves the machine with the digest harden computed.
struct PushCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Push a built image to a registry as itself, so the registry stores it under harden's digest.",
        discussion: """
            SOURCE is a recipe name (its last successful build's OCI layout) or an OCI layout directory; \
            DEST is registry/repository:tag. Blobs the registry already has are not sent again; the \
            manifest is sent as the layout's exact bytes and the digest the registry reports must be \
            harden's. Logins come from the docker config file. Plain HTTP only for loopback registries \
            and those given with --insecure-registry. \
            Exit status: 0 pushed; 2 bad input, or a registry that refused or failed: the tag is not \
            moved then, except when the registry stored the manifest under another digest than harden's \
            (the error says so).
            """)

    @Argument(help: "A recipe name, or an OCI layout directory.")
    var source: String

    @Argument(help: "Where to push: registry/repository:tag.")
    var destination: String

    @Option(name: .long, help: "A registry reached over plain HTTP (besides localhost and 127.0.0.0/8); repeatable.")
    var insecureRegistry: [String] = []

    @Option(name: .long, help: "harden's state directory (for a recipe name).")
    var state: String = ".harden"

    @Option(name: .long, help: "Output format: text or json.")
    var format: OutputFormat = .text

    func run() async throws {
        let result: PushResult
        let history: BuildStore?
        let reference: ImageReference
        let build: BuildRecord?
        do {
            reference = try ImageReference(parsing: destination)
            // The reference grammar reads a name without a tag as :latest; a push names its tag.
            let name = destination.split(separator: "/").last.map(String.init) ?? destination
            guard reference.digest == nil, name.contains(":") else {
                throw PushError(
                    "\(destination): name the tag to push to, and no digest", hint: "write it as registry/repository:tag")
            }
            history = try openHistory()
            let layout: String
            (layout, build) = try await resolveSource(history)
            let image = try LayoutImage.read(layout)
            // Repositories of that registry harden pushed to before may hold the blobs: mounted, not sent.
            var seen: Set<String> = []
            let earlier = ((try? await history?.pushes(registry: reference.registry)) ?? []).map(\.repository)
                .filter { seen.insert($0).inserted }
            let client = RegistryClient(credentials: try DockerCredentials.load(), insecureRegistries: Set(insecureRegistry))
            result = try await ImagePush.push(image, to: reference, client: client, mountFrom: earlier) { Output.note($0) }
        } catch let error as PushError {
            Output.error(error.description)
            throw ExitCode(Exit.badInput)
        } catch let error as RegistryError {
            Output.error(error.description)
            throw ExitCode(Exit.badInput)
        }
        if let history {
            let push = PushRecord(
                build: build?.id, recipe: build?.recipe, registry: reference.registry, repository: reference.repository,
                tag: reference.tag ?? "", digest: result.manifestDigest, pushedAt: Date())
            do {
                try await history.recordPush(push)
            } catch {
                Output.note("harden: pushed, but the build history could not record it: \(error.description)")
            }
        }
        switch format {
        case .text:
            print("pushed \(result.destination)@\(result.manifestDigest)")
            print(
                "  blobs: \(result.blobsSent) sent (\(result.bytesSent) bytes), \(result.blobsMounted) mounted from "
                    + "another repository, \(result.blobsPresent) already there")
        case .json:
            print(Output.json(result))
        }
    }

    /// The state directory's history, when it has one.
    private func openHistory() throws(PushError) -> BuildStore? {
        let directory = StateDirectory(root: URL(fileURLWithPath: state))
        guard FileManager.default.fileExists(atPath: directory.database.path) else { return nil }
        do {
            return try BuildStore(path: directory.database.path)
        } catch {
            throw PushError("cannot open the build history: \(error.description)")
        }
    }

    /// The layout directory SOURCE names: itself, or the last successful build of that recipe.
    private func resolveSource(_ history: BuildStore?) async throws(PushError) -> (layout: String, build: BuildRecord?) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory), isDirectory.boolValue {
            return (source, nil)
        }
        guard let history else {
            throw PushError(
                "\(source): no such OCI layout, and no build history in \(state) to find a recipe of that name in",
                hint: "run harden build \(source) first, or pass --state")
        }
        guard let record = try? await history.latestSucceeded()[source], let image = record.runtimeImage else {
            throw PushError(
                "\(source): no such OCI layout, and no successful build of a recipe of that name in \(state)",
                hint: "run harden build \(source) first")
        }
        let layout = StateDirectory(root: URL(fileURLWithPath: state)).imageLayout(recipe: source, imageID: image).path
        return (layout, record)
    }
}
