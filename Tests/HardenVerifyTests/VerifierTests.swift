import Foundation
import HardenArchive
import HardenImage
import HardenRecipe
import HardenTestSupport
import Testing

@testable import HardenVerify

@Suite struct VerifierTests {
    let images: TestImages

    init() throws { images = try TestImages() }

    func verify(
        _ layers: [[(ArchiveEntry, Data)]], config: ContainerConfig = .init(user: "65532", entrypoint: ["/app/run"]),
        policy: Policy = Policy(), now: Date = Date()
    ) throws -> VerifyReport {
        try Verifier(policy: policy, now: now).verify(path: try images.image(layers, config: config))
    }

    func paths(_ report: VerifyReport, _ rule: String) -> [String] {
        report.findings.filter { $0.rule == rule }.compactMap(\.path)
    }

    @Test func aCleanImagePasses() throws {
        let report = try verify([base])
        #expect(report.passed, "\(report.findings)")
        #expect(report.rules == Policy.rules)
    }

    @Test func shellsAreFoundByNameAndThroughLinks() throws {
        let report = try verify([
            base + [
                dir("bin"), executable("bin/dash"), link("bin/sh", to: "dash"), dir("usr/bin"),
                link("usr/bin/bash", to: "/bin/dash"),
            ]
        ])
        #expect(paths(report, "shell") == ["/bin/dash", "/bin/sh", "/usr/bin/bash"])
        let finding = try #require(report.findings.first { $0.path == "/bin/sh" })
        #expect(finding.message.contains("links to /bin/dash"))
        #expect(finding.layerIndex == 0)
        #expect(finding.createdBy == "RUN step 1")
        #expect(finding.layer?.hasPrefix("sha256:") == true)
    }

    @Test func aRenamedBusyboxIsFoundByItsContent() throws {
        let busybox = try realBusybox()
        let report = try verify([base + [dir("usr/local/bin"), file("usr/local/bin/healthcheck", busybox, mode: 0o755)]])
        let finding = try #require(report.findings.first { $0.rule == "shell" })
        #expect(finding.path == "/usr/local/bin/healthcheck")
        #expect(finding.message.contains("busybox under the name 'healthcheck'"))
    }

    @Test func aSignatureSplitAcrossReadBlocksIsStillFound() throws {
        // 256 KiB reads: put "BusyBox v" across the boundary.
        var content = Data("\u{7F}ELF".utf8) + Data(repeating: 0, count: (1 << 18) - 8)
        content += Data("BusyBox v1.36".utf8) + Data(repeating: 1, count: 1000)
        let report = try verify([base + [file("app/tool", content, mode: 0o755)]])
        #expect(paths(report, "shell") == ["/app/tool"])
    }

    @Test func aHardlinkedBusyboxSurvivesTheOriginalsWhiteout() throws {
        let busybox = try realBusybox()
        let report = try verify([
            base + [
                dir("bin"), file("bin/busybox", busybox, mode: 0o755), dir("opt"), hardlink("opt/helper", to: "bin/busybox"),
            ],
            [whiteout("bin/busybox")],
        ])
        #expect(paths(report, "shell") == ["/opt/helper"])
        #expect(report.findings.first?.message.contains("a hardlink of /bin/busybox") == true)
    }

    @Test func aShellRemovedByALaterWhiteoutPasses() throws {
        let report = try verify([
            base + [dir("bin"), executable("bin/sh"), executable("bin/bash")], [whiteout("bin/sh"), whiteout("bin/bash")],
        ])
        #expect(report.passed, "\(report.findings)")
    }

    @Test func anOpaqueDirectoryHidingAptAndDashPasses() throws {
        let report = try verify([
            base + [dir("usr/bin"), executable("usr/bin/apt"), executable("usr/bin/dash")],
            [dir("usr/bin"), executable("usr/bin/python3"), opaque("usr/bin")],
        ])
        #expect(report.passed, "\(report.findings)")
    }

