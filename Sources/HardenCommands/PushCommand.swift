import ArgumentParser
import Foundation
import HardenBuild
import HardenHistory
import HardenPublish
import HardenRegistry
import HardenSigning

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
            With --sign-key the pushed digest is signed as cosign 3 signs (a Sigstore bundle attached as \
            an OCI referrer, or listed in the sha256-<hex> tag index where the registry has no referrers \
            API), and --attest adds signed in-toto attestations: sbom (CycloneDX and SPDX), provenance \
            (SLSA v1, from the build record) and vex (OpenVEX, from the build's scan). What the same key \
            already signed for that digest is not signed again. --legacy-sig also writes cosign 2's \
            sha256-<hex>.sig and .att tags. \
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

    @Option(name: .long, help: "Sign with this ECDSA P-256 private key (a PEM file, or env:NAME for a variable holding it).")
    var signKey: String?

    @Option(name: .long, help: "Attest sbom, provenance, vex (comma-separated or repeated); needs --sign-key.")
    var attest: [String] = []

    @Flag(name: .long, help: "Also write cosign 2's sha256-<hex>.sig and .att tags.")
    var legacySig = false

    @Option(name: .long, help: "harden's state directory (for a recipe name).")
    var state: String = ".harden"

    @Option(name: .long, help: "Output format: text or json.")
    var format: OutputFormat = .text

    func run() async throws {
        var result: PushResult
        let history: BuildStore?
        let reference: ImageReference
        let build: BuildRecord?
        let directory = StateDirectory(root: URL(fileURLWithPath: state))
        do {
            let kinds = try PushAttestations.kinds(attest)
            if signKey == nil, !kinds.isEmpty || legacySig {
                throw PushError("--attest and --legacy-sig sign: they need --sign-key", hint: "pass --sign-key harden.key")
            }
            // A key that cannot sign stops the push before anything is sent.
            let key: SigningKey? = try signKey.map(SigningKeys.loadPrivate)
            reference = try ImageReference(parsing: destination)
            // The reference grammar reads a name without a tag as :latest; a push names its tag.
            let name = destination.split(separator: "/").last.map(String.init) ?? destination
            guard reference.digest == nil, name.contains(":") else {
                throw PushError(
                    "\(destination): name the tag to push to, and no digest", hint: "write it as registry/repository:tag")
            }
            history = try openHistory(directory)
            let layout: String
            (layout, build) = try await resolveSource(history, directory)
            let image = try LayoutImage.read(layout)
            let attestations = try PushAttestations.make(
                kinds, layout: layout, build: build, repository: reference.name, vex: nil)
            // Repositories of that registry harden pushed to before may hold the blobs: mounted, not sent.
            var seen: Set<String> = []
            let earlier = ((try? await history?.pushes(registry: reference.registry)) ?? []).map(\.repository)
                .filter { seen.insert($0).inserted }
            let client = RegistryClient(credentials: try DockerCredentials.load(), insecureRegistries: Set(insecureRegistry))
            result = try await ImagePush.push(image, to: reference, client: client, mountFrom: earlier) { Output.note($0) }
            if let key {
                let subject = Referrer(mediaType: image.mediaType, digest: image.digest, size: Int64(image.manifest.count))
                do throws(PushError) {
                    result.signatures = try await ImageSigning.sign(
                        subject, in: reference, key: key, attestations: attestations, legacy: legacySig, client: client
                    ) { Output.note($0) }
                } catch {
                    // The push is not recorded: a signed push was asked for, and it is not complete.
                    throw PushError(
                        error.message,
                        hint: "\(reference) now holds the image \(image.digest) without all of its signatures; "
                            + "run the same push again: present blobs are not sent again and what is signed is kept")
                }
            }
        } catch let error as PushError {
            Output.error(error.description)
            throw ExitCode(Exit.badInput)
        } catch let error as RegistryError {
            Output.error(error.description)
            throw ExitCode(Exit.badInput)
        } catch let error as SigningKeyError {
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
            for signature in result.signatures ?? [] {
                let how = signature.alreadyThere ? "already signed by this key" : "attached (\(signature.source))"
                let legacy = signature.legacyTag.map { ", tag \($0)" } ?? ""
                print("  \(signature.name): \(signature.predicateType) \(how)\(legacy)")
            }
        case .json:
            print(Output.json(result))
        }
    }

    /// The state directory's history, when it has one.
    private func openHistory(_ directory: StateDirectory) throws(PushError) -> BuildStore? {
        guard FileManager.default.fileExists(atPath: directory.database.path) else { return nil }
        do {
            return try BuildStore(path: directory.database.path)
        } catch {
            throw PushError("cannot open the build history: \(error.description)")
        }
    }

    /// The layout directory SOURCE names: itself, or the last successful build of that recipe.
    private func resolveSource(
        _ history: BuildStore?, _ directory: StateDirectory
    ) async throws(PushError) -> (layout: String, build: BuildRecord?) {
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
        let layout = directory.imageLayout(recipe: source, imageID: image).path
        return (layout, record)
    }
}
