import Foundation
import HardenRegistry
import HardenTestSupport
import Testing

struct DockerCredentialsTests {
    @Test func authFieldIsBase64UserColonPassword() async throws {
        let credentials = try await load(#"{"auths": {"registry.example.com": {"auth": "\#(base64("me:pa:ss"))"}}}"#)
        #expect(credentials.login(for: "registry.example.com") == .init(username: "me", password: "pa:ss"))
        #expect(credentials.login(for: "other.example.com") == nil)
    }

    @Test func usernameAndPasswordFields() async throws {
        let credentials = try await load(#"{"auths": {"localhost:5000": {"username": "me", "password": "pw"}}}"#)
        #expect(credentials.login(for: "localhost:5000") == .init(username: "me", password: "pw"))
        #expect(credentials.login(for: "localhost") == nil)
    }

    @Test(arguments: ["https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io"])
    func dockerHubAliases(key: String) async throws {
        let credentials = try await load(#"{"auths": {"\#(key)": {"auth": "\#(base64("hub:pw"))"}}}"#)
        for registry in ["docker.io", "index.docker.io", "registry-1.docker.io"] {
            #expect(credentials.login(for: registry) == .init(username: "hub", password: "pw"))
        }
    }

    @Test func keysWithSchemeAndPath() async throws {
        let credentials = try await load(#"{"auths": {"https://registry.example.com/v2/": {"auth": "\#(base64("a:b"))"}}}"#)
        #expect(credentials.login(for: "registry.example.com")?.username == "a")
    }

    @Test func helpersAreRecordedNotRun() async throws {
        let credentials = try await load(
            #"{"auths": {"https://index.docker.io/v1/": {}}, "credsStore": "desktop", "credHelpers": {"gcr.io": "gcloud"}}"#)
        #expect(credentials.login(for: "docker.io") == nil)
        #expect(credentials.helper(for: "gcr.io") == "gcloud")
        #expect(credentials.helper(for: "docker.io") == "desktop")
    }

    @Test func missingFileMeansNoCredentials() throws {
        let path = "/nonexistent/harden/config.json"
        let credentials = try DockerCredentials.load(path: path)
        #expect(credentials.logins.isEmpty)
        #expect(credentials.path == path)
    }

    @Test(arguments: [
        (#"{"auths": "#, "not a docker config"),
        (#"{"auths": []}"#, "not a docker config"),
        (#"{"auths": {"x.io": {"auth": "%%%"}}}"#, #"auths["x.io"].auth is not base64"#),
        (#"{"auths": {"x.io": {"auth": "\#(Data("nocolon".utf8).base64EncodedString())"}}}"#, "is not base64 of user:password"),
    ])
    func malformedFileIsAnErrorNamingIt(json: String, problem: String) async throws {
        try await withScratchDirectory { directory in
            let file = directory.appendingPathComponent("config.json")
            try json.write(to: file, atomically: true, encoding: .utf8)
            let error = #expect(throws: RegistryError.self) { try DockerCredentials.load(path: file.path) }
            #expect(error?.code == .invalidCredentialsFile)
            #expect(error?.message.contains(file.path) == true)
            #expect(error?.message.contains(problem) == true, "\(error?.message ?? "")")
        }
    }

    @Test func configPathFollowsDockerConfigThenHome() {
        #expect(DockerCredentials.configPath(environment: ["DOCKER_CONFIG": "/etc/d", "HOME": "/h"]) == "/etc/d/config.json")
        #expect(DockerCredentials.configPath(environment: ["HOME": "/h"]) == "/h/.docker/config.json")
    }

    @Test func loadReadsTheFileTheEnvironmentNames() async throws {
        try await withScratchDirectory { directory in
            try #"{"auths": {"r.io": {"username": "u", "password": "p"}}}"#
                .write(to: directory.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
            let credentials = try DockerCredentials.load(environment: ["DOCKER_CONFIG": directory.path])
            #expect(credentials.login(for: "r.io")?.password == "p")
        }
    }

    private func base64(_ text: String) -> String {
        Data(text.utf8).base64EncodedString()
    }

    private func load(_ json: String) async throws -> DockerCredentials {
        try await withScratchDirectory { directory in
            let file = directory.appendingPathComponent("config.json")
            try json.write(to: file, atomically: true, encoding: .utf8)
            return try DockerCredentials.load(path: file.path)
        }
    }
}