    @Test func aSymlinkChainIntoBusyboxIsFound() throws {
        let busybox = try realBusybox()
        let report = try verify([
            base + [
                dir("opt/bb"), file("opt/bb/multi", busybox, mode: 0o755), link("opt/bb/current", to: "multi"), dir("bin"),
                link("bin/ash", to: "../opt/bb/current"),
            ]
        ])
        #expect(paths(report, "shell") == ["/bin/ash", "/opt/bb/multi"])
    }

    @Test func pipOnlyAsAModuleIsAPackageManager() throws {
        let report = try verify([
            base + [dir("usr/lib/python3/dist-packages/pip"), file("usr/lib/python3/dist-packages/pip/__init__.py", "")]
        ])
        #expect(paths(report, "package-manager") == ["/usr/lib/python3/dist-packages/pip"])
    }

    @Test func pipInATargetDirectoryCountsOnlyOnThePythonPath() throws {
        let layers = [base + [dir("app/deps/pip"), file("app/deps/pip/__init__.py", "")]]
        #expect(try verify(layers).passed)
        let onPath = try verify(layers, config: .init(user: "65532", entrypoint: ["/app/run"], env: ["PYTHONPATH=/app/deps"]))
        #expect(paths(onPath, "package-manager") == ["/app/deps/pip"])
    }

    @Test func packageManagersByName() throws {
        let report = try verify([
            base + [
                dir("usr/bin"), executable("usr/bin/apt-get"), executable("usr/bin/pip3.11"), link("usr/bin/pip", to: "pip3.11"),
                dir("etc/cron.daily"), file("etc/cron.daily/dpkg", "#!/bin/sh\n", mode: 0o755), dir("sbin"),
                executable("sbin/apk"),
            ]
        ])
        #expect(paths(report, "package-manager") == ["/sbin/apk", "/usr/bin/apt-get", "/usr/bin/pip", "/usr/bin/pip3.11"])
    }

    @Test(arguments: [
        ("", "no USER"), ("0", "uid 0"), ("root", "is root"), ("root:root", "is root"), ("admin", "maps to uid 0"),
        ("ghost", "not in /etc/passwd"),
    ])
    func rootUsers(user: String, message: String) throws {
        let report = try verify([base], config: .init(user: user, entrypoint: ["/app/run"]))
        let finding = try #require(report.findings.first { $0.rule == "root-user" })
        #expect(finding.message.contains(message))
    }

    @Test(arguments: ["65532", "nonroot", "nonroot:nonroot", "1000:1000"])
    func nonRootUsers(user: String) throws {
        #expect(try verify([base], config: .init(user: user, entrypoint: ["/app/run"])).passed)
    }

    @Test func shellFormWithoutAShellCannotStart() throws {
        let report = try verify(
            [base],
            config: .init(user: "65532", cmd: ["/bin/sh", "-c", "/app/run"], healthcheck: ["CMD-SHELL", "curl -f localhost"]))
        #expect(report.findings.filter { $0.rule == "shell-form" }.count == 2)
        let withShell = try verify(
            [base + [dir("bin"), executable("bin/sh")]], config: .init(user: "65532", cmd: ["/bin/sh", "-c", "/app/run"]),
            policy: Policy(allowShell: true))
        #expect(withShell.passed, "\(withShell.findings)")
    }

    @Test func missingExecutablesAndInterpreters() throws {
        let script = file("app/start", "#!/usr/bin/python3 -u\nprint(1)\n", mode: 0o755)
        var report = try verify([base + [script]], config: .init(user: "65532", entrypoint: ["/app/start"]))
        #expect(
            report.findings.first { $0.rule == "missing-executable" }?.message.contains("/usr/bin/python3 does not exist") == true
        )

        let envScript = file("app/start", "#!/usr/bin/env python3\n", mode: 0o755)
        report = try verify(
            [base + [envScript, dir("usr/bin"), executable("usr/bin/env")]],
            config: .init(user: "65532", entrypoint: ["/app/start"]))
        #expect(report.findings.first { $0.rule == "missing-executable" }?.message.contains("python3 is not on the PATH") == true)

