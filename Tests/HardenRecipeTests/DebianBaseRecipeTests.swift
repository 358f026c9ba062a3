import Foundation
import Testing

@testable import HardenRecipe

/// `runtime.from.debian`: a runtime base made from Debian packages.
@Suite struct DebianBaseRecipeTests {
    static func recipe(_ debian: String, extra: String = "") -> String {
        """
        name: deb
        context: app
        runtime:
          from:
            debian:
        \(debian.split(separator: "\n").map { "      " + $0 }.joined(separator: "\n"))
          user: "65532"
        \(extra)
        """
    }

    @Test func debianSettingsLoadWithTheirDefaults() throws {
        let project = try TemporaryProject()
        let loaded = try project.load(
            Self.recipe("suite: bookworm\npackages: [python3.11-minimal, ca-certificates]\nexclude: [libreadline8]"))
        let runtime = try #require(loaded.recipe.runtime)
        #expect(runtime.from == "harden-base/deb")
        let base = try #require(runtime.debian)
        #expect(base.suite == "bookworm")
        #expect(base.packages == ["python3.11-minimal", "ca-certificates"])
        #expect(base.exclude == ["libreadline8"])
        #expect(base.updates && base.security)
        #expect(base.installOnly == nil && base.mirror == nil && base.architecture == nil)
        #expect(loaded.recipe.baseImages.isEmpty, "an assembled base is not looked up in the engine")
    }

    @Test func accountsAndLayeringLoadAndLeaveTheRequestAlone() throws {
        let project = try TemporaryProject()
        let loaded = try project.load(
            Self.recipe(
                "suite: bookworm\npackages: [python3.11-minimal]\nusers: [{name: app, uid: 10001}, {name: web, uid: 10002, gid: 10001, home: /srv/web}]\nlayering: [[libc6], [python3.11-minimal]]"
            ).replacingOccurrences(of: "user: \"65532\"", with: "user: app:web"))
        let base = try #require(loaded.recipe.runtime?.debian)
        #expect(
            base.users == [DebianUser(name: "app", uid: 10001), DebianUser(name: "web", uid: 10002, gid: 10001, home: "/srv/web")])
        #expect(base.users?.first?.home == "/home/app" && base.users?.first?.gid == 10001)
        #expect(base.layering == [["libc6"], ["python3.11-minimal"]])
        #expect(base.resolutionSettings == DebianBase(suite: "bookworm", packages: ["python3.11-minimal"]))
    }

    @Test func everyMistakeNamesItsPlace() throws {
        let project = try TemporaryProject()
        let cases: [(String, String, String)] = [
            (Self.recipe("suite: bookworm\npackages: [Python3]"), "test.yaml:7:18", "'Python3' is not a Debian package name"),
            (Self.recipe("suite: bookworm\npackages: []"), "test.yaml:7:17", "must name at least one package"),
            (Self.recipe("packages: [tzdata]"), "test.yaml:6:7", "missing required key 'suite'"),
            (Self.recipe("suite: bookworm\npackages: [tzdata]\nmirorr: http://x"), "test.yaml:8:7", "did you mean 'mirror'?"),
            (Self.recipe("suite: bookworm\npackages: [tzdata]\nmirror: ftp://x/debian"), "test.yaml:8:15", "is not a mirror URL"),
            (Self.recipe("suite: bookworm\npackages: [tzdata]\nexclude: [tzdata]"), "test.yaml:6:7", "both asked for in packages and excluded"),
            (
                Self.recipe("suite: bookworm\npackages: [tzdata]", extra: "  run: [echo hi]"), "test.yaml:9:8",
                "runtime.run needs a shell"
            ),
            (Self.recipe("suite: bookworm\npackages: [tzdata]\nusers: [{name: App, uid: 5}]"), "test.yaml:8:22", "is not an account name"),
            (Self.recipe("suite: bookworm\npackages: [tzdata]\nusers: [{name: app}]"), "test.yaml:8:15", "missing required key 'uid'"),
            (Self.recipe("suite: bookworm\npackages: [tzdata]\nusers: [{name: app, uid: 0}]"), "test.yaml:8:32", "must be a whole number from 1"),
            (Self.recipe("suite: bookworm\npackages: [tzdata]\nusers: [{name: nonroot, uid: 7}]"), "test.yaml:8:22", "always in a Debian base"),
            (Self.recipe("suite: bookworm\npackages: [tzdata]\nusers: [{name: app, uid: 65532}]"), "test.yaml:8:32", "nonroot's"),
            (
                Self.recipe("suite: bookworm\npackages: [tzdata]\nusers: [{name: a1, uid: 9}, {name: a2, uid: 9}]"), "test.yaml:8:51",
                "uid 9 is given twice"
            ),
            (Self.recipe("suite: bookworm\npackages: [tzdata]\nlayering: [[tzdata], []]"), "test.yaml:8:28", "must name at least one package"),
            (Self.recipe("suite: bookworm\npackages: [tzdata]\nlayering: [[tzdata], [tzdata]]"), "test.yaml:8:28", "is in two groups"),
            (
                Self.recipe("suite: bookworm\npackages: [tzdata]").replacingOccurrences(of: "user: \"65532\"", with: "user: app"),
                "test.yaml:8:9", "app has no account in this Debian base (it has root, nonroot)"
            ),
        ]
        for (yaml, place, message) in cases {
            let error = try #require(project.error(yaml), "\(yaml)")
            #expect(error.description.contains(place) && error.description.contains(message), "\(error.description)")
        }
    }
}
