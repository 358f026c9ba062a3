import Foundation
import Testing

/// The CLI's contract without building anything: help, version, errors and exit codes.
@Suite struct CommandTests {
    @Test func versionAndHelp() async throws {
        let project = try Project()
        let version = try await project.harden(["version"])
        #expect(version.status == 0)
        #expect(version.stdout.hasPrefix("harden "))
        let help = try await project.harden(["--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("Exit status: 0 success; 1 a build or policy failure; 2 bad input"))
    }

    @Test func aRecipeErrorExitsTwoWithFileLineAndColumn() async throws {
        let project = try Project()
        try project.write("Recipes/ctx/app.py", "x = 1\n")
        try project.write("Recipes/bad.yaml", "name: bad\ncontext: ctx\nruntime:\n  from: alpine:3.22.2\n  usr: \"65532\"\n")
        let result = try await project.harden(["plan"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("Recipes/bad.yaml:5:3: error: unknown key 'usr' in runtime; did you mean 'user'?"))
        #expect(result.stdout.isEmpty)
    }

    @Test func everyBadRecipeIsReportedAtOnce() async throws {
        let project = try Project()
        try project.write("Recipes/ctx/app.py", "x = 1\n")
        try project.write("Recipes/a.yaml", "name: a\ncontext: /etc\nruntime: {from: alpine:3.22.2}\n")
        try project.write("Recipes/b.yaml", "name: b\ncontext: ctx\nruntime: {from: alpine:3.22.2, user: root}\n")
        let result = try await project.harden(["plan"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("Recipes/a.yaml:2:10: error: context '/etc' is absolute"))
        #expect(result.stderr.contains("Recipes/b.yaml:3:38: error: runtime.user 'root' runs the image as root"))
    }

    @Test func anUnknownRecipeNameListsTheKnownOnes() async throws {
        let project = try Project()
        try project.write("Recipes/ctx/app.py", "x = 1\n")
        try project.write("Recipes/real.yaml", "name: real\ncontext: ctx\nruntime: {from: alpine:3.22.2, user: \"1\"}\n")
        let result = try await project.harden(["plan", "nope"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("no recipe file or recipe named 'nope'"))
        #expect(result.stderr.contains("recipes here: real"))
    }

    @Test func noEngineExitsTwoAndSaysWhereItLooked() async throws {
        let project = try Project()
        try project.write("Recipes/ctx/app.py", "x = 1\n")
        try project.write("Recipes/real.yaml", "name: real\ncontext: ctx\nruntime: {from: alpine:3.22.2, user: \"1\"}\n")
        let result = try await project.harden(["build"], environment: ["DOCKER_HOST": "unix:///tmp/harden-no-engine-here.sock"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("no Docker engine answers at DOCKER_HOST=unix:///tmp/harden-no-engine-here.sock"))
        #expect(result.stderr.contains("hint: start one"))
    }

    @Test(.enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/runuser")))
    func anEngineThatRefusesTheUserSaysHowToGetIn() throws {
        let project = try Project()
        try project.write("Recipes/ctx/app.py", "x = 1\n")
        try project.write("Recipes/real.yaml", "name: real\ncontext: ctx\nruntime: {from: alpine:3.22.2, user: \"1\"}\n")
        // nobody is not in the docker group: the socket (root:docker 0660) refuses the connection.
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("harden-nobody-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: state) }
        let result = try CLI.shellWaiting(
            "cd '\(project.root.path)' && runuser -u nobody -- env -u DOCKER_HOST '\(CLI.binary)' plan --state '\(state)' 2>&1")
        #expect(result.status == 2)
        #expect(result.output.contains("refuses this user"), "\(result.output)")
        #expect(result.output.contains("Permission denied"))
        #expect(result.output.contains("hint: run as root, or add the user to the docker group"))
    }

    @Test func aBadImageMapExitsTwo() async throws {
        let project = try Project()
        try project.write("Recipes/ctx/app.py", "x = 1\n")
        try project.write("Recipes/real.yaml", "name: real\ncontext: ctx\nruntime: {from: alpine:3.22.2, user: \"1\"}\n")
        try project.write("map.yaml", "alpine:3.22.2: \"not a ref\"\n")
        let result = try await project.harden(["plan", "--image-map", "map.yaml"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("map.yaml:1:1: 'not a ref' is not a valid image reference"))
    }
}
