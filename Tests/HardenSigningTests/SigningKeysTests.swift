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
            let checked = try await runTool("/usr/bin/env", ["python3", "-c", Self.pyca, written.privateKey, written.publicKey])
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

    /// Keys made by openssl: a PKCS#8 and a SEC 1 P-256 key load; an RSA key, a P-384 key, an
    /// encrypted key, a file that is no key and an unset variable are each refused, said why.
    @Test func keysFromElsewhereLoadAndWrongOnesAreRefused() async throws {
        try await withScratchDirectory { scratch in
            func openssl(_ arguments: [String]) async throws { _ = try await runTool("/usr/bin/openssl", arguments) }
            let sec1 = scratch.appendingPathComponent("sec1.key").path
            try await openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", sec1])
            let pkcs8 = scratch.appendingPathComponent("pkcs8.key").path
            try await openssl(["pkcs8", "-topk8", "-nocrypt", "-in", sec1, "-out", pkcs8])
            let pub = scratch.appendingPathComponent("key.pub").path
            try await openssl(["ec", "-in", sec1, "-pubout", "-out", pub])
            let fromSEC1 = try SigningKeys.loadPrivate(sec1)
            #expect(try SigningKeys.loadPrivate(pkcs8).rawRepresentation == fromSEC1.rawRepresentation)
            #expect(try SigningKeys.loadPublic(pub).rawRepresentation == fromSEC1.publicKey.rawRepresentation)

            let rsa = scratch.appendingPathComponent("rsa.key").path
            try await openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", rsa])
            let p384 = scratch.appendingPathComponent("p384.key").path
            try await openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", p384])
            let encrypted = scratch.appendingPathComponent("encrypted.key").path
            try await openssl(["pkcs8", "-topk8", "-in", sec1, "-out", encrypted, "-passout", "pass:secret"])
            let text = scratch.appendingPathComponent("notes.txt").path
            try Data("not a key\n".utf8).write(to: URL(fileURLWithPath: text))
            let cases: [(String, String)] = [
                (rsa, "not an ECDSA P-256 private key (found PRIVATE KEY of another type or curve)"),
                (p384, "not an ECDSA P-256 private key"),
                (encrypted, "encrypted"),
                (text, "not a PEM file"),
                (scratch.appendingPathComponent("missing.key").path, "cannot read the private key"),
                ("env:HARDEN_TEST_UNSET_KEY", "HARDEN_TEST_UNSET_KEY is unset"),
            ]
            for (path, said) in cases {
                #expect {
                    _ = try SigningKeys.loadPrivate(path)
                } throws: { error in
                    let error = error as? SigningKeyError
                    return error?.path == path && error?.message.contains(said) == true && error?.hint != nil
                }
            }
            #expect {
                _ = try SigningKeys.loadPublic(rsa)
            } throws: { error in
                (error as? SigningKeyError)?.message.contains("not an ECDSA P-256 public key") == true
            }
        }
    }

    /// DSSE as the spec defines it, checked by PyCA: the PAE bytes are what is signed.
    @Test func aDSSESignatureCoversThePreAuthenticationEncoding() async throws {
        let key = SigningKey()
        let body = Data(#"{"hello":"world"}"#.utf8)
        let envelope = try DSSEEnvelope.sign(body, type: "application/vnd.in-toto+json", with: key)
        #expect(
            DSSEEnvelope.preAuthenticationEncoding(type: "application/vnd.in-toto+json", body: body)
                == Data(#"DSSEv1 28 application/vnd.in-toto+json 17 {"hello":"world"}"#.utf8))
        #expect(envelope.verifiedPayload(with: key.publicKey) == body)
        #expect(envelope.verifiedPayload(with: SigningKey().publicKey) == nil)
        var changed = envelope
        changed.payloadType = "text/plain"
        #expect(changed.verifiedPayload(with: key.publicKey) == nil)

        try await withScratchDirectory { scratch in
            let pub = scratch.appendingPathComponent("k.pub")
            try Data(key.publicKey.pemRepresentation.utf8).write(to: pub)
            let script = """
                import base64, sys
                from cryptography.hazmat.primitives import hashes, serialization
                from cryptography.hazmat.primitives.asymmetric import ec
                key = serialization.load_pem_public_key(open(sys.argv[1], "rb").read())
                pae = b"DSSEv1 28 application/vnd.in-toto+json 17 " + base64.b64decode(sys.argv[2])
                key.verify(base64.b64decode(sys.argv[3]), pae, ec.ECDSA(hashes.SHA256()))
                print("ok")
                """
            let output = try await runTool(
                "/usr/bin/env", ["python3", "-c", script, pub.path, envelope.payload, envelope.signatures[0].sig])
            #expect(String(decoding: output, as: UTF8.self) == "ok\n")
        }
    }
}
