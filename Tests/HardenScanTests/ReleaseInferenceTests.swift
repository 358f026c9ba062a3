import Foundation
import Testing

@testable import HardenScan

@Suite struct ReleaseInferenceTests {
    static func deb(_ name: String, _ version: String) -> Package {
        Package(kind: .deb, name: name, version: version, location: "/var/lib/dpkg/status")
    }

    @Test func debianFromBaseFilesThenFromUnanimousSuffixes() {
        let withBaseFiles = Catalog(os: nil, packages: [Self.deb("base-files", "12.4+deb12u5"), Self.deb("zlib1g", "1:1.2.13.dfsg-1")])
        #expect(InferredRelease.resolve(withBaseFiles).inferred?.evidence == "base-files 12.4+deb12u5")
        #expect(InferredRelease.resolve(withBaseFiles).os == OperatingSystem(id: "debian", versionID: "12"))

        let suffixes = Catalog(
            os: nil,
            packages: [
                Self.deb("libssl3", "3.0.15-1~deb12u1"), Self.deb("zlib1g", "1:1.2.13.dfsg-1+deb12u1"),
                Self.deb("libc6", "2.36-9+deb12u9"), Self.deb("tzdata", "2025b-0+deb12u1"), Self.deb("netbase", "6.4"),
            ])
        #expect(InferredRelease.resolve(suffixes).os?.versionID == "12")
        #expect(InferredRelease.resolve(suffixes).inferred?.evidence == "4 packages with +deb12uN or ~deb12uN versions")

        // Two releases named, or too few packages: no guess.
        var mixed = suffixes
        mixed.packages.append(Self.deb("libfoo1", "1.0-1+deb11u3"))
        #expect(InferredRelease.resolve(mixed).inferred == nil)
        let few = Catalog(os: nil, packages: [Self.deb("libssl3", "3.0.15-1~deb12u1"), Self.deb("libc6", "2.36-9+deb12u9")])
        #expect(InferredRelease.resolve(few).inferred == nil)
        #expect(InferredRelease.resolve(few).os == nil)
    }

    @Test func anImageThatSaysItsReleaseIsTakenAtItsWord() {
        let stated = Catalog(
            os: OperatingSystem(id: "debian", versionID: "11"), packages: [Self.deb("base-files", "12.4+deb12u5")])
        #expect(InferredRelease.resolve(stated).inferred == nil)
        #expect(InferredRelease.resolve(stated).os?.versionID == "11")
        // ID without VERSION_ID (Debian testing): the package says it.
        let testing = Catalog(os: OperatingSystem(id: "debian"), packages: [Self.deb("base-files", "13.8")])
        #expect(InferredRelease.resolve(testing).os?.versionID == "13")
        // Ubuntu's base-files is not Debian's: no guess from it.
        let ubuntu = Catalog(os: nil, packages: [Self.deb("base-files", "12ubuntu4.6")])
        #expect(InferredRelease.resolve(ubuntu).inferred == nil)
        let alpine = Catalog(os: nil, packages: [Package(kind: .apk, name: "alpine-release", version: "3.22.2-r0", location: "")])
        #expect(InferredRelease.resolve(alpine).os?.osvEcosystem == "Alpine:v3.22")
    }
}
