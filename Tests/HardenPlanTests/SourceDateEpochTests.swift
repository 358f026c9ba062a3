import Foundation
import HardenProcess
import HardenRecipe
import Testing

@testable import HardenPlan

/// SOURCE_DATE_EPOCH: recipe, then environment, then the last commit of the recipe and its context, then 0.
@Suite struct SourceDateEpochTests {
    let yaml = """
        name: demo
        context: ctx
        runtime:
          from: alpine:3.22.2
          user: "65532"
        """

    /// Runs git in `directory`, with a fixed identity and commit time.
    func git(_ arguments: [String], in directory: URL, date: Int64? = nil) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "-C", directory.path] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["GIT_AUTHOR_NAME"] = "t"
        environment["GIT_AUTHOR_EMAIL"] = "t@example.com"
        environment["GIT_COMMITTER_NAME"] = "t"
        environment["GIT_COMMITTER_EMAIL"] = "t@example.com"
        if let date {
            environment["GIT_AUTHOR_DATE"] = "@\(date) +0000"
            environment["GIT_COMMITTER_DATE"] = "@\(date) +0000"
        }
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "git \(arguments.joined(separator: " "))")
    }

    @Test func theRecipeFieldWinsOverTheEnvironment() async throws {
        let project = try TemporaryContext()
        let recipe = try project.load(yaml + "\nsource-date-epoch: 1234\n")
        let epoch = try await SourceDateEpoch.resolve(
            for: recipe, environment: ["SOURCE_DATE_EPOCH": "99"], runner: ProcessRunner())
        #expect(epoch == SourceDateEpoch(seconds: 1234, origin: .recipe))
    }

    @Test func theEnvironmentWinsOverGitAndOutsideARepositoryItIsZero() async throws {
        let project = try TemporaryContext()
        let recipe = try project.load(yaml)
        let fromEnvironment = try await SourceDateEpoch.resolve(
            for: recipe, environment: ["SOURCE_DATE_EPOCH": "1700000000"], runner: ProcessRunner())
        #expect(fromEnvironment == SourceDateEpoch(seconds: 1_700_000_000, origin: .environment))
        let nothing = try await SourceDateEpoch.resolve(for: recipe, environment: [:], runner: ProcessRunner())
        #expect(nothing == SourceDateEpoch(seconds: 0, origin: .none))
    }

    @Test func aBadEnvironmentValueIsAnInputError() async throws {
        let project = try TemporaryContext()
        let recipe = try project.load(yaml)
        await #expect(throws: BuildError.self) {
            try await SourceDateEpoch.resolve(
                for: recipe, environment: ["SOURCE_DATE_EPOCH": "yesterday"], runner: ProcessRunner())
        }
    }

    @Test func gitGivesTheLastCommitThatTouchedTheRecipeOrItsContext() async throws {
        let project = try TemporaryContext()
        try yaml.write(to: project.root.appendingPathComponent("recipe.yaml"), atomically: true, encoding: .utf8)
        try "print(1)\n".write(to: project.root.appendingPathComponent("ctx/app.py"), atomically: true, encoding: .utf8)
        try git(["init", "-q"], in: project.root)
        try git(["add", "."], in: project.root)
        try git(["commit", "-q", "-m", "recipe"], in: project.root, date: 1_600_000_000)
        try "print(2)\n".write(to: project.root.appendingPathComponent("ctx/app.py"), atomically: true, encoding: .utf8)
        try git(["commit", "-q", "-am", "context"], in: project.root, date: 1_650_000_000)
        try "elsewhere\n".write(to: project.root.appendingPathComponent("README"), atomically: true, encoding: .utf8)
        try git(["add", "README"], in: project.root)
        try git(["commit", "-q", "-m", "unrelated"], in: project.root, date: 1_690_000_000)

        let recipe = try project.load(yaml)
        let epoch = try await SourceDateEpoch.resolve(for: recipe, environment: [:], runner: ProcessRunner())
        #expect(epoch == SourceDateEpoch(seconds: 1_650_000_000, origin: .git))

        // Looked up early for a small build: the same answer; for a large one, not looked up.
        let early = SourceDateEpochLookups(recipes: [recipe], environment: [:], runner: ProcessRunner())
        #expect(try await early.lookup(of: "demo")?.value.get() == epoch)
        let many = (0...SourceDateEpochLookups.limit).map { index in
            var copy = recipe
            copy.recipe.name = "demo\(index)"
            return copy
        }
        #expect(SourceDateEpochLookups(recipes: many, environment: [:], runner: ProcessRunner()).lookup(of: "demo0") == nil)
    }

    @Test func theRecipeFieldIsCheckedWithItsPosition() throws {
        let project = try TemporaryContext()
        #expect(throws: RecipeError.self) { try project.load(yaml + "\nsource-date-epoch: -5\n") }
        do {
            _ = try project.load(yaml + "\nsource-date-epoch: soon\n")
        } catch {
            #expect(error.description.contains("recipe.yaml:6:"))
            #expect(error.description.contains("source-date-epoch must be a whole number"))
        }
    }

    @Test func theBuilderStageDeclaresTheArgument() throws {
        let project = try TemporaryContext()
        let recipe = try project.load(
            """
            name: demo
            builder:
              from: python:3.11-slim
              run: [make]
            runtime:
              from: alpine:3.22.2
            """)
        let text = DockerfileRenderer.render(recipe.recipe)
        #expect(text.contains("AS builder\nARG SOURCE_DATE_EPOCH\n"))
        #expect(!text.contains("AS runtime\nARG SOURCE_DATE_EPOCH"), "a runtime stage without RUN steps needs no argument")
    }
}
