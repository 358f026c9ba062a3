import Foundation
import HardenTestSupport

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A docker token service for a registry in `auth: token` mode: RS256 JWTs signed with a fresh self-signed key.
final class TokenService {
    static let issuer = "harden-test-issuer"
    static let service = "harden-test-registry"

    /// The certificate the registry trusts (`rootcertbundle`).
    let certificate: URL
    private let server: PythonServer

    var realm: String { "http://127.0.0.1:\(server.port)/token" }

    /// The registry's `auth` configuration for this service.
    var registryAuth: LocalRegistry.Auth {
        .token(realm: realm, service: Self.service, issuer: Self.issuer, certificate: certificate)
    }

    /// Starts a token service, runs `body`, and stops it whatever happens.
    /// - Parameters:
    ///   - login: `user:password` the service requires; anonymous requests get tokens when nil.
    ///   - field: the JSON field the token is answered in, `token` or `access_token`.
    static func run<T>(login: String? = nil, field: String = "token", _ body: (TokenService) async throws -> T) async throws -> T
    {
        try await withScratchDirectory { directory in
            let key = directory.appendingPathComponent("key.pem")
            let certificate = directory.appendingPathComponent("certificate.pem")
            try await runTool(
                "/usr/bin/openssl",
                [
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key.path, "-out", certificate.path,
                    "-days", "1", "-subj", "/CN=\(issuer)",
                ])
            var arguments = [key.path, issuer, "--field", field]
            if let login { arguments += ["--login", login] }
            return try await PythonServer.run(script: tokenServerScript, arguments: arguments) { server in
                try await body(TokenService(certificate: certificate, server: server))
            }
        }
    }

    private init(certificate: URL, server: PythonServer) {
        self.certificate = certificate
        self.server = server
    }

    /// The accounts tokens for exactly `scope` were issued to, in order ("" for anonymous).
    func issued(scope: String) -> [String] {
        server.log.split(separator: "\n").compactMap { line in
            let prefix = "token scope=\(scope) account="
            return line.hasPrefix(prefix) ? String(line.dropFirst(prefix.count)) : nil
        }
    }

    /// A token for `scope`, for the test's own pushes.
    func token(scope: String, login: String?) async throws -> String {
        var components = URLComponents()
        (components.scheme, components.host, components.port, components.path) = ("http", "127.0.0.1", server.port, "/token")
        components.queryItems = [URLQueryItem(name: "service", value: Self.service), URLQueryItem(name: "scope", value: scope)]
        guard let url = components.url else { throw TestSetupError("cannot make a token URL for \(scope)") }
        var request = URLRequest(url: url)
        if let login { request.setValue("Basic " + Data(login.utf8).base64EncodedString(), forHTTPHeaderField: "Authorization") }
        let (data, _) = try await URLSession.shared.data(for: request)
        let answer = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        guard let token = (answer?["token"] ?? answer?["access_token"]) as? String else {
            throw TestSetupError("no token from \(realm): \(String(decoding: data, as: UTF8.self))")
        }
        return token
    }
}

/// The token service. distribution 2.8 checks a JWT without `x5c` or `jwk` headers by its `kid`, which must be
/// the libtrust key ID of a key in the root certificate bundle: base32 of the first 240 bits of the SHA-256 of the
/// DER SubjectPublicKeyInfo, in 12 groups of 4 joined by ':'.
///
/// Usage: server.py KEY_PEM ISSUER [--field token|access_token] [--login USER:PASSWORD]
/// Prints `port N`, then `token scope=SCOPE account=NAME` for each token issued and `refused` for each refusal.
private let tokenServerScript = """
    import base64
    import hashlib
    import json
    import sys
    import time
    import uuid
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs, urlparse

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    key_path, issuer = sys.argv[1], sys.argv[2]
    options = dict(zip(sys.argv[3::2], sys.argv[4::2]))
    login = options.get("--login")
    field = options.get("--field", "token")

    with open(key_path, "rb") as key_file:
        key = serialization.load_pem_private_key(key_file.read(), password=None)


    def key_id(public_key):
        der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode()
        return ":".join(encoded[i : i + 4] for i in range(0, 48, 4))


    def b64url(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


    def sign(claims):
        header = {"typ": "JWT", "alg": "RS256", "kid": key_id(key.public_key())}
        signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
        signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + b64url(signature)


    def access(scope):
        parts = scope.split(":")
        if len(parts) != 3:
            return None
        actions = [action for action in parts[2].split(",") if action in ("pull", "push")]
        return {"type": parts[0], "name": parts[1], "actions": actions}


    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            query = parse_qs(urlparse(self.path).query)
            account = self.account()
            if account is None:
                self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()
                print("refused", flush=True)
                return
            now = int(time.time())
            scopes = query.get("scope", [])
            claims = {
                "iss": issuer,
                "sub": account,
                "aud": query.get("service", [""])[0],
                "exp": now + 300,
                "nbf": now - 10,
                "iat": now,
                "jti": str(uuid.uuid4()),
                "access": [entry for entry in map(access, scopes) if entry],
            }
            body = json.dumps({field: sign(claims), "expires_in": 300}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            print(f"token scope={' '.join(scopes)} account={account}", flush=True)

        def account(self):
            # The user name, "" for anonymous, None when refused.
            if login is None:
                return ""
            header = self.headers.get("Authorization", "")
            given = base64.b64decode(header[6:]).decode() if header.startswith("Basic ") else None
            return login.split(":")[0] if given == login else None

        def log_message(self, format, *args):
            pass


    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"port {server.server_address[1]}", flush=True)
    server.serve_forever()
    """
