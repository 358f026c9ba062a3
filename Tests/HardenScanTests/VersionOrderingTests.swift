import Foundation
import HardenProcess
import HardenVersions
import Testing

@testable import HardenScan

/// Tricky pairs for each ecosystem's version order: each `(lower, higher)`.
@Suite struct VersionOrderingTests {
    @Test(arguments: [
        ("1.0", "1.1"), ("1.0~rc1", "1.0"), ("1.0~~", "1.0~"), ("1.0~", "1.0"), ("1.0", "1.0+b1"), ("1.0", "1.0a"),
        ("1.0a", "1.0+"), ("1:0.9", "2:0.1"), ("9.9", "1:0.1"), ("1.0-1", "1.0-2"), ("1.0-9", "1.0-10"),
        ("2.36-9+deb12u3", "2.36-9+deb12u4"), ("2.36-9+deb12u9", "2.36-9+deb12u10"), ("3.0.11-1~deb12u2", "3.0.11-1"),
        ("1.2.3", "1.2.10"), ("1.0-1", "1.0.1-1"), ("7.88.1-10+deb12u5", "7.88.1-10+deb12u12"), ("1.0.0", "1.0.0-0.1"),
        ("0.0", "0.0.0"),
    ])
    func debian(lower: String, higher: String) throws {
        let a = try #require(DebianVersion(lower))
        let b = try #require(DebianVersion(higher))
        #expect(a < b, "\(lower) < \(higher)")
        #expect(!(b < a))
    }

    @Test(arguments: [("1.0", "1.00"), ("0:1.0", "1.0"), ("1.0-0", "1.0-00"), ("01.2", "1.2")])
    func debianEqual(a: String, b: String) throws {
        #expect(try #require(DebianVersion(a)) == (try #require(DebianVersion(b))))
    }

    @Test(arguments: [
        ("1.0", "1.1"), ("1.0_alpha1", "1.0_beta1"), ("1.0_beta2", "1.0_pre1"), ("1.0_pre1", "1.0_rc1"), ("1.0_rc1", "1.0"),
        ("1.0", "1.0_p1"), ("1.0_cvs", "1.0_svn"), ("1.0_git", "1.0_p"), ("1.0-r0", "1.0-r1"), ("1.0-r9", "1.0-r10"),
        ("1.0", "1.0a"), ("1.0a", "1.0b"), ("1.0", "1.0.1"), ("1.01", "1.1"), ("1.2.9", "1.2.10"), ("3.5.1-r0", "3.5.4-r0"),
        ("1.0_rc1", "1.0.1"), ("2.14.0-r3", "2.14.1-r0"), ("1.0_p1", "1.0_p2"),
    ])
    func alpine(lower: String, higher: String) throws {
        let a = try #require(AlpineVersion(lower))
        let b = try #require(AlpineVersion(higher))
        #expect(a < b, "\(lower) < \(higher)")
        #expect(!(b < a))
    }

    @Test(arguments: [
        ("1.0.dev0", "1.0a1"), ("1.0a1", "1.0a2.dev1"), ("1.0a2.dev1", "1.0a2"), ("1.0a2", "1.0b1"), ("1.0b1", "1.0rc1"),
        ("1.0rc1", "1.0"), ("1.0", "1.0.post1.dev1"), ("1.0.post1.dev1", "1.0.post1"), ("1.0.post1", "1.0.1"),
        ("1.0", "1.0+local"), ("1.0+abc", "1.0+1"), ("1.0+1", "1.0+1.1"), ("1.0+1.2", "1.0+1.10"), ("2.2.4", "2.2.5"),
        ("2.2.5", "2.3.0"), ("1.9", "1.10"), ("1!0.1", "2!0.0"), ("9999", "1!0"), ("1.0c1", "1.0"), ("1.0-1", "1.0.post2"),
        ("1.0.0a1", "1.0.0"), ("1.0.dev1", "1.0.dev2"), ("25.2", "25.3"),
    ])
    func python(lower: String, higher: String) throws {
        let a = try #require(PythonVersion(lower))
        let b = try #require(PythonVersion(higher))
        #expect(a < b, "\(lower) < \(higher)")
        #expect(!(b < a))
    }