        report = try verify(
            [base + [dir("usr/bin"), executable("usr/bin/python3")]],
            config: .init(user: "65532", entrypoint: ["python3", "app.py"]))
        #expect(report.passed, "\(report.findings)")

        report = try verify([base + [file("app/data", "x")]], config: .init(user: "65532", entrypoint: ["/app/data"]))
        #expect(report.findings.first?.message.contains("not executable") == true)

        report = try verify([base], config: .init(user: "65532", entrypoint: ["gunicorn"]))
        #expect(report.findings.first?.message.contains("not on the PATH") == true)

        report = try verify([base], config: .init(user: "65532"))
        #expect(report.findings.first?.message.contains("neither ENTRYPOINT nor CMD") == true)

        report = try verify(
            [base], config: .init(user: "65532", entrypoint: ["/app/run"], healthcheck: ["CMD", "/bin/curl", "-f", "localhost"]))
        #expect(report.findings.first?.message.contains("HEALTHCHECK") == true)
    }

    @Test func setuidWorldWritableAndDevices() throws {
        let report = try verify([
            base + [
                file("app/su", "x", mode: 0o4755), file("app/wall", "x", mode: 0o2755), file("app/open", "x", mode: 0o666),
                dir("tmp", mode: 0o1777), dir("shared", mode: 0o777), dir("dev"), device("dev/null"),
            ]
        ])
        #expect(paths(report, "setuid") == ["/app/su", "/app/wall"])
        #expect(paths(report, "world-writable") == ["/app/open", "/shared"])
        #expect(paths(report, "device-node") == ["/dev/null"])
    }

    @Test func forbiddenPathsAndGlobs() throws {
        let policy = Policy(forbidPaths: ["/usr/bin/curl", "/usr/bin/wget*"])
        let report = try verify(
            [base + [dir("usr/bin"), file("usr/bin/curl"), file("usr/bin/wget2"), file("usr/bin/ok")]], policy: policy)
        #expect(paths(report, "forbidden-path") == ["/usr/bin/curl", "/usr/bin/wget2"])
    }

    @Test func exceptionsWaiveExpireAndGoStale() throws {
        let today = try #require(Validate.parseDate("2026-11-23"))
        let policy = Policy(exceptions: [
            PolicyException(rule: "setuid", path: "/app/su", reason: "needed by the login shim", expires: "2027-01-01"),
            PolicyException(rule: "setuid", path: "/app/wall", reason: "temporary", expires: "2026-11-22"),
            PolicyException(rule: "device-node", reason: "nothing to waive"),
        ])
        let report = try verify(
            [base + [file("app/su", "x", mode: 0o4755), file("app/wall", "x", mode: 0o2755)]], policy: policy, now: today)
        #expect(report.waived.map(\.path) == ["/app/su"])
        #expect(report.waived.first?.waivedBy?.reason == "needed by the login shim")
        #expect(paths(report, "setuid") == ["/app/wall"])
        #expect(report.expiredExceptions.map(\.path) == ["/app/wall"])
        #expect(report.unusedExceptions.map(\.rule) == ["device-node"])
        // Valid through the whole day it names.
        let lastDay = try verify(
            [base + [file("app/wall", "x", mode: 0o2755)]], policy: policy, now: today.addingTimeInterval(-3600))
        #expect(lastDay.passed)
    }

    @Test func policyTurnsRulesOff() throws {
        let layers = [base + [dir("bin"), executable("bin/sh"), executable("bin/apk")]]
        #expect(!(try verify(layers)).passed)
        let report = try verify(
            layers, config: .init(user: "0", entrypoint: ["/app/run"]),
            policy: Policy(allowRoot: true, allowShell: true, allowPackageManager: true))
        #expect(report.passed)
        #expect(!report.rules.contains("shell"))
        let disabled = try verify([base + [file("app/su", "x", mode: 0o4755)]], policy: Policy(disable: ["setuid"]))
        #expect(disabled.passed)
    }
}
