import ArgumentParser
import Foundation
import HardenPublish
import HardenRegistry
import HardenSigning

/// `harden verify-signature REF --key PUB`: is this image signed by this key, and what else is attested.
struct VerifySignatureCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-signature",
        abstract: "Check an image's signatures and attestations in a registry against a public key.",
        discussion: """
            Looks for Sigstore bundles among the image's referrers (the referrers API, else the \
            sha256-<hex> tag index), then for cosign 2's sha256-<hex>.sig and .att tags, and checks each \
            against the image's manifest digest and the key. Exit status: 0 signed by the key (and, with \
            --attestations, attested by it); 1 no valid signature (or attestation); 2 bad input or a \
            registry that could not be reached or read.
            """)

    @Argument(help: "The image: registry/repository:tag or registry/repository@sha256:digest.")
    var reference: String

    @Option(name: .long, help: "The ECDSA P-256 public key (PEM), e.g. harden.pub.")
    var key: String

    @Flag(name: .long, help: "Also require at least one valid attestation, and list them.")
    var attestations = false

    @Option(name: .long, help: "A registry reached over plain HTTP (besides localhost and 127.0.0.0/8); repeatable.")
    var insecureRegistry: [String] = []

    @Option(name: .long, help: "Output format: text or json.")
    var format: OutputFormat = .text

    struct Report: Encodable {
        var image: String
        var digest: String
        var valid: Bool
        var found: [FoundSignature]
    }

    func run() async throws {
        let report: Report
        do {
            let publicKey = try SigningKeys.loadPublic(key)
            let parsed = try ImageReference(parsing: reference)
            let client = RegistryClient(credentials: try DockerCredentials.load(), insecureRegistries: Set(insecureRegistry))
            guard let manifest = try await client.fetchManifest(parsed) else {
                Output.error("\(reference): no such image in \(parsed.registry) (\(parsed.repository))")
                throw ExitCode(Exit.failure)
            }
            let found = try await SignatureCheck.find(manifest.digest, in: parsed, key: publicKey, client: client)
            let signed = found.contains { $0.valid && $0.kind == .signature }
            let attested = found.contains { $0.valid && $0.kind == .attestation }
            report = Report(
                image: parsed.name, digest: manifest.digest, valid: signed && (!attestations || attested),
                found: attestations ? found : found.filter { $0.kind == .signature })
        } catch let error as SigningKeyError {
            Output.error(error.description)
            throw ExitCode(Exit.badInput)
        } catch let error as RegistryError {
            Output.error(error.description)
            throw ExitCode(Exit.badInput)
        }
        switch format {
        case .json: print(Output.json(report))
        case .text:
            print("\(report.image)@\(report.digest): " + (report.valid ? "signed by \(key)" : "NOT signed by \(key)"))
            for item in report.found {
                let what = item.kind == .signature ? "signature" : "attestation \(item.predicateType ?? "?")"
                let verdict = item.valid ? "valid" : "invalid: \(item.problem ?? "?")"
                print("  \(what) [\(item.format)] at \(item.location): \(verdict)")
            }
            if report.found.isEmpty { print("  nothing signed found (referrers, sha256-<hex> tag index, .sig/.att tags)") }
        }
        if !report.valid { throw ExitCode(Exit.failure) }
    }
}
