import ArgumentParser
import Foundation
import HardenSigning

/// `harden key generate`: the key pair images are signed with.
struct KeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        abstract: "Make the ECDSA P-256 key pair that signs images and attestations.",
        subcommands: [KeyGenerate.self]
    )
}

struct KeyGenerate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Write a new key pair: harden.key (PKCS#8 PEM, owner-only) and harden.pub (public key PEM).",
        discussion: """
            The private key is not encrypted: keep it in a secret store, or on the build machine \
            readable by harden's user only. An existing key is never replaced. \
            Exit status: 0 written; 2 a key is already there or the files cannot be written.
            """)

    @Option(name: .long, help: "The directory to write the two files into (created when missing).")
    var output: String = "."

    @Option(name: .long, help: "Output format: text or json.")
    var format: OutputFormat = .text

    func run() throws {
        let written: SigningKeys.Written
        do {
            written = try SigningKeys.generate(into: output)
        } catch {
            Output.error(error.description)
            throw ExitCode(Exit.badInput)
        }
        switch format {
        case .text:
            print("private key: \(written.privateKey) (keep it secret)")
            print("public key: \(written.publicKey)")
            print("key id: \(written.keyID)")
        case .json:
            print(Output.json(written))
        }
    }
}
