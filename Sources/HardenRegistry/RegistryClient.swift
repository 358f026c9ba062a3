import Foundation
import HardenHTTP

/// Asks registries for the current manifest digest of image tags through the Registry HTTP API v2
/// (the OCI Distribution Specification), with docker's token and basic authentication.
/// Tokens and answers are kept for the client's lifetime: make one client per run.
public actor RegistryClient {
    /// The manifest media types asked for: OCI index and manifest, Docker manifest list and v2 manifest.
    public static let acceptedMediaTypes = [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]

    private let credentials: DockerCredentials
    private let insecureRegistries: Set<String>
    private let timeoutSeconds: Double
    private let maximumConcurrentRequests: Int
    private let transport: HTTPTransport
    /// How long an upload may go without progress before it is given up.
    let uploadStallSeconds: Double
    /// Blobs larger than this go up in chunks of this size (or of the registry's minimum, if larger).
    let uploadChunkSize: Int64

    private var answers: [ImageReference: Task<Result<String, RegistryError>, Never>] = [:]
    private var tokens: [TokenKey: Task<Result<String, RegistryError>, Never>] = [:]
    /// How each API host asked for credentials on its first 401.
    private var challenges: [String: AuthChallenge] = [:]

    /// - Parameters:
    ///   - credentials: logins for registries that ask for them; see `DockerCredentials.load()`.
    ///   - insecureRegistries: registries (`host` or `host:port`) spoken to over plain HTTP, besides loopback ones.
    ///   - timeout: how long one request may wait for an answer.
    ///   - maximumConcurrentRequests: how many references `digests(of:)` asks about at once.
    ///   - uploadStall: how long a blob upload may send nothing and get no answer (any size, any link).
    ///   - uploadChunkSize: blobs up to this size go up in one request, larger ones in chunks of it
    ///     (a proxy in front of a registry may refuse very large request bodies).
    public init(
        credentials: DockerCredentials = .none, insecureRegistries: Set<String> = [], timeout: Duration = .seconds(30),
        maximumConcurrentRequests: Int = 8, uploadStall: Duration = .seconds(60), uploadChunkSize: Int64 = 128 << 20
    ) {
        self.uploadChunkSize = max(1, uploadChunkSize)
        self.uploadStallSeconds = Double(uploadStall.components.seconds) + Double(uploadStall.components.attoseconds) / 1e18
        self.credentials = credentials
        self.insecureRegistries = insecureRegistries
        self.timeoutSeconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        self.maximumConcurrentRequests = max(1, maximumConcurrentRequests)
        self.transport = HTTPTransport(timeoutSeconds: timeoutSeconds)
    }

    /// The current digest of the manifest the reference's tag (or, without a tag, its digest) names,
    /// from the registry's `Docker-Content-Digest` header. Asked once per reference for the client's lifetime.
    public func digest(of reference: ImageReference) async throws(RegistryError) -> String {
        try await answer(for: reference).get()
    }

    /// The digest of each distinct reference, asked concurrently.
    public func digests(of references: [ImageReference]) async -> [ImageReference: Result<String, RegistryError>] {
        var seen: Set<ImageReference> = []
        let distinct = references.filter { seen.insert($0).inserted }
        return await withTaskGroup(of: (ImageReference, Result<String, RegistryError>).self) { group in
            var results: [ImageReference: Result<String, RegistryError>] = [:]
            for (index, reference) in distinct.enumerated() {
                if index >= maximumConcurrentRequests, let (done, result) = await group.next() {
                    results[done] = result
                }
                group.addTask { (reference, await self.answer(for: reference)) }
            }
            for await (done, result) in group {
                results[done] = result
            }
            return results
        }
    }

    /// `http` for loopback hosts and insecure registries, `https` for the rest.
    public nonisolated func scheme(for registry: String) -> String {
        let host = Self.hostname(of: registry)
        let plain =
            host == "localhost" || host == "[::1]" || Self.isLoopbackIPv4(host)
            || insecureRegistries.contains(registry) || insecureRegistries.contains(host)
        return plain ? "http" : "https"
    }

    private func answer(for reference: ImageReference) async -> Result<String, RegistryError> {
        if let asked = answers[reference] { return await asked.value }
        let asking = Self.sharedTask { () async throws(RegistryError) in try await self.askDigest(of: reference) }
        answers[reference] = asking
        return await asking.value
    }

    private func askDigest(of reference: ImageReference) async throws(RegistryError) -> String {
        let host = reference.apiHost
        let address =
            "\(scheme(for: reference.registry))://\(host)/v2/\(reference.repository)/manifests/\(reference.manifestReference)"
        guard let url = URL(string: address) else {
            throw RegistryError(.invalidReference, "cannot make a URL for \(reference) from \(address)")
        }
        var request = HTTPRequest("HEAD", url)
        request.headers.append(("Accept", Self.acceptedMediaTypes.joined(separator: ", ")))
        let answer = try await send(request, for: reference, actions: "pull", about: "\(reference)")

        switch answer.status {
        case 200:
            guard let digest = answer.header("Docker-Content-Digest"), !digest.isEmpty else {
                throw RegistryError(
                    .unexpectedResponse, "\(host) answered \(reference) without a Docker-Content-Digest header",
                    hint: "the registry does not report manifest digests; check that it implements the Registry API v2")
            }
            return digest
        case 401, 403:
            throw refused(reference, status: answer.status)
        case 404:
            let what = reference.tag == nil ? "manifest" : "tag"
            throw RegistryError(
                .notFound, "\(what) \(reference.manifestReference) not found in \(reference.registry)/\(reference.repository)",
                hint: "check the repository and tag names (asked \(host))")
        case 429:
            throw RegistryError(
                .unexpectedResponse, "\(host) refused \(reference): too many requests (429)",
                hint: "the registry limits requests; wait, or log in with `docker login \(reference.registry)`")
        default:
            throw RegistryError(
                .unexpectedResponse, "\(host) answered HTTP \(answer.status) for \(reference)",
                hint: "retry later; if it persists, check the registry")
        }
    }

    /// Sends a request about `reference`'s repository, answering the registry's challenge for
    /// `actions` (`pull`, `pull,push`) once if it asks: the answer, 401s included, is the caller's.
    /// `pulling`: another repository the request reads from (a mount's source), whose pull scope
    /// a token must carry too.
    func send(
        _ request: HTTPRequest, for reference: ImageReference, actions: String, pulling: String? = nil,
        about subject: String
    ) async throws(RegistryError) -> HTTPAnswer {
        let host = reference.apiHost
        var scopes = ["repository:\(reference.repository):\(actions)"]
        if let pulling, pulling != reference.repository { scopes.append("repository:\(pulling):pull") }
        var authorization: String?
        if let challenge = challenges[host] {
            authorization = try await self.authorization(answering: challenge, for: reference, scopes: scopes, renew: false)
        }
        var answer = try await exchange(request, authorization: authorization, about: subject)
        if answer.status == 401 {
            guard let header = answer.header("WWW-Authenticate"), let challenge = AuthChallenge(header: header)
            else {
                throw RegistryError(
                    .unexpectedResponse, "\(host) answered 401 for \(subject) without a WWW-Authenticate challenge",
                    hint: "check that \(host) is a Registry API v2 server")
            }
            challenges[host] = challenge
            authorization = try await self.authorization(
                answering: challenge, for: reference, scopes: scopes, renew: authorization != nil)
            answer = try await exchange(request, authorization: authorization, about: subject)
        }
        return answer
    }

    /// The `Authorization` value answering a challenge; `renew` drops a cached token the registry refused.
    private func authorization(
        answering challenge: AuthChallenge, for reference: ImageReference, scopes: [String], renew: Bool
    ) async throws(RegistryError) -> String {
        switch challenge.scheme {
        case "basic":
            guard let login = credentials.login(for: reference.registry) else {
                throw missingCredentials(
                    registry: reference.registry,
                    message: "\(reference.apiHost) asks for credentials for \(reference) and \(configName) has none for it")
            }
            return Self.basic(login)
        case "bearer":
            let key = TokenKey(host: reference.apiHost, scopes: scopes)
            if renew { tokens[key] = nil }
            return "Bearer " + (try await token(for: key, challenge: challenge, registry: reference.registry))
        default:
            throw RegistryError(
                .unexpectedResponse, "\(reference.apiHost) asks for \(challenge.scheme) authentication for \(reference)",
                hint: "only Bearer and Basic authentication are supported")
        }
    }

    private func token(
        for key: TokenKey, challenge: AuthChallenge, registry: String
    ) async throws(RegistryError) -> String {
        if let fetching = tokens[key] { return try await fetching.value.get() }
        let fetching = Self.sharedTask { () async throws(RegistryError) in
            try await self.fetchToken(for: key, challenge: challenge, registry: registry)
        }
        tokens[key] = fetching
        return try await fetching.value.get()
    }

    /// Asks the challenge's realm for a token (docker's token authentication), with basic credentials if there are some.
    private func fetchToken(
        for key: TokenKey, challenge: AuthChallenge, registry: String
    ) async throws(RegistryError) -> String {
        let subject = "\(key.scopes.joined(separator: " ")) on \(key.host)"
        guard let realm = challenge.parameters["realm"], var components = URLComponents(string: realm),
            components.scheme == "https" || components.scheme == "http"
        else {
            throw RegistryError(
                .unexpectedResponse,
                "\(key.host) names no usable token realm for \(subject) (\(challenge.parameters["realm"] ?? "none"))",
                hint: "check that \(key.host) is a Registry API v2 server")
        }
        var query = components.queryItems ?? []
        if let service = challenge.parameters["service"] { query.append(URLQueryItem(name: "service", value: service)) }
        query += key.scopes.map { URLQueryItem(name: "scope", value: $0) }
        components.queryItems = query
        guard let url = components.url else {
            throw RegistryError(.unexpectedResponse, "cannot make a token URL from realm \(realm) for \(subject)")
        }

        let login = credentials.login(for: registry)
        let answer = try await exchange(
            HTTPRequest("GET", url), authorization: login.map(Self.basic), about: "a token for \(subject)")
        switch answer.status {
        case 200:
            let decoded = try? JSONDecoder().decode(TokenAnswer.self, from: answer.body)
            guard let token = decoded?.token ?? decoded?.accessToken, !token.isEmpty else {
                throw RegistryError(
                    .unexpectedResponse, "the token service \(realm) answered without a token for \(subject)",
                    hint: "check the token service of \(registry)")
            }
            return token
        case 401, 403:
            if let login {
                throw RegistryError(
                    .credentialsRefused,
                    "the token service \(realm) refused user \(login.username) for \(subject) (HTTP \(answer.status))",
                    hint: "check the password in \(configName), or run `docker login \(registry)` again")
            }
            throw missingCredentials(
                registry: registry,
                message: "the token service \(realm) asks for credentials for \(subject) and \(configName) has none for it")
        default:
            throw RegistryError(
                .unexpectedResponse, "the token service \(realm) answered HTTP \(answer.status) for \(subject)",
                hint: "retry later; if it persists, check the token service of \(registry)")
        }
    }

    /// Sends a request; a transport failure becomes a `RegistryError` naming the host and what to check.
    func exchange(
        _ request: HTTPRequest, authorization: String?, about subject: String
    ) async throws(RegistryError) -> HTTPAnswer {
        var request = request
        if let authorization { request.headers.append(("Authorization", authorization)) }
        let url = request.url
        let target = "\(url.scheme ?? "")://\(url.host ?? "")\(url.port.map { ":\($0)" } ?? "")"
        do {
            return try await transport.send(request)
        } catch {
            throw transportError(error, target: target, subject: subject)
        }
    }

    private func transportError(_ error: TransportError, target: String, subject: String) -> RegistryError {
        switch error.kind {
        case .refused:
            return RegistryError(
                .unreachable, "cannot connect to \(target) for \(subject): connection refused",
                hint: "check that the registry is running and listening there, and the host and port in the reference")
        case .timedOut:
            return RegistryError(
                .timedOut, "\(target) did not answer within \(timeoutSeconds) s for \(subject)",
                hint: "check the network and the registry, or allow a longer timeout")
        case .hostNotFound:
            return RegistryError(
                .unreachable, "cannot resolve the host of \(target) for \(subject)",
                hint: "check the registry name in the reference and the network")
        case .tls:
            return RegistryError(
                .unreachable, "TLS with \(target) failed for \(subject): \(error.detail)",
                hint: "if the registry serves plain HTTP, list it as an insecure registry; else check its certificate")
        case .other:
            return RegistryError(
                .unreachable, "cannot reach \(target) for \(subject): \(error.detail)",
                hint: "check the network and that the registry is running")
        case .stalled:
            return RegistryError(
                .timedOut, "\(target) for \(subject): \(error.detail)",
                hint: "check the network and the registry; the next push sends only the blobs still missing")
        case .file:
            return RegistryError(.localFile, "\(error.detail) (for \(subject) to \(target))")
        }
    }

    func refused(_ reference: ImageReference, status: Int) -> RegistryError {
        guard let login = credentials.login(for: reference.registry) else {
            return missingCredentials(
                registry: reference.registry,
                message: "\(reference.apiHost) refused anonymous access to \(reference) (HTTP \(status))")
        }
        return RegistryError(
            .credentialsRefused,
            "\(reference.apiHost) refused user \(login.username) access to \(reference) (HTTP \(status))",
            hint: "check the password in \(configName) and the user's pull access, "
                + "or run `docker login \(reference.registry)` again")
    }

    /// An error telling to `docker login`, and why a configured credential helper did not help.
    private func missingCredentials(registry: String, message: String) -> RegistryError {
        guard let helper = credentials.helper(for: registry) else {
            return RegistryError(.credentialsMissing, message, hint: "run `docker login \(registry)`")
        }
        // `docker login` would store the login in the helper again.
        return RegistryError(
            .credentialsMissing, message,
            hint: "\(configName) keeps logins in the credential helper docker-credential-\(helper), which harden does not run;"
                + " put a login for \(registry) under \"auths\" in a docker config without helpers,"
                + " and point DOCKER_CONFIG at its directory")
    }

    private var configName: String {
        credentials.path ?? "the docker config"
    }

    /// A task whose one result every caller awaiting it shares.
    private static func sharedTask(
        _ work: @escaping @Sendable () async throws(RegistryError) -> String
    ) -> Task<Result<String, RegistryError>, Never> {
        Task { () async -> Result<String, RegistryError> in
            do throws(RegistryError) {
                return .success(try await work())
            } catch {
                return .failure(error)
            }
        }
    }

    private static func basic(_ login: DockerCredentials.Login) -> String {
        "Basic " + Data("\(login.username):\(login.password)".utf8).base64EncodedString()
    }

    /// `host` from `host`, `host:port`, `[v6]` or `[v6]:port`.
    private static func hostname(of registry: String) -> String {
        if registry.hasPrefix("["), let close = registry.firstIndex(of: "]") {
            return String(registry[...close])
        }
        return String(registry.prefix(while: { $0 != ":" }))
    }

    private static func isLoopbackIPv4(_ host: String) -> Bool {
        let octets = host.split(separator: ".", omittingEmptySubsequences: false).map { UInt8($0) }
        return octets.count == 4 && octets.allSatisfy { $0 != nil } && octets[0] == 127
    }

    private struct TokenKey: Hashable, Sendable {
        let host: String
        /// `repository:<name>:<actions>`, one per repository the token is for.
        let scopes: [String]
    }

    /// Docker's token answer: `token`, or `access_token` as in OAuth 2.
    private struct TokenAnswer: Decodable {
        let token: String?
        let accessToken: String?

        enum CodingKeys: String, CodingKey {
            case token
            case accessToken = "access_token"
        }
    }
}
