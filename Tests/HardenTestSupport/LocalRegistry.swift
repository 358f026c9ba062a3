import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A real docker-registry (distribution v2) on a free 127.0.0.1 port, storage in a temporary directory.
public final class LocalRegistry {
    /// How the registry asks for credentials.
    public enum Auth {
        case none
        /// Basic authentication against a bcrypt htpasswd file holding one user.
        case htpasswd(user: String, password: String)
        /// Docker token authentication: tokens from `realm`, signed by the key of `certificate`.
        case token(realm: String, service: String, issuer: String, certificate: URL)
    }

    public let port: Int
    /// `http://127.0.0.1:PORT`.
    public let baseURL: URL
    private let process: TestProcess

    /// `127.0.0.1:PORT`, the registry part of an image reference.
    public var host: String { "127.0.0.1:\(port)" }

    /// Starts a registry, runs `body`, and stops the registry and removes its files whatever happens.
    public static func run<T>(auth: Auth = .none, _ body: (LocalRegistry) async throws -> T) async throws -> T {
        try await withScratchDirectory { directory in
            let registry = try await start(in: directory, auth: auth)
            defer { registry.process.stop() }
            return try await body(registry)
        }
    }

    private init(port: Int, process: TestProcess) throws {
        var components = URLComponents()
        (components.scheme, components.host, components.port) = ("http", "127.0.0.1", port)
        guard let baseURL = components.url else { throw TestSetupError("no URL for port \(port)") }
        self.port = port
        self.baseURL = baseURL
        self.process = process
    }

    /// How many `METHOD /v2/<repository>/manifests/…` requests the access log shows. The log is written after the
    /// answer, so this waits (up to 5 s) for `expected` lines, then a little more for any beyond them.
    public func manifestRequests(_ method: String, repository: String, expected: Int) async throws -> Int {
        let count = {
            self.process.log.split(separator: "\n").filter { $0.contains("\"\(method) /v2/\(repository)/manifests/") }.count
        }
        _ = try await poll(seconds: 5) { count() >= expected ? true : nil }
        try await Task.sleep(for: .milliseconds(300))
        return count()
    }

    private static func start(in directory: URL, auth: Auth) async throws -> LocalRegistry {
        let authSection = try authConfiguration(auth, directory: directory)
        // A port found free can be taken before the registry binds it: try a few.
        for attempt in 1...3 {
            let port = try freePort()
            let config = directory.appendingPathComponent("config-\(attempt).yml")
            try """
            version: 0.1
            log:
              level: info
            storage:
              filesystem:
                rootdirectory: \(directory.appendingPathComponent("storage").path)
              maintenance:
                uploadpurging:
                  enabled: false
            http:
              addr: 127.0.0.1:\(port)
              secret: harden-registry-tests
            \(authSection)
            """.write(to: config, atomically: true, encoding: .utf8)
            let process = try TestProcess(
                "/usr/bin/docker-registry", ["serve", config.path],
                logFile: directory.appendingPathComponent("registry-\(attempt).log"))
            let registry = try LocalRegistry(port: port, process: process)
            if try await registry.waitUntilAnswering(as: auth) { return registry }
            process.stop()
            if attempt == 3 { throw TestSetupError("docker-registry did not start on port \(port):\n\(process.log)") }
        }
        throw TestSetupError("unreachable")
    }

    private static func authConfiguration(_ auth: Auth, directory: URL) throws -> String {
        switch auth {
        case .none:
            return ""
        case .htpasswd(let user, let password):
            let file = directory.appendingPathComponent("htpasswd")
            try runToolWaiting("/usr/bin/htpasswd", ["-Bbn", user, password]).write(to: file)
            return """
                auth:
                  htpasswd:
                    realm: harden-registry-tests
                    path: \(file.path)
                """
        case .token(let realm, let service, let issuer, let certificate):
            return """
                auth:
                  token:
                    realm: \(realm)
                    service: \(service)
                    issuer: \(issuer)
                    rootcertbundle: \(certificate.path)
                """
        }
    }

    /// True once `GET /v2/` gets an HTTP answer (a token challenge counts); false if the process ends or 15 s pass.
    /// An htpasswd registry is asked with its login: a Basic challenge would hang URLSession on Linux.
    private func waitUntilAnswering(as auth: Auth) async throws -> Bool {
        var request = URLRequest(url: baseURL.appendingPathComponent("v2/"))
        request.timeoutInterval = 2
        if case .htpasswd(let user, let password) = auth {
            let login = Data("\(user):\(password)".utf8).base64EncodedString()
            request.setValue("Basic \(login)", forHTTPHeaderField: "Authorization")
        }
        let answered = try await poll(seconds: 15) { () async -> Bool? in
            if !process.isRunning { return false }
            let response = try? await URLSession.shared.data(for: request).1
            return response is HTTPURLResponse ? true : nil
        }
        return answered ?? false
    }
}
