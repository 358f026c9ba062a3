import Foundation
import Testing

@testable import HardenScan

@Suite struct PackageDatabaseTests {
    @Test func dpkgStatusKeepsInstalledPackagesAndTheirSources() {
        let status = """
            Package: libssl3
            Status: install ok installed
            Priority: optional
            Architecture: amd64
            Multi-Arch: same
            Source: openssl (3.0.11-1~deb12u2)
            Version: 3.0.11-1~deb12u2
            Description: Secure Sockets Layer toolkit - shared libraries
             This package is part of the OpenSSL project's implementation.
             Package: not-a-package

            Package: removed-thing
            Status: deinstall ok config-files
            Version: 1.0

            Package: dash
            Status: install ok installed
            Architecture: amd64
            Version: 0.5.12-2
            """
        let packages = PackageDatabases.dpkg(Data(status.utf8), location: "/var/lib/dpkg/status", layer: 0)
        #expect(packages.map(\.name) == ["libssl3", "dash"])
        #expect(packages[0].sourceName == "openssl")
        #expect(packages[0].sourceVersion == "3.0.11-1~deb12u2")
        #expect(packages[0].architecture == "amd64")
        #expect(packages[1].sourceName == nil)
        #expect(
            packages[0].purl(os: OperatingSystem(id: "debian", versionID: "12"))
                == "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl")
    }

    /// purl components keep ASCII letters, digits and `.-_~+`; the rest is percent-encoded UTF-8.
    @Test func purlComponentsArePercentEncoded() {
        #expect(Package.percentEncoded("1:1.2.13.dfsg-1") == "1%3A1.2.13.dfsg-1")
        #expect(Package.percentEncoded("2.36-9+deb12u10~x_y") == "2.36-9+deb12u10~x_y")
        #expect(Package.percentEncoded("a b/c@d?e") == "a%20b%2Fc%40d%3Fe")
        #expect(Package.percentEncoded("café") == "caf%C3%A9")
    }

    @Test func distrolessStatusFilesHaveNoStatusLine() {
        let record = "Package: libc6\nVersion: 2.36-9+deb12u10\nArchitecture: amd64\nSource: glibc\n"
        let packages = PackageDatabases.dpkg(Data(record.utf8), location: "/var/lib/dpkg/status.d/libc6", layer: 1)
        #expect(packages.map(\.name) == ["libc6"])
        #expect(packages.first?.layer == 1)
        #expect(PackageDatabases.wanted("/var/lib/dpkg/status.d/libc6"))
        #expect(!PackageDatabases.wanted("/var/lib/dpkg/status.d/libc6.md5sums"))
    }

    @Test func apkInstalled() {
        let installed =
            "C:Q1abc=\nP:busybox\nV:1.37.0-r18\nA:x86_64\no:busybox\nF:bin\nR:busybox\n\nP:python3\nV:3.12.11-r0\nA:x86_64\no:python3\n"
        let packages = PackageDatabases.apk(Data(installed.utf8), location: "/lib/apk/db/installed", layer: 0)
        #expect(packages.map(\.name) == ["busybox", "python3"])
        #expect(packages.map(\.version) == ["1.37.0-r18", "3.12.11-r0"])
        #expect(
            packages[1].purl(os: OperatingSystem(id: "alpine", versionID: "3.22.2"))
                == "pkg:apk/alpine/python3@3.12.11-r0?arch=x86_64&distro=alpine-3.22.2")
    }

    @Test func pythonMetadata() {
        let metadata = "Metadata-Version: 2.1\nName: Flask\nVersion: 2.2.5\nSummary: A simple framework\n\nName: not this\n"
        let package = PackageDatabases.python(Data(metadata.utf8), location: "/app/deps/Flask-2.2.5.dist-info", layer: 2)
        #expect(package?.name == "Flask")
        #expect(package?.version == "2.2.5")
        #expect(package?.purl(os: nil) == "pkg:pypi/flask@2.2.5")
        #expect(PackageDatabases.python(Data("Name: x\n".utf8), location: "", layer: nil) == nil)
    }

    @Test func osRelease() {
        let text = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n"
        let os = PackageDatabases.osRelease(Data(text.utf8))
        #expect(os == OperatingSystem(id: "debian", versionID: "12", prettyName: "Debian GNU/Linux 12 (bookworm)"))
        #expect(os?.osvEcosystem == "Debian:12")
        #expect(OperatingSystem(id: "alpine", versionID: "3.22.2").osvEcosystem == "Alpine:v3.22")
    }

    @Test(arguments: [
        ("Flask", "flask"), ("Flask_Login", "flask-login"), ("zope.interface", "zope-interface"), ("A--B__c", "a-b-c"),
    ])
    func pythonNames(name: String, normalized: String) {
        #expect(Package.normalizePython(name) == normalized)
    }
}
