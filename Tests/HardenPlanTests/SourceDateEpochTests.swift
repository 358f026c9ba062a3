import Foundation
import HardenProcess
import HardenRecipe
import HardenTestSupport
import Synchronization
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

    /// Runs git in `directory`, with a fixed identity and commit time, waiting off the task pool;
    /// returns its output (a failing git fails the test with its stderr).
    @discardableResult
    func git(_ arguments: [String], in directory: URL, date: Int64? = nil) async throws -> String {
        var identity = [
            "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
        ]
        if let date { identity += ["GIT_AUTHOR_DATE=@\(date) +0000", "GIT_COMMITTER_DATE=@\(date) +0000"] }
        let output = try await runTool("/usr/bin/env", identity + ["git", "-C", directory.path] + arguments)
        return String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
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
        try await git(["init", "-q"], in: project.root)
        try await git(["add", "."], in: project.root)
        try await git(["commit", "-q", "-m", "recipe"], in: project.root, date: 1_600_000_000)
        try "print(2)\n".write(to: project.root.appendingPathComponent("ctx/app.py"), atomically: true, encoding: .utf8)
        try await git(["commit", "-q", "-am", "context"], in: project.root, date: 1_650_000_000)
        try "elsewhere\n".write(to: project.root.appendingPathComponent("README"), atomically: true, encoding: .utf8)
        try await git(["add", "README"], in: project.root)
        try await git(["commit", "-q", "-m", "unrelated"], in: project.root, date: 1_690_000_000)

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

/// The git answer is kept per commit: a checkout that did not move runs no git, one that did
/// (a new commit, a detached HEAD) asks git again; packed refs and worktrees are read too.
@Suite struct CommitEpochCacheTests {
    let base = SourceDateEpochTests()

    /// The real runner, counting the commands it was given.
    final class CountingRunner: ProcessRunning {
        let runner = ProcessRunner()
        let count = Mutex(0)
        func run(_ command: Command, logFile: String?, onLine: (@Sendable (String) -> Void)?) async throws(ProcessError)
            -> ProcessResult
        {
            count.withLock { $0 += 1 }
            return try await runner.run(command, logFile: logFile, onLine: onLine)
        }
        var runs: Int { count.withLock { $0 } }
    }

    @Test func anUnmovedCheckoutRunsNoGitAndANewCommitDoes() async throws {
        let project = try TemporaryContext()
        let cache = CommitEpochCache(directory: project.root.appendingPathComponent(".harden/source-date-epochs"))
        try base.yaml.write(to: project.root.appendingPathComponent("recipe.yaml"), atomically: true, encoding: .utf8)
        try "print(1)\n".write(to: project.root.appendingPathComponent("ctx/app.py"), atomically: true, encoding: .utf8)
        try "/.harden/\n".write(to: project.root.appendingPathComponent(".gitignore"), atomically: true, encoding: .utf8)
        try await base.git(["init", "-q"], in: project.root)
        try await base.git(["add", "."], in: project.root)
        try await base.git(["commit", "-q", "-m", "recipe"], in: project.root, date: 1_600_000_000)
        let recipe = try project.load(base.yaml)
        let runner = CountingRunner()
        func resolve() async throws -> SourceDateEpoch {
            try await SourceDateEpoch.resolve(for: recipe, environment: [:], runner: runner, commits: cache)
        }

        #expect(try await resolve() == SourceDateEpoch(seconds: 1_600_000_000, origin: .git))
        #expect(runner.runs == 1)
        #expect(try await resolve() == SourceDateEpoch(seconds: 1_600_000_000, origin: .git))
        #expect(runner.runs == 1, "git ran again for the same commit")

        // The branch's ref moves into packed-refs: the same commit, still no git.
        try await base.git(["pack-refs", "--all"], in: project.root)
        #expect(try await resolve().seconds == 1_600_000_000)
        #expect(runner.runs == 1)

        // A new commit touching the context: git answers again.
        try "print(2)\n".write(to: project.root.appendingPathComponent("ctx/app.py"), atomically: true, encoding: .utf8)
        try await base.git(["commit", "-q", "-am", "context"], in: project.root, date: 1_650_000_000)
        #expect(try await resolve().seconds == 1_650_000_000)
        #expect(runner.runs == 2)

        // A detached HEAD at the first commit is another key, and gets the first answer.
        try await base.git(["checkout", "-q", "--detach", "HEAD~1"], in: project.root)
        #expect(try await resolve().seconds == 1_600_000_000)
        #expect(runner.runs == 3)

        // A damaged cache file is a miss, not an error.
        try Data("{".utf8).write(to: cache.directory.appendingPathComponent("demo.json"))
        #expect(try await resolve().seconds == 1_600_000_000)
        #expect(runner.runs == 4)
    }

    @Test func headIsReadInWorktreesAndRefusedWhereGitCouldSeeAnotherHistory() async throws {
        let project = try TemporaryContext()
        let root = project.root
        try await base.git(["init", "-q"], in: root)
        // An unborn branch names no commit.
        #expect(GitHead.find(around: root.appendingPathComponent("ctx"), environment: [:]) == nil)
        try "a\n".write(to: root.appendingPathComponent("ctx/a"), atomically: true, encoding: .utf8)
        try await base.git(["add", "."], in: root)
        try await base.git(["commit", "-q", "-m", "a"], in: root, date: 1_600_000_000)
        let commit = try await base.git(["rev-parse", "HEAD"], in: root)

        let head = try #require(GitHead.find(around: root.appendingPathComponent("ctx"), environment: [:]))
        #expect(head.commit == commit)
        #expect(head.gitDirectory == root.appendingPathComponent(".git").standardizedFileURL.path)
        #expect(GitHead.find(around: root, environment: ["GIT_DIR": "/elsewhere"]) == nil)

        // A worktree: its own git directory, refs from the common one.
        let worktree = root.deletingLastPathComponent().appendingPathComponent(root.lastPathComponent + "-worktree")
        defer { try? FileManager.default.removeItem(at: worktree) }
        try await base.git(["worktree", "add", "-q", "--detach", worktree.path], in: root)
        let linked = try #require(GitHead.find(around: worktree, environment: [:]))
        #expect(linked.commit == commit)
        #expect(linked.gitDirectory != head.gitDirectory)

        // A shallow clone could deepen later and answer otherwise for the same commit.
        let clone = root.deletingLastPathComponent().appendingPathComponent(root.lastPathComponent + "-shallow")
        defer { try? FileManager.default.removeItem(at: clone) }
        try await base.git(["clone", "-q", "--depth", "1", "file://" + root.path, clone.path], in: root)
        #expect(FileManager.default.fileExists(atPath: clone.appendingPathComponent(".git/shallow").path))
        #expect(GitHead.find(around: clone, environment: [:]) == nil)
    }
}
