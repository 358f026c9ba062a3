import Crypto
import Foundation
import HardenArchive

/// A key pair that could not be made or written: which file, what went wrong, what to do.
public struct SigningKeyError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String
    public var hint: String?

    public var description: String { "\(path): \(message)" + (hint.map { "\n  hint: \($0)" } ?? "") }
}

/// ECDSA P-256 signing keys as files: the private key as PKCS#8 PEM (`PRIVATE KEY`), the public
/// key as SubjectPublicKeyInfo PEM (`PUBLIC KEY`), the forms cosign, openssl and PyCA read.
public enum SigningKeys {
    public static let privateKeyName = "harden.key"
    public static let publicKeyName = "harden.pub"

    /// What `generate` wrote.
    public struct Written: Sendable, Codable, Equatable {
        public var privateKey: String
        public var publicKey: String
        /// `sha256:` of the public key's DER encoding: how signatures name the key that made them.
        public var keyID: String
    }

    /// Makes a new key pair and writes it into `directory` (created when missing): the private key
    /// readable by its owner only. Refuses to replace an existing key: nothing is written then.
    public static func generate(into directory: String) throws(SigningKeyError) -> Written {
        let privatePath = (directory as NSString).appendingPathComponent(privateKeyName)
        let publicPath = (directory as NSString).appendingPathComponent(publicKeyName)
        for path in [privatePath, publicPath] where FileManager.default.fileExists(atPath: path) {
            throw SigningKeyError(
                path: path, message: "a key is already there; it was left as it is",
                hint: "choose another --output directory, or move the old key aside first")
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw SigningKeyError(path: directory, message: "cannot create the directory: \(error.localizedDescription)")
        }
        let key = P256.Signing.PrivateKey()
        do {
            try AtomicFile.write(Data((key.pemRepresentation + "\n").utf8), to: privatePath, mode: 0o600)
        } catch {
            throw SigningKeyError(path: privatePath, message: "cannot write the private key: \(error)")
        }
        do {
            try AtomicFile.write(Data((key.publicKey.pemRepresentation + "\n").utf8), to: publicPath)
        } catch {
            unlink(privatePath)  // no private key without its public half
            throw SigningKeyError(path: publicPath, message: "cannot write the public key: \(error)")
        }
        return Written(privateKey: privatePath, publicKey: publicPath, keyID: keyID(of: key.publicKey))
    }

    public static func keyID(of key: P256.Signing.PublicKey) -> String {
        "sha256:" + SHA256.hash(data: key.derRepresentation).map { String(format: "%02x", $0) }.joined()
    }
}
