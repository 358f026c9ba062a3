import Foundation
import HardenAdvisories
import Testing

@testable import HardenScan

@Suite struct AdvisoryMatcherTests {
    static func advisory(_ json: String) throws -> OSVAdvisory {
        try JSONDecoder().decode(OSVAdvisory.self, from: Data(json.utf8))
    }

    /// CVE-2023-30861 as OSV publishes it for PyPI (GHSA-m2qf-hxjv-5gpq): Flask before 2.2.5, and 2.3.0–2.3.1.
    static let flask = """
        {"id": "GHSA-m2qf-hxjv-5gpq", "aliases": ["CVE-2023-30861"], "summary": "Flask vulnerable to possible disclosure of permanent session cookie due to missing Vary: Cookie header",
         "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}],
         "affected": [{"package": {"ecosystem": "PyPI", "name": "flask"},
                       "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "2.3.0"}, {"fixed": "2.3.2"}]},
                                  {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.2.5"}]}]}]}
        """

    static let openssl = """
        {"id": "DEBIAN-CVE-2024-5535", "aliases": ["CVE-2024-5535"],
         "affected": [{"package": {"ecosystem": "Debian:12", "name": "openssl"},
                       "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.15-1~deb12u1"}]}],
                       "ecosystem_specific": {"urgency": "not yet assigned"}, "database_specific": {"severity": "low"}}]}
        """

    static let busybox = """
        {"id": "ALPINE-CVE-2023-42363", "affected": [{"package": {"ecosystem": "Alpine:v3.22", "name": "busybox"},
          "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"last_affected": "1.37.0-r18"}]}]}],
          "database_specific": {"severity": "MODERATE"}}
        """

    @Test(arguments: [
        ("2.2.4", true), ("Flask", false), ("2.2.5", false), ("2.3.0", true), ("2.3.1", true), ("2.3.2", false), ("0.12", true),
    ])
    func flaskRanges(version: String, affected: Bool) throws {
        let matcher = try AdvisoryMatcher([try Self.advisory(Self.flask)])
        let found = try matcher.match(
            [Package(kind: .python, name: "Flask", version: version, location: "/app/deps/flask-x.dist-info")], os: nil)
        #expect(found.isEmpty == !affected)
        if affected {
            #expect(found.first?.id == "GHSA-m2qf-hxjv-5gpq")
            #expect(found.first?.aliases == ["CVE-2023-30861"])
            #expect(found.first?.severity == .high)
            #expect(found.first?.fixedVersion == (version.hasPrefix("2.3") ? "2.3.2" : "2.2.5"))
        }
    }

