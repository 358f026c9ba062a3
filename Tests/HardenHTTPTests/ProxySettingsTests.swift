import Foundation
import Testing

@testable import HardenHTTP

@Suite struct ProxySettingsTests {
    let settings = ProxySettings(environment: [
        "https_proxy": "http://proxy.corp:3128", "HTTP_PROXY": "plain.corp", "no_proxy": "internal.corp, .mirror.example,",
    ])

    @Test(arguments: [
        ("https://registry-1.docker.io/v2/", "proxy.corp:3128"),
        ("http://registry.example:5000/v2/", "plain.corp:80"),
        ("https://internal.corp/v2/", nil),
        ("https://eu.mirror.example/v2/", nil),
        ("https://mirror.example/v2/", nil),
        ("https://notinternal.corp/v2/", "proxy.corp:3128"),
        ("http://127.0.0.1:5000/v2/", nil),
        ("http://localhost:5000/v2/", nil),
        ("http://[::1]:5000/v2/", nil),
    ])
    func eachURLGoesThroughTheRightProxy(url: String, expected: String?) throws {
        let proxy = settings.proxy(for: try #require(URL(string: url)))
        #expect(proxy.map { "\($0.host):\($0.port)" } == expected)
    }

    @Test func noProxyStarAndNoSettingsGoDirect() throws {
        let url = try #require(URL(string: "https://ghcr.io/v2/"))
        #expect(ProxySettings(environment: ["https_proxy": "proxy:1", "NO_PROXY": "*"]).proxy(for: url) == nil)
        #expect(ProxySettings(environment: [:]).proxy(for: url) == nil)
        #expect(ProxySettings(environment: ["https_proxy": ""]).proxy(for: url) == nil)
    }
}
