import Crypto
import Foundation
import HardenArchive

/// The private key harden signs with (ECDSA P-256), for modules that do not import Crypto.
public typealias SigningKey = P256.Signing.PrivateKey

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
    /// readable by its owner only, the public key first so that a private key is never left
    /// alone. Refuses to replace an existing key, even one another run writes meanwhile.
    public static func generate(into directory: String) throws(SigningKeyError) -> Written {
        let privatePath = (directory as NSString).appendingPathComponent(privateKeyName)
        let publicPath = (directory as NSString).appendingPathComponent(publicKeyName)
        for path in [privatePath, publicPath] where FileManager.default.fileExists(atPath: path) {
            throw alreadyThere(path)
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw SigningKeyError(path: directory, message: "cannot create the directory: \(error.localizedDescription)")
        }
        let key = P256.Signing.PrivateKey()
        try place(key.publicKey.pemRepresentation, at: publicPath, mode: 0o644, what: "the public key")
        do {
            try place(key.pemRepresentation, at: privatePath, mode: 0o600, what: "the private key")
        } catch {
            unlink(publicPath)
            throw error
        }
        // The two names survive a crash only once the directory itself is on disk.
        let handle = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if handle >= 0 {
            fsync(handle)
            close(handle)
        }
        return Written(privateKey: privatePath, publicKey: publicPath, keyID: keyID(of: key.publicKey))
    }

    private static func place(_ pem: String, at path: String, mode: mode_t, what: String) throws(SigningKeyError) {
        do {
            try AtomicFile.write(Data((pem + "\n").utf8), to: path, mode: mode, replacing: false)
        } catch let failure as AtomicFile.Failure where failure.exists {
            throw alreadyThere(path)
        } catch {
            throw SigningKeyError(path: path, message: "cannot write \(what): \(error)")
        }
    }

    private static func alreadyThere(_ path: String) -> SigningKeyError {
        SigningKeyError(
            path: path, message: "a key is already there; it was left as it is",
            hint: "choose another --output directory, or move the old key aside first")
    }

    public static func keyID(of key: P256.Signing.PublicKey) -> String {
        "sha256:" + SHA256.hash(data: key.derRepresentation).map { String(format: "%02x", $0) }.joined()
    }

    /// Reads an unencrypted ECDSA P-256 private key: PKCS#8 (`PRIVATE KEY`) or SEC 1 (`EC PRIVATE KEY`)
    /// PEM, from a file or, for `env:NAME`, from that environment variable (as CI secrets come).
    public static func loadPrivate(_ path: String) throws(SigningKeyError) -> P256.Signing.PrivateKey {
        let text: String
        if path.hasPrefix("env:") {
            let name = String(path.dropFirst(4))
            guard let value = ProcessInfo.processInfo.environment[name], value.contains("-----BEGIN ") else {
                throw SigningKeyError(
                    path: path, message: "the environment variable \(name) is unset or holds no PEM key",
                    hint: "export \(name) with the PEM text of the private key (the contents of harden.key)")
            }
            text = value
        } else {
            text = try pemText(path, what: "private key")
        }
        if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") || text.contains("Proc-Type: 4,ENCRYPTED")
            || text.contains("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----")
        {
            throw SigningKeyError(
                path: path, message: "the private key is encrypted; harden reads unencrypted keys only",
                hint: "decrypt it (openssl pkcs8 -in KEY -out PLAIN.key) and keep PLAIN.key readable by you only, "
                    + "or make a new pair with `harden key generate`")
        }
        do {
            return try P256.Signing.PrivateKey(pemRepresentation: text)
        } catch {
            throw SigningKeyError(
                path: path, message: "not an ECDSA P-256 private key (\(kindOf(text)))",
                hint: "harden signs with ECDSA P-256 keys, as cosign makes them: run `harden key generate --output DIR`")
        }
    }

    /// Reads an ECDSA P-256 public key: SubjectPublicKeyInfo PEM (`PUBLIC KEY`).
    public static func loadPublic(_ path: String) throws(SigningKeyError) -> P256.Signing.PublicKey {
        let text = try pemText(path, what: "public key")
        do {
            return try P256.Signing.PublicKey(pemRepresentation: text)
        } catch {
            throw SigningKeyError(
                path: path, message: "not an ECDSA P-256 public key (\(kindOf(text)))",
                hint: "pass the PUBLIC KEY PEM written beside the signing key (harden.pub, cosign.pub)")
        }
    }

    private static func pemText(_ path: String, what: String) throws(SigningKeyError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SigningKeyError(path: path, message: "cannot read the \(what)", hint: "check the path and its permissions")
        }
        guard let text = String(data: data, encoding: .utf8), text.contains("-----BEGIN ") else {
            throw SigningKeyError(
                path: path, message: "not a PEM file (no -----BEGIN line), so not a \(what)",
                hint: "pass the PEM files `harden key generate` writes")
        }
        return text
    }

    /// What a PEM file holds, from its first BEGIN line: `found RSA PRIVATE KEY`.
    private static func kindOf(_ text: String) -> String {
        guard let begin = text.range(of: "-----BEGIN "), let end = text[begin.upperBound...].range(of: "-----") else {
            return "unreadable PEM"
        }
        let label = text[begin.upperBound..<end.lowerBound]
        return "found \(label)" + (label.hasSuffix("KEY") ? " of another type or curve" : "")
    }
}
