import Foundation
import Testing

@testable import HardenRecipe

/// A temporary project folder with a context directory, removed at deinit.
final class TemporaryProject {
    let root: URL

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("harden-recipe-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("Recipes/app"), withIntermediateDirectories: true)
        try "print('hi')\n".write(to: root.appendingPathComponent("Recipes/app/app.py"), atomically: true, encoding: .utf8)
    }

    deinit {
        try? FileManager.default.removeItem(at: root)
    }

    func load(_ yaml: String, name: String = "test.yaml") throws(RecipeError) -> LoadedRecipe {
        let file = root.appendingPathComponent("Recipes/\(name)")
        try? yaml.write(to: file, atomically: true, encoding: .utf8)
        return try RecipeLoader(root: root).load(file: file)
    }

    func error(_ yaml: String) -> RecipeError? {
        do {
            _ = try load(yaml)
            return nil
        } catch {
            return error
        }
    }
}

let minimalRecipe = """
    name: demo
    context: app
    builder:
      from: python:3.11-slim
      run:
        - pip install flask
    runtime:
      from: gcr.io/distroless/python3-debian12:nonroot
      user: "65532"
      copy:
        - from: context
          src: app.py
          dest: /app/app.py
    """

@Suite struct RecipeLoaderTests {
    @Test func loadsAMinimalRecipe() throws {
        let project = try TemporaryProject()
        let loaded = try project.load(minimalRecipe)
        #expect(loaded.name == "demo")
        #expect(loaded.recipe.builder?.run == ["pip install flask"])
        #expect(loaded.recipe.runtime?.copy == [CopyStep(from: .context, src: ["app.py"], dest: "/app/app.py")])
        #expect(loaded.contextDirectory.lastPathComponent == "app")
        #expect(loaded.recipe.policy.allowRoot == false)
        #expect(loaded.recipe.scan.failOn == [.critical, .high])
        #expect(loaded.recipe.scan.failOnUnmatched == nil)
    }

    @Test func failOnUnmatchedIsReadAndTyped() throws {
        let project = try TemporaryProject()
        let loaded = try project.load(minimalRecipe + "\nscan:\n  fail-on-unmatched: true\n")
        #expect(loaded.recipe.scan.failOnUnmatched == true)
        let error = try #require(project.error(minimalRecipe + "\nscan:\n  fail-on-unmatched: sometimes\n"))
        #expect(error.message.contains("fail-on-unmatched"), "\(error.message)")
        #expect(error.location.line == 15)
    }

    /// A scan ignore may name an OpenVEX justification; a misspelt one is refused with the nearest.
    @Test func ignoresNameAnOpenVEXJustification() throws {
        let project = try TemporaryProject()
        let ignore = "\nscan:\n  ignores:\n    - id: CVE-2023-45853\n      reason: minizip is not built\n"
        let loaded = try project.load(minimalRecipe + ignore + "      justification: vulnerable_code_not_present\n")
        #expect(loaded.recipe.scan.ignores.first?.justification == .vulnerableCodeNotPresent)
        #expect(try project.load(minimalRecipe + ignore).recipe.scan.ignores.first?.justification == nil)
        let error = try #require(project.error(minimalRecipe + ignore + "      justification: component_not_presen\n"))
        #expect(error.message.contains("scan.ignores[0].justification: 'component_not_presen' is not one of"), "\(error.message)")
        #expect(error.message.contains("did you mean 'component_not_present'?"), "\(error.message)")
        #expect(error.location.line == 18)
    }

    @Test func unknownKeySuggestsTheNearestOneWithItsPosition() throws {
        let project = try TemporaryProject()
        let error = try #require(project.error(minimalRecipe + "\n  entrypont: [python3]\n"))
        #expect(error.message == "unknown key 'entrypont' in runtime; did you mean 'entrypoint'?")
        #expect(error.location.file.hasSuffix("Recipes/test.yaml"))
        #expect(error.location.line == 14)
        #expect(error.location.column == 3)
    }

    @Test func topLevelTypoIsReported() throws {
        let project = try TemporaryProject()
        let error = try #require(project.error(minimalRecipe.replacingOccurrences(of: "context: app", with: "contxt: app")))
        #expect(error.message.contains("did you mean 'context'?"))
        #expect(error.location.line == 2 && error.location.column == 1)
    }

