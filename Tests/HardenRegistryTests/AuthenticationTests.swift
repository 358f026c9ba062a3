import Foundation
import HardenRegistry
import HardenTestSupport
import Testing

/// `RegistryClient` against a real docker-registry asking for basic credentials (htpasswd) or for tokens
/// from a real token service (distribution's `auth: token`, RS256 JWTs).
@Suite(.timeLimit(.minutes(2))) struct AuthenticationTests {
    @Test func basicAuthWithLoginFromDockerConfig() async throws {
        try await LocalRegistry.run(auth: .htpasswd(user: "reader", password: "s3cret")) { registry in
            let image = try await ImagePusher(registry: registry.baseURL, authorization: basic("reader:s3cret"))
                .push(repository: "private/app", tag: "1.0", label: "basic")
            let credentials = try await dockerConfig(
                #"{"auths": {"\#(registry.host)": {"auth": "\#(base64("reader:s3cret"))"}}}"#)
            let reference = try ImageReference(parsing: "\(registry.host)/private/app:1.0")
            #expect(try await RegistryClient(credentials: credentials).digest(of: reference) == image.digest)
        }
    }

    @Test func basicAuthWithoutLoginSaysToLogIn() async throws {
        try await LocalRegistry.run(auth: .htpasswd(user: "reader", password: "s3cret")) { registry in
            let reference = try ImageReference(parsing: "\(registry.host)/private/app:1.0")
            let error = await #expect(throws: RegistryError.self) { try await RegistryClient().digest(of: reference) }
            #expect(error?.code == .credentialsMissing)
            #expect(error?.description.contains("docker login \(registry.host)") == true)

            // A credential helper is named, not run.
            let helped = try await dockerConfig(#"{"auths": {}, "credsStore": "desktop"}"#)
            let helpedError = await #expect(throws: RegistryError.self) {
                try await RegistryClient(credentials: helped).digest(of: reference)
            }
            #expect(helpedError?.code == .credentialsMissing)
            #expect(helpedError?.hint?.contains("docker-credential-desktop, which harden does not run") == true)
        }
    }

    @Test func basicAuthWithWrongPasswordIsRefused() async throws {
        try await LocalRegistry.run(auth: .htpasswd(user: "reader", password: "s3cret")) { registry in
            let credentials = DockerCredentials(logins: [registry.host: .init(username: "reader", password: "wrong")])
            let reference = try ImageReference(parsing: "\(registry.host)/private/app:1.0")
            let error = await #expect(throws: RegistryError.self) {
                try await RegistryClient(credentials: credentials).digest(of: reference)
            }
            #expect(error?.code == .credentialsRefused)
            #expect(error?.description.contains("refused user reader") == true)
        }
    }

    @Test(arguments: ["token", "access_token"])
    func anonymousTokenIsFetchedOncePerRepository(field: String) async throws {
        try await TokenService.run(field: field) { tokens in
            try await LocalRegistry.run(auth: tokens.registryAuth) { registry in
                let pushToken = try await tokens.token(scope: "repository:demo/app:pull,push", login: nil)
                let pusher = ImagePusher(registry: registry.baseURL, authorization: "Bearer \(pushToken)")
                let one = try await pusher.push(repository: "demo/app", tag: "1", label: "one")
                let two = try await pusher.push(repository: "demo/app", tag: "2", label: "two")

                let client = RegistryClient()
                #expect(try await client.digest(of: ImageReference(parsing: "\(registry.host)/demo/app:1")) == one.digest)
                #expect(try await client.digest(of: ImageReference(parsing: "\(registry.host)/demo/app:2")) == two.digest)
                #expect(tokens.issued(scope: "repository:demo/app:pull") == [""])
            }
        }
    }

    @Test func tokenServiceAskingForLogin() async throws {
        try await TokenService.run(login: "reader:s3cret") { tokens in
            try await LocalRegistry.run(auth: tokens.registryAuth) { registry in
                let pushToken = try await tokens.token(scope: "repository:private/app:pull,push", login: "reader:s3cret")
                let image = try await ImagePusher(registry: registry.baseURL, authorization: "Bearer \(pushToken)")
                    .push(repository: "private/app", tag: "1.0", label: "token")
                let reference = try ImageReference(parsing: "\(registry.host)/private/app:1.0")

                let credentials = DockerCredentials(logins: [registry.host: .init(username: "reader", password: "s3cret")])
                #expect(try await RegistryClient(credentials: credentials).digest(of: reference) == image.digest)
                #expect(tokens.issued(scope: "repository:private/app:pull") == ["reader"])

                let anonymous = await #expect(throws: RegistryError.self) { try await RegistryClient().digest(of: reference) }
                #expect(anonymous?.code == .credentialsMissing)
                #expect(anonymous?.description.contains("docker login \(registry.host)") == true)

                let wrong = DockerCredentials(logins: [registry.host: .init(username: "reader", password: "wrong")])
                let refused = await #expect(throws: RegistryError.self) {
                    try await RegistryClient(credentials: wrong).digest(of: reference)
                }
                #expect(refused?.code == .credentialsRefused)
                #expect(refused?.description.contains("refused user reader") == true)
            }
        }
    }

    private func basic(_ login: String) -> String {
        "Basic " + base64(login)
    }

    private func base64(_ text: String) -> String {
        Data(text.utf8).base64EncodedString()
    }

    /// Credentials read back from a docker config file holding `json`.
    private func dockerConfig(_ json: String) async throws -> DockerCredentials {
        try await withScratchDirectory { directory in
            let file = directory.appendingPathComponent("config.json")
            try json.write(to: file, atomically: true, encoding: .utf8)
            return try DockerCredentials.load(path: file.path)
        }
    }
}
