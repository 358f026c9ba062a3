import Foundation
import HardenSigning
import HardenTestSupport
import Testing

/// Key pairs checked by code nobody here wrote: PyCA `cryptography` loads both files, signs
/// with the private key and verifies with the public one.
@Suite struct SigningKeysTests {
    static let pyca = """
        import hashlib, sys
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        private = serialization.load_pem_private_key(open(sys.argv[1], "rb").read(), password=None)
        public = serialization.load_pem_public_key(open(sys.argv[2], "rb").read())
        assert isinstance(private.curve, ec.SECP256R1) and isinstance(public.curve, ec.SECP256R1)
        assert private.public_key().public_numbers() == public.public_numbers(), "the files are not one pair"
        signature = private.sign(b"harden", ec.ECDSA(hashes.SHA256()))
        public.verify(signature, b"harden", ec.ECDSA(hashes.SHA256()))
        der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        print("sha256:" + hashlib.sha256(der).hexdigest())
        """

    @Test func aNewPairIsReadBySomeoneElsesCode() async throws {
        try await withScratchDirectory { scratch in
            let directory = scratch.appendingPathComponent("keys/signing").path
            let written = try SigningKeys.generate(into: directory)
            let checked = try runTool("/usr/bin/env", ["python3", "-c", Self.pyca, written.privateKey, written.publicKey])
            #expect(String(decoding: checked, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) == written.keyID)
            let privateText = try String(contentsOfFile: written.privateKey, encoding: .utf8)
            #expect(privateText.hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
            #expect(try String(contentsOfFile: written.publicKey, encoding: .utf8).hasPrefix("-----BEGIN PUBLIC KEY-----\n"))
            let mode = try FileManager.default.attributesOfItem(atPath: written.privateKey)[.posixPermissions] as? Int
            #expect(mode == 0o600)
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["harden.key", "harden.pub"])
        }
    }

    @Test func twoPairsDiffer() async throws {
        try await withScratchDirectory { scratch in
            let first = try SigningKeys.generate(into: scratch.appendingPathComponent("a").path)
            let second = try SigningKeys.generate(into: scratch.appendingPathComponent("b").path)
            #expect(first.keyID != second.keyID)
        }
    }

    /// An existing key is never replaced, whichever half is there.
    @Test(arguments: ["harden.key", "harden.pub"])
    func anExistingKeyIsLeftAsItIs(present: String) async throws {
        try await withScratchDirectory { scratch in
            let existing = scratch.appendingPathComponent(present)
            try Data("old key\n".utf8).write(to: existing)
            do {
                _ = try SigningKeys.generate(into: scratch.path)
                Issue.record("a key was replaced")
            } catch let error as SigningKeyError {
                #expect(error.path == existing.path)
                #expect(error.description.contains("already there"))
                #expect(error.hint?.contains("--output") == true)
            }
            #expect(try Data(contentsOf: existing) == Data("old key\n".utf8))
            #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path) == [present])
        }
    }

    @Test func anUnwritableDirectoryIsNamed() async throws {
        try await withScratchDirectory { scratch in
            let file = scratch.appendingPathComponent("not-a-directory")
            try Data().write(to: file)
            do {
                _ = try SigningKeys.generate(into: file.appendingPathComponent("keys").path)
                Issue.record("keys were written under a file")
            } catch let error as SigningKeyError {
                #expect(error.path.hasSuffix("not-a-directory/keys"), "\(error)")
                #expect(error.message.contains("cannot create the directory"))
            }
        }
    }
}