    @Test(arguments: [
        ("1.0", "1.0.0"), ("1.0.0", "v1.0"), ("1.0alpha1", "1.0a1"), ("1.0-rc.1", "1.0rc1"), ("1.0c1", "1.0rc1"),
        ("1.0-post-1", "1.0.post1"), ("1.0rev1", "1.0.post1"), ("1.0-dev", "1.0.dev0"), ("1.0a", "1.0a0"), ("0!1.0", "1.0"),
        ("1.0+ubuntu-1", "1.0+ubuntu.1"),
    ])
    func pythonEqual(a: String, b: String) throws {
        #expect(try #require(PythonVersion(a)) == (try #require(PythonVersion(b))))
    }

    @Test(arguments: ["", "abc", "1.0+", "1.0 beta", "1..0", "1.0+a b", "1.0.post1.garbage"])
    func invalidPython(text: String) {
        #expect(PythonVersion(text) == nil)
    }

    @Test(arguments: ["", "1.0-rx", "1.0_foo1", "a.b", "1..0"])
    func invalidAlpine(text: String) {
        #expect(AlpineVersion(text) == nil)
    }

    /// Numeric components past 64 bits keep their order (they once failed to parse, or wrapped to 0).
    @Test(arguments: [
        ("2020.8.19", "1101051031041161081211101051031041161081"), ("1.99999999999999999999", "1.100000000000000000000"),
        ("1.0.post99999999999999999999", "1.0.post100000000000000000000"), ("99999999999999999999!1.0", "100000000000000000000!0.1"),
        ("1.0+99999999999999999999", "1.0+100000000000000000000"), ("1.0a99999999999999999999", "1.0a100000000000000000000"),
    ])
    func pythonLongNumbers(lower: String, higher: String) throws {
        let a = try #require(PythonVersion(lower))
        let b = try #require(PythonVersion(higher))
        #expect(a < b, "\(lower) < \(higher)")
        #expect(!(b < a))
    }

    @Test(arguments: [
        ("1.0_p99999999999999999999", "1.0_p100000000000000000000"), ("1.0-r99999999999999999999", "1.0-r100000000000000000000"),
        ("1.99999999999999999999", "1.100000000000000000000"),
    ])
    func alpineLongNumbers(lower: String, higher: String) throws {
        let a = try #require(AlpineVersion(lower))
        let b = try #require(AlpineVersion(higher))
        #expect(a < b, "\(lower) < \(higher)")
        #expect(!(b < a))
    }

    @Test func debianLongNumbers() throws {
        let a = try #require(DebianVersion("1.99999999999999999999999-1"))
        let b = try #require(DebianVersion("1.100000000000000000000000-1"))
        #expect(a < b)
    }

    /// The order PyPA's `packaging` gives the same versions, as an independent check.
    @Test func pythonOrderMatchesPackaging() async throws {
        let versions = [
            "1101051031041161081211101051031041161081", "2020.8.19", "1.0", "1.0.post1", "1.0.dev3", "1.0a1", "1.0rc2",
            "1.0+local.7", "1.0.post1.dev2", "1!0.5", "0.9.99999999999999999999", "0.9.100000000000000000000", "2.2.5",
            "2.2.10", "1.0b2.post3", "1.0.0.0.1", "3.0.0a10", "3.0.0a9", "18446744073709551616", "18446744073709551615",
        ]
        let script = "import json, sys\nfrom packaging.version import Version\n"
            + "print(json.dumps(sorted(json.loads(sys.argv[1]), key=Version)))"
        let argument = String(decoding: try JSONEncoder().encode(versions), as: UTF8.self)
        let result = try await ProcessRunner().run(Command("python3", ["-c", script, argument], timeout: .seconds(60)))
        try #require(result.succeeded, "python3 with packaging is needed (pip install packaging): \(result.output)")
        let answer = Data(result.output.utf8)
        let expected = try JSONDecoder().decode([String].self, from: answer)
        let parsed = try versions.map { try #require(PythonVersion($0), "\($0)") }
        #expect(parsed.sorted().map(\.description) == expected)
    }
}