    /// A database file spreads 40 keys over its parallel lanes: every package still gets its own
    /// key's and version's matches, in package order, as the in-memory database gives them.
    @Test func parallelLookupsKeepEveryPackagesOwnMatches() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("harden-lanes-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let advisories = try (0..<40).map { number in
            try Self.advisory(
                """
                {"id": "PYSEC-0000-\(number)", "affected": [{"package": {"ecosystem": "PyPI", "name": "pkg-\(number)"},
                  "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.\(number)"}]}]}]}
                """)
        }
        let writer = try AdvisoryDatabaseWriter(target: directory.appendingPathComponent("advisories.db").path, keepCurrent: false)
        for advisory in advisories { try writer.add(advisory, source: "test") }
        _ = try writer.commit()
        let file = try AdvisoryMatcher(database: try AdvisoryDatabase(path: directory.appendingPathComponent("advisories.db").path))
        // Each package twice: once affected (1.0), once past its fix (3.0), in a shuffled order.
        var packages: [Package] = []
        for number in (0..<40).reversed() {
            for version in number.isMultiple(of: 2) ? ["1.0", "3.0"] : ["3.0", "1.0"] {
                packages.append(
                    Package(kind: .python, name: "pkg_\(number)", version: version, location: "/site-packages/\(number)-\(version)"))
            }
        }
        let found = try file.match(packages, os: nil)
        let expected = packages.filter { $0.version == "1.0" }
        #expect(found.map(\.location) == expected.map(\.location))
        #expect(found.map(\.id) == expected.map { "PYSEC-0000-\($0.name.dropFirst(4))" })
        #expect(found.map(\.fixedVersion) == expected.map { "2.\($0.name.dropFirst(4))" })
        #expect(try AdvisoryMatcher(advisories).match(packages, os: nil) == found)
    }

    @Test func debianAdvisoriesNameSourcePackagesAndOneRelease() throws {
        let matcher = try AdvisoryMatcher([try Self.advisory(Self.openssl)])
        let libssl = Package(
            kind: .deb, name: "libssl3", version: "3.0.11-1~deb12u2", sourceName: "openssl", location: "/var/lib/dpkg/status")
        let bookworm = OperatingSystem(id: "debian", versionID: "12")
        let found = try matcher.match([libssl], os: bookworm)
        #expect(found.map(\.package) == ["libssl3"])
        #expect(found.first?.fixedVersion == "3.0.15-1~deb12u1")
        #expect(found.first?.severity == .low)
        #expect(try matcher.match([libssl], os: OperatingSystem(id: "debian", versionID: "11")).isEmpty)
        #expect(try matcher.match([libssl], os: OperatingSystem(id: "alpine", versionID: "3.22.2")).isEmpty)
        var fixed = libssl
        fixed.version = "3.0.15-1~deb12u1"
        #expect(try matcher.match([fixed], os: bookworm).isEmpty)
    }

    @Test func lastAffectedAndExplicitVersions() throws {
        let matcher = try AdvisoryMatcher([
            try Self.advisory(Self.busybox),
            try Self.advisory(
                #"{"id": "X-1", "affected": [{"package": {"ecosystem": "PyPI", "name": "Some_Package"}, "versions": ["1.0", "1.1"]}]}"#
            ),
        ])
        let alpine = OperatingSystem(id: "alpine", versionID: "3.22.2")
        #expect(
            try matcher.match([Package(kind: .apk, name: "busybox", version: "1.37.0-r18", location: "")], os: alpine).first?.severity
                == .medium)
        #expect(try matcher.match([Package(kind: .apk, name: "busybox", version: "1.37.0-r19", location: "")], os: alpine).isEmpty)
        #expect(
            try matcher.match([Package(kind: .python, name: "some-package", version: "1.1", location: "")], os: nil).first?
                .fixedVersion == nil)
        #expect(try matcher.match([Package(kind: .python, name: "some.package", version: "1.2", location: "")], os: nil).isEmpty)
    }

    @Test func withdrawnAdvisoriesAreIgnored() throws {
        var advisory = try Self.advisory(Self.flask)
        advisory.withdrawn = "2024-01-01T00:00:00Z"
        #expect(
            try AdvisoryMatcher([advisory]).match([Package(kind: .python, name: "flask", version: "2.2.4", location: "")], os: nil)
                .isEmpty)
    }

    @Test(arguments: [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8), ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0), ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),
        ("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N", 3.1), ("CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
    ])
    func cvss(vector: String, score: Double) {
        #expect(CVSS3.baseScore(vector) == score)
    }

    @Test func badVectorsHaveNoScore() {
        #expect(CVSS3.baseScore("CVSS:2.0/AV:N") == nil)
        #expect(CVSS3.baseScore("CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H") == nil)
    }

    /// OS packages harden cannot check are counted with the reason, never taken as clean.
    @Test func packagesThatCannotBeCheckedAreCountedWithTheReason() throws {
        let matcher = try AdvisoryMatcher([try Self.advisory(Self.openssl)])
        let debs = ["base-files", "libc6", "libssl3", "zlib1g", "tzdata", "libffi8"].map {
            Package(kind: .deb, name: $0, version: "1.0-1", location: "/var/lib/dpkg/status")
        }
        let flask = Package(kind: .python, name: "Flask", version: "2.2.5", location: "/app/deps")
        let cases: [(OperatingSystem?, String?)] = [
            (nil, "the image has no /etc/os-release, so its Debian release is unknown"),
            (OperatingSystem(id: "debian"), "the image's os-release has no VERSION_ID, so its Debian release is unknown"),
            (OperatingSystem(id: "ubuntu", versionID: "24.04"), "the image's os-release says ID=ubuntu, which has no Debian advisories to match"),
            (OperatingSystem(id: "debian", versionID: "11"), "no Debian:11 advisories are loaded"),
            (OperatingSystem(id: "debian", versionID: "12"), nil),
        ]
        for (os, reason) in cases {
            let groups = matcher.unmatched(debs + [flask], os: os)
            let debGroups = groups.filter { $0.ecosystem == "deb" }
            if let reason {
                #expect(debGroups == [
                    UnmatchedPackages(
                        ecosystem: "deb", reason: reason, count: 6,
                        examples: ["base-files", "libc6", "libssl3", "zlib1g", "tzdata"])
                ], "\(String(describing: os))")
                #expect(debGroups.first?.summary == "6 deb packages (base-files, libc6, libssl3, zlib1g, tzdata, …) — \(reason)")
            } else {
                #expect(debGroups.isEmpty, "\(String(describing: os))")
            }
            // No PyPI advisory is loaded: the Python package is not checked either, whatever the OS.
            #expect(groups.filter { $0.ecosystem == "python" }.map(\.reason) == ["no PyPI advisories are loaded"])
        }
        #expect(try AdvisoryMatcher().unmatched([], os: nil).isEmpty)
    }
}
