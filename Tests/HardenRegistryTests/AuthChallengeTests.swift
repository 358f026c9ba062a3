import Testing

@testable import HardenRegistry

struct AuthChallengeTests {
    @Test func bearerWithQuotedParameters() throws {
        let challenge = try #require(
            AuthChallenge(
                header:
                    #"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#
            ))
        #expect(challenge.scheme == "bearer")
        #expect(
            challenge.parameters == [
                "realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                "scope": "repository:library/alpine:pull",
            ])
    }

    @Test func basicWithSpacesEscapesAndBareValues() throws {
        let challenge = try #require(AuthChallenge(header: #"Basic  Realm = "a \"quoted\", realm" , charset=UTF-8"#))
        #expect(challenge.scheme == "basic")
        #expect(challenge.parameters == ["realm": #"a "quoted", realm"#, "charset": "UTF-8"])
    }

    @Test func onlyTheFirstChallengeIsRead() throws {
        let challenge = try #require(AuthChallenge(header: #"Bearer realm="r", Basic realm="b""#))
        #expect(challenge.scheme == "bearer")
        #expect(challenge.parameters == ["realm": "r"])
    }

    @Test func emptyHeaderIsNoChallenge() {
        #expect(AuthChallenge(header: "  ") == nil)
    }
}
