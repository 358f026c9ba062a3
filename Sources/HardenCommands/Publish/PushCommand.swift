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
            SOURCE is a recipe name (its last successful build's OCI layout), an OCI layout directory, \
            an OCI archive or a docker-archive; DEST is registry/repository:tag. Blobs the registry \
            already has are not sent again; blobs over 128 MiB go up in chunks. The manifest is sent as \
            its exact bytes (a classic docker-archive has none: harden writes one naming its config \
            and layers as they are) and the digest the registry reports must be harden's. Logins come from the docker config file. Plain HTTP only for loopback registries \
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

    @Argument(help: "A recipe name, an OCI layout directory, an OCI archive or a docker-archive.")
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

    @Option(name: .long, help: HistoryLocation.help)
    var history: String?

    @Option(name: .long, help: "Output format: text or json.")
    var format: OutputFormat = .text

    func run() async throws {
        let directory = StateDirectory(root: URL(fileURLWithPath: state))
        let result: PushResult
        do {
            let kinds = try PushAttestations.kinds(attest)
            if signKey == nil, !kinds.isEmpty || legacySig {
                throw PushError("--attest and --legacy-sig sign: they need --sign-key", hint: "pass --sign-key harden.key")
            }
            // A key that cannot sign stops the push before anything is sent.
            let signing = try signKey.map { path throws(SigningKeyError) in
                Publishing.Signing(key: try SigningKeys.loadPrivate(path), attest: kinds, legacy: legacySig)
            }
            let history = try await Publishing.openHistory(self.history, directory)
            let (layout, build) = try await resolveSource(history, directory)
            let publishing = Publishing(directory: directory, history: history, insecureRegistries: insecureRegistry)
            result = try await publishing.publish(layout: layout, build: build, to: destination, signing: signing)
        } catch let error as PushError {
            Output.error(error.description)
            throw ExitCode(Exit.badInput)
        } catch let error as SigningKeyError {
            Output.error(error.description)
            throw ExitCode(Exit.badInput)
        }
        switch format {
        case .text: Publishing.describe(result).forEach { print($0) }
        case .json: print(Output.json(result))
        }
    }

    /// The image SOURCE names: a path as it is, or the OCI layout of that recipe's last successful build.
    private func resolveSource(
        _ history: (any HistoryStore)?, _ directory: StateDirectory
    ) async throws(PushError) -> (layout: String, build: BuildRecord?) {
        if source.contains("/") || FileManager.default.fileExists(atPath: source) { return (source, nil) }
        guard let history else {
            throw PushError(
                "\(source): no such OCI layout, and no build history in \(state) to find a recipe of that name in",
                hint: "run harden build \(source) first, or pass --state")
        }
        guard let record = try? await history.latestSucceeded()[source], let image = record.runtimeImage else {
            throw PushError(
                "\(source): no such OCI layout, and no successful build of a recipe of that name in \(history.location)",
                hint: "run harden build \(source) first")
        }
        return (directory.imageLayout(recipe: source, imageID: image).path, record)
    }
}