    @Test func wrongTypeNamesThePathAndPosition() throws {
        let project = try TemporaryProject()
        let error = try #require(
            project.error(minimalRecipe.replacingOccurrences(of: "  run:\n    - pip install flask", with: "  run: {a: b}")))
        #expect(error.message == "builder.run must be a list, not a mapping")
        #expect(error.location.line == 5)
    }

    @Test func invalidYAMLHasAPosition() throws {
        let project = try TemporaryProject()
        let error = try #require(project.error("name: demo\nruntime: [unclosed\n"))
        #expect(error.message.hasPrefix("invalid YAML"))
        #expect(error.location.line >= 2)
    }

    @Test func copySourceOutsideTheContextIsRejected() throws {
        let project = try TemporaryProject()
        let error = try #require(
            project.error(minimalRecipe.replacingOccurrences(of: "src: app.py", with: "src: ../../etc/passwd")))
        #expect(error.message.contains("outside the context"))
        #expect(error.location.line == 11)
    }

    @Test func copySourceThroughASymlinkOutsideTheContextIsRejected() throws {
        let project = try TemporaryProject()
        try FileManager.default.createSymbolicLink(
            atPath: project.root.appendingPathComponent("Recipes/app/escape").path, withDestinationPath: "/etc/hostname")
        let error = try #require(project.error(minimalRecipe.replacingOccurrences(of: "src: app.py", with: "src: escape")))
        #expect(error.message.contains("outside the context"))
    }

    @Test func missingCopySourceIsRejected() throws {
        let project = try TemporaryProject()
        let error = try #require(project.error(minimalRecipe.replacingOccurrences(of: "src: app.py", with: "src: nope.py")))
        #expect(error.message.contains("not found in the context"))
    }

    @Test(arguments: ["/tmp", "../..", "../../.."])
    func contextOutsideTheProjectIsRejected(context: String) throws {
        let project = try TemporaryProject()
        let error = try #require(
            project.error(minimalRecipe.replacingOccurrences(of: "context: app", with: "context: \(context)")))
        #expect(error.message.contains("absolute") || error.message.contains("outside the project root"))
        #expect(error.location.line == 2)
    }

    @Test(arguments: ["root", "0", "0:0", "root:root"])
    func rootUserIsRejectedWhenThePolicyForbidsIt(user: String) throws {
        let project = try TemporaryProject()
        let yaml = minimalRecipe.replacingOccurrences(of: "user: \"65532\"", with: "user: \"\(user)\"")
        let error = try #require(project.error(yaml))
        #expect(error.message.contains("runs the image as root"))
        #expect(error.location.line == 9)
        let allowed = yaml + "\npolicy:\n  allow-root: true\n"
        #expect(throws: Never.self) { try project.load(allowed) }
    }

    @Test func exceptionsNeedAReasonAndAValidDate() throws {
        let project = try TemporaryProject()
        let noReason = minimalRecipe + "\npolicy:\n  exceptions:\n    - rule: shell\n"
        #expect(project.error(noReason)?.message.contains("missing required key 'reason'") == true)
        let badDate = minimalRecipe + "\npolicy:\n  exceptions:\n    - {rule: shell, reason: needed, expires: 2027-02-30}\n"
        #expect(project.error(badDate)?.message.contains("not a date") == true)
    }

    @Test func scheduleIsChecked() throws {
        let project = try TemporaryProject()
        let good = minimalRecipe + "\nschedule:\n  cron: \"0 3 * * 1-5\"\n  timezone: Europe/Berlin\n  triggers: [base-update]\n"
        let loaded = try project.load(good)
        #expect(loaded.recipe.schedule == Schedule(cron: "0 3 * * 1-5", timezone: "Europe/Berlin", triggers: [.baseUpdate]))
        #expect(
            project.error(minimalRecipe + "\nschedule:\n  cron: \"0 3 * *\"\n")?.message.contains("expected 5 fields") == true)
        #expect(
            project.error(minimalRecipe + "\nschedule:\n  cron: \"61 * * * *\"\n")?.message.contains("out of range 0-59") == true)
        #expect(project.error(minimalRecipe + "\nschedule:\n  timezone: Mars/Olympus\n")?.message.contains("time zone") == true)
        #expect(
            project.error(minimalRecipe + "\nschedule:\n  triggers: [base-updates]\n")?.message.contains(
                "did you mean 'base-update'") == true)
    }

    @Test func publishIsChecked() throws {
        let project = try TemporaryProject()
        let good = minimalRecipe + """

            publish:
              to: registry.example.com/team/app
              tags: [latest, "1.2"]
              sign-key: env:HARDEN_SIGNING_KEY
              attest: [sbom, provenance, vex]
              legacy-sig: true

            """
        let loaded = try project.load(good)
        #expect(
            loaded.recipe.publish
                == Publish(
                    to: "registry.example.com/team/app", tags: ["latest", "1.2"], signKey: "env:HARDEN_SIGNING_KEY",
                    attest: [.sbom, .provenance, .vex], legacySignatures: true))
        #expect(loaded.recipe.publish?.destinations == ["registry.example.com/team/app:latest", "registry.example.com/team/app:1.2"])
        #expect(try project.load(minimalRecipe + "\npublish:\n  to: localhost:5000/app\n").recipe.publish?.tags == ["latest"])
        let cases: [(String, String)] = [
            ("publish:\n  tags: [a]\n", "missing required key 'to'"),
            ("publish:\n  to: localhost:5000/app:1\n", "publish.to is registry/repository"),
            ("publish:\n  to: localhost:5000/app\n  tags: [-bad]\n", "is not a tag"),
            ("publish:\n  to: localhost:5000/app\n  attest: [sbom]\n", "has no sign-key"),
            ("publish:\n  to: localhost:5000/app\n  legacy-sig: true\n", "has no sign-key"),
            ("publish:\n  to: localhost:5000/app\n  sign-key: k\n  attest: [sboms]\n", "did you mean 'sbom'"),
            ("publish:\n  to: localhost:5000/app\n  push: yes\n", "push"),
        ]
        for (yaml, said) in cases {
            let error = project.error(minimalRecipe + "\n" + yaml)
            #expect(error?.message.contains(said) == true, "\(yaml): \(String(describing: error))")
            #expect(error?.location.line ?? 0 > 0, "\(yaml): no line")
        }
    }

    @Test func dockerfileModeNeedsBothTargets() throws {
        let project = try TemporaryProject()
        try "FROM a AS build\nFROM b AS final\n".write(
            to: project.root.appendingPathComponent("Recipes/app/Dockerfile"), atomically: true, encoding: .utf8)
        let loaded = try project.load(
            "name: existing\ncontext: app\ndockerfile: app/Dockerfile\nbuilder-target: build\nruntime-target: final\n")
        #expect(
            loaded.recipe.dockerfile == DockerfileSource(path: "app/Dockerfile", builderTarget: "build", runtimeTarget: "final"))
        #expect(loaded.dockerfile?.lastPathComponent == "Dockerfile")
        let missing = project.error("name: existing\ncontext: app\ndockerfile: app/Dockerfile\nbuilder-target: build\n")
        #expect(missing?.message.contains("missing required key 'runtime-target'") == true)
    }

    @Test func duplicateNamesAcrossRecipesAreReported() throws {
        let project = try TemporaryProject()
        let files = ["a.yaml", "b.yaml"].map { project.root.appendingPathComponent("Recipes/\($0)") }
        for file in files { try minimalRecipe.write(to: file, atomically: true, encoding: .utf8) }
        #expect(throws: RecipeErrors.self) { try RecipeLoader(root: project.root).load(files: files) }
    }

    @Test func theExampleRecipesLoad() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let loader = RecipeLoader(root: root)
        let recipes = try loader.load(files: try loader.recipeFiles(in: root.appendingPathComponent("Recipes")))
        let byName = Dictionary(uniqueKeysWithValues: recipes.map { ($0.name, $0.recipe) })
        let flask = try #require(byName["flask-distroless"])
        #expect(flask.builder?.from == "python:3.11-slim")
        #expect(flask.runtime?.from == "gcr.io/distroless/python3-debian12:nonroot")
        #expect(flask.runtime?.user == "65532")
        #expect(flask.runtime?.expose == [Port(8080)])
        #expect(flask.runtime?.env.contains(KeyValue("FLASK_RUN_HOST", "0.0.0.0")) == true)
        let alpine = try #require(byName["python-alpine"])
        #expect(alpine.builder?.from == "python:3.11-alpine3.22")
        #expect(alpine.runtime?.from == "alpine:3.22.2")
        #expect(alpine.runtime?.user == "nonroot:nonroot")
        #expect(alpine.runtime?.healthcheck?.test.joined(separator: " ").contains("urllib") == true)
        #expect(alpine.builder?.run.first?.contains("gcc musl-dev libffi-dev openssl-dev cargo rust") == true)
    }
}
