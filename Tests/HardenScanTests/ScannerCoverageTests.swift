import Foundation
import Testing

@testable import HardenScan

/// Trivy and grype reports say whether the scanner recognised the OS; when it did not, its
/// OS packages are not checked, and that is reported unless another scanner checked them.
@Suite struct ScannerCoverageTests {
    static func report(_ name: String) throws -> Data {
        try Data(contentsOf: fixtures.appendingPathComponent("reports/\(name)"))
    }

    @Test func trivyAndGrypeSayWhetherTheyRecognisedTheOS() throws {
        let trivy = try Self.report("trivy.json")
        #expect(TrivyReport.osDetected(trivy) == true)
        var object = try #require(try JSONSerialization.jsonObject(with: trivy) as? [String: Any])
        object["Metadata"] = [String: Any]()
        #expect(TrivyReport.osDetected(try JSONSerialization.data(withJSONObject: object)) == false)
        object["Metadata"] = nil
        #expect(TrivyReport.osDetected(try JSONSerialization.data(withJSONObject: object)) == nil)

        let grype = try Self.report("grype.json")
        #expect(GrypeReport.osDetected(grype) == nil)  // this report has no distro section
        var withDistro = try #require(try JSONSerialization.jsonObject(with: grype) as? [String: Any])
        withDistro["distro"] = ["name": "debian", "version": "12"]
        #expect(GrypeReport.osDetected(try JSONSerialization.data(withJSONObject: withDistro)) == true)
        withDistro["distro"] = ["name": "debian", "version": ""]
        #expect(GrypeReport.osDetected(try JSONSerialization.data(withJSONObject: withDistro)) == false)
    }

    @Test func packagesAreUncheckedOnlyWhenNoScannerCheckedThem() {
        let packages = [
            Package(kind: .deb, name: "libc6", version: "2.36-9", location: "/var/lib/dpkg/status"),
            Package(kind: .deb, name: "zlib1g", version: "1:1.2.13", location: "/var/lib/dpkg/status"),
            Package(kind: .python, name: "flask", version: "2.2.5", location: "/app"),
        ]
        let trivy = UnmatchedPackages.osPackages(packages, reason: "trivy did not recognise the image's OS release")
        #expect(trivy == [UnmatchedPackages(ecosystem: "deb", reason: trivy[0].reason, count: 2, examples: ["libc6", "zlib1g"])])
        // builtin checked the debs: nothing is unchecked.
        #expect(UnmatchedPackages.uncheckedByAll([[], trivy]).isEmpty)
        // Neither did: one group, both reasons.
        let builtin = [UnmatchedPackages(ecosystem: "deb", reason: "no Debian:12 advisories are loaded", count: 2, examples: ["libc6", "zlib1g"])]
        let both = UnmatchedPackages.uncheckedByAll([builtin, trivy])
        #expect(both.count == 1)
        #expect(both.first?.count == 2)
        #expect(both.first?.reason == "no Debian:12 advisories are loaded; trivy did not recognise the image's OS release")
        #expect(UnmatchedPackages.uncheckedByAll([trivy]) == trivy)
    }
}
