import Foundation

/// Registry logins from a docker config file (`config.json`, as written by `docker login`): the `auths` entries only.
/// Credential helpers (`credHelpers`, `credsStore`) are remembered but never run.
public struct DockerCredentials: Sendable, Equatable {
    /// A user name and password for one registry.
    public struct Login: Sendable, Equatable {
        public let username: String
        public let password: String

        public init(username: String, password: String) {
            self.username = username
            self.password = password
        }
    }

    /// Logins by registry host (`docker.io` for every Docker Hub alias).
    public let logins: [String: Login]
    /// Credential helper names from `credHelpers`, by registry host.
    public let helpers: [String: String]
    /// The `credsStore` helper name, which docker uses for every registry without a `credHelpers` entry.
    public let store: String?
    /// The file these came from, if any.
    public let path: String?

    /// Credentials given directly; keys may be written as in a config file (`https://index.docker.io/v1/`).
    public init(logins: [String: Login] = [:], helpers: [String: String] = [:], store: String? = nil, path: String? = nil) {
        self.logins = Self.byHost(logins)
        self.helpers = Self.byHost(helpers)
        self.store = store
        self.path = path
    }

    /// No credentials: every registry is asked anonymously.
    public static let none = DockerCredentials()

    /// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
    public static func configPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let directory = environment["DOCKER_CONFIG"], !directory.isEmpty {
            return URL(fileURLWithPath: directory).appendingPathComponent("config.json").path
        }
        let home = environment["HOME"] ?? FileManager.default.homeDirectoryForCurrentUser.path
        return URL(fileURLWithPath: home).appendingPathComponent(".docker/config.json").path
    }

    /// Reads the docker config file the environment points at; a missing file means no credentials.
    public static func load(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(RegistryError) -> DockerCredentials {
        try load(path: configPath(environment: environment))
    }

    /// Reads the docker config file at `path`; a missing file means no credentials.
    public static func load(path: String) throws(RegistryError) -> DockerCredentials {
        guard FileManager.default.fileExists(atPath: path) else { return DockerCredentials(path: path) }
        func invalid(_ problem: String) -> RegistryError {
            RegistryError(
                .invalidCredentialsFile, "cannot read docker config \(path): \(problem)",
                hint: "fix the file, or point DOCKER_CONFIG at a directory with a valid config.json")
        }
        let file: ConfigFile
        do {
            file = try JSONDecoder().decode(ConfigFile.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch let error as DecodingError {
            throw invalid("not a docker config (\(describe(error)))")
        } catch {
            throw invalid(error.localizedDescription)
        }

        var logins: [String: Login] = [:]
        for (key, entry) in file.auths ?? [:] {
            if let auth = entry.auth, !auth.isEmpty {
                guard let data = Data(base64Encoded: auth), let pair = String(data: data, encoding: .utf8),
                    let colon = pair.firstIndex(of: ":")
                else { throw invalid("auths[\"\(key)\"].auth is not base64 of user:password") }
                logins[key] = Login(username: String(pair[..<colon]), password: String(pair[pair.index(after: colon)...]))
            } else if let username = entry.username, let password = entry.password {
                logins[key] = Login(username: username, password: password)
            }
        }
        return DockerCredentials(logins: logins, helpers: file.credHelpers ?? [:], store: file.credsStore, path: path)
    }

    /// The login for a registry as written in an image reference (`docker.io`, `localhost:5000`).
    public func login(for registry: String) -> Login? {
        logins[Self.hostKey(registry)]
    }

    /// The credential helper docker would run for a registry, if the config names one.
    public func helper(for registry: String) -> String? {
        helpers[Self.hostKey(registry)] ?? store.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// A config key or registry reduced to its host: no scheme, no path, Docker Hub aliases as `docker.io`.
    static func hostKey(_ key: String) -> String {
        var host = Substring(key)
        for scheme in ["https://", "http://"] where host.hasPrefix(scheme) {
            host = host.dropFirst(scheme.count)
        }
        if let slash = host.firstIndex(of: "/") { host = host[..<slash] }
        let lowered = host.lowercased()
        return ImageReference.isDockerHub(lowered) ? ImageReference.dockerHub : lowered
    }

    /// Entries keyed by host; when two keys name one host, the first in sorted order wins.
    private static func byHost<Value>(_ entries: [String: Value]) -> [String: Value] {
        let pairs = entries.sorted { $0.key < $1.key }.map { (hostKey($0.key), $0.value) }
        return Dictionary(pairs, uniquingKeysWith: { first, _ in first })
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case .dataCorrupted(let context), .typeMismatch(_, let context), .valueNotFound(_, let context),
            .keyNotFound(_, let context):
            let keyPath = context.codingPath.map(\.stringValue).joined(separator: ".")
            return keyPath.isEmpty ? context.debugDescription : "at \(keyPath): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }

    /// The parts of config.json read here.
    private struct ConfigFile: Decodable {
        struct Entry: Decodable {
            let auth: String?
            let username: String?
            let password: String?
        }

        let auths: [String: Entry]?
        let credHelpers: [String: String]?
        let credsStore: String?
    }
}
