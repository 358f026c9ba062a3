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
}
