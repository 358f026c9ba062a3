import Foundation
import HardenEngine
import HardenHistory
import HardenRecipe
import Testing

@testable import HardenPlan

@Suite struct PlannerTests {
    let yaml = """
        name: demo
        context: ctx
        builder:
          from: python:3.11-slim
          run: [make]
          copy:
            - {from: context, src: app.py, dest: /src/app.py}
        runtime:
          from: alpine:3.22.2
          user: "65532"
          env: {A: "1"}
        """
    let engine: [String: EngineImage] = [
        "python:3.11-slim": EngineImage(id: "sha256:" + String(repeating: "1", count: 64), repoTags: [], repoDigests: []),
        "alpine:3.22.2": EngineImage(id: "sha256:" + String(repeating: "2", count: 64), repoTags: [], repoDigests: []),
        "sha256:built": EngineImage(id: "sha256:built", repoTags: [], repoDigests: []),
    ]

    func project() throws -> TemporaryContext {
        let project = try TemporaryContext()
        try "print(1)\n".write(to: project.root.appendingPathComponent("ctx/app.py"), atomically: true, encoding: .utf8)
        try "notes\n".write(to: project.root.appendingPathComponent("ctx/NOTES.md"), atomically: true, encoding: .utf8)
        try "*.md\n".write(to: project.root.appendingPathComponent("ctx/.dockerignore"), atomically: true, encoding: .utf8)
        return project
    }

    /// A succeeded build record for `plan`, as the runner would write it.
    func record(_ plan: BuildPlan) -> BuildRecord {
        BuildRecord(
            id: 7, recipe: plan.recipe, status: .succeeded, reasons: plan.reasons, inputDigest: plan.inputDigest,
            inputParts: plan.inputParts, baseImages: plan.baseImages, runtimeImage: "sha256:built", startedAt: Date())
    }

    @Test func everyRecipeFieldAndStageFieldHasItsOwnPart() throws {
        let recipe = Recipe(
            name: "x", description: "quote \" and \\ and {braces} [brackets], commas",
            builder: BuilderStage(from: "python:3.11-slim", env: [KeyValue("A", "}\"")]),
            runtime: RuntimeStage(from: "debian:12", user: "1000"))
        let parts = try Planner(imageMap: ImageMap()).recipeParts(recipe)
        let names = Set(parts.keys)
        for field in ["name", "description", "context", "tags", "policy", "scan"] {
            #expect(names.contains("recipe.\(field)"), "recipe.\(field)")
        }
        for field in ["from", "env", "args", "copy", "run"] { #expect(names.contains("recipe.builder.\(field)")) }
        for field in ["from", "user", "expose", "labels"] { #expect(names.contains("recipe.runtime.\(field)")) }
        var changed = recipe
        changed.builder?.env = [KeyValue("A", "}")]
        let after = try Planner(imageMap: ImageMap()).recipeParts(changed)
        #expect(Set(after.filter { parts[$0.key] != $0.value }.keys) == ["recipe.builder.env"])
    }

    @Test func newRecipeThenUpToDate() throws {
        let project = try project()
        let recipe = try project.load(yaml)
        let first = try Planner().plan(recipe, engine: engine, previous: nil, hasher: ContextHasher())
        #expect(first.action == .build)
        #expect(first.reasons == ["new recipe"])
        let second = try Planner().plan(recipe, engine: engine, previous: record(first), hasher: ContextHasher())
        #expect(second.action == .skip)
        #expect(second.reasons.first?.hasPrefix("up to date (build #7") == true)
        #expect(second.inputDigest == first.inputDigest)
    }

    @Test func aChangedContextFileIsTheReason() throws {
        let project = try project()
        let recipe = try project.load(yaml)
        let first = try Planner().plan(recipe, engine: engine, previous: nil, hasher: ContextHasher())
        try "print(2)\n".write(to: project.root.appendingPathComponent("ctx/app.py"), atomically: true, encoding: .utf8)
        try "x\n".write(to: project.root.appendingPathComponent("ctx/new.py"), atomically: true, encoding: .utf8)
        let second = try Planner().plan(recipe, engine: engine, previous: record(first), hasher: ContextHasher())
        #expect(second.action == .build)
        #expect(second.reasons == ["context file app.py changed", "context file new.py added"])
    }

    @Test func ignoredFilesDoNotCauseRebuilds() throws {
        let project = try project()
        let recipe = try project.load(yaml)
        let first = try Planner().plan(recipe, engine: engine, previous: nil, hasher: ContextHasher())
        #expect(first.inputParts.keys.contains("context/app.py"))
        #expect(!first.inputParts.keys.contains("context/NOTES.md"))
        try "changed\n".write(to: project.root.appendingPathComponent("ctx/NOTES.md"), atomically: true, encoding: .utf8)
        let second = try Planner().plan(recipe, engine: engine, previous: record(first), hasher: ContextHasher())
        #expect(second.action == .skip)
    }

    @Test func aChangedRecipeFieldIsNamed() throws {
        let project = try project()
        let first = try Planner().plan(try project.load(yaml), engine: engine, previous: nil, hasher: ContextHasher())
        let changed = try project.load(yaml.replacingOccurrences(of: "env: {A: \"1\"}", with: "env: {A: \"2\"}"))
        let second = try Planner().plan(changed, engine: engine, previous: record(first), hasher: ContextHasher())
        #expect(second.reasons == ["recipe field runtime.env changed"])
    }

    @Test func anEnvironmentEpochIsAnInputWithItsOwnReason() throws {
        let project = try project()
        let recipe = try project.load(yaml)
        let first = try Planner(environmentEpoch: 100).plan(recipe, engine: engine, previous: nil, hasher: ContextHasher())
        let same = try Planner(environmentEpoch: 100).plan(
            recipe, engine: engine, previous: record(first), hasher: ContextHasher())
        #expect(same.action == .skip)
        let moved = try Planner(environmentEpoch: 200).plan(
            recipe, engine: engine, previous: record(first), hasher: ContextHasher())
        #expect(moved.reasons == ["$SOURCE_DATE_EPOCH is now 200 (was 100)"])
        let pinned = try project.load(yaml + "\nsource-date-epoch: 5\n")
        let ignored = try Planner(environmentEpoch: 300).plan(pinned, engine: engine, previous: nil, hasher: ContextHasher())
        #expect(ignored.inputParts["source-date-epoch"] == nil, "the recipe's own epoch wins over the environment")
    }

    @Test func aMovedBaseIsNamedWithBothDigests() throws {
        let project = try project()
        let recipe = try project.load(yaml)
        let first = try Planner().plan(recipe, engine: engine, previous: nil, hasher: ContextHasher())
        var moved = engine
        moved["alpine:3.22.2"]?.id = "sha256:" + String(repeating: "3", count: 64)
        let second = try Planner().plan(recipe, engine: moved, previous: record(first), hasher: ContextHasher())
        #expect(
            second.reasons == [
                "base alpine:3.22.2 is now sha256:\(String(repeating: "3", count: 64)) (was sha256:\(String(repeating: "2", count: 64)))"
            ])
    }

    @Test func imageMapRedirectsBasesAndMissingBasesAreReported() throws {
        let project = try project()
        let recipe = try project.load(yaml)
        let map = ImageMap(entries: ["python:3.11-slim": "local/python:3.11", "alpine:3.22.2": "local/alpine:3.22"])
        let plan = try Planner(imageMap: map).plan(
            recipe, engine: ["local/python:3.11": engine["python:3.11-slim"]!], previous: nil, hasher: ContextHasher())
        #expect(plan.dockerfile.contains("FROM local/python:3.11 AS builder"))
        #expect(plan.dockerfile.contains("FROM local/alpine:3.22 AS runtime"))
        #expect(plan.missingBases == ["alpine:3.22.2"])
        #expect(plan.reasons.contains { $0.contains("local/alpine:3.22 (for alpine:3.22.2) is not in the engine") })
    }

    @Test func aRemovedImageIsRebuilt() throws {
        let project = try project()
        let recipe = try project.load(yaml)
        let first = try Planner().plan(recipe, engine: engine, previous: nil, hasher: ContextHasher())
        var gone = engine
        gone["sha256:built"] = nil
        let second = try Planner().plan(recipe, engine: gone, previous: record(first), hasher: ContextHasher())
        #expect(second.action == .build)
        #expect(second.reasons == ["image sha256:built from build #7 is no longer in the engine"])
    }

    @Test func cachedHashesAreReusedOnlyWhileTheFileIsUnchanged() throws {
        let project = try project()
        let directory = project.root.appendingPathComponent("ctx")
        let first = ContextHasher()
        let snapshot = try first.snapshot(of: directory)
        #expect(Set(first.newHashes.map { URL(fileURLWithPath: $0.path).lastPathComponent }) == ["app.py", ".dockerignore"])
        var known: [String: FileHash] = [:]
        for hash in first.newHashes { known[hash.path] = hash }
        let second = ContextHasher(known: known)
        #expect(try second.snapshot(of: directory) == snapshot)
        #expect(second.newHashes.isEmpty)
        try "print(3)\n".write(to: directory.appendingPathComponent("app.py"), atomically: true, encoding: .utf8)
        let third = ContextHasher(known: known)
        #expect(try third.snapshot(of: directory) != snapshot)
    }

    @Test func dockerfileModeReadsBasesFromTheDockerfile() {
        let bases = DockerfileBases.parse(
            """
            FROM --platform=linux/amd64 python:3.11-slim AS build
            FROM build AS test
            COPY --from=0 /a /a
            COPY --from=Build /b /b
            COPY --chown=1:1 --from=busybox:1.36 /bin/busybox /bin/
            FROM gcr.io/distroless/python3-debian12 AS final
            copy --from=${TOOLS} /t /t
            FROM scratch
            """)
        #expect(bases == ["python:3.11-slim", "busybox:1.36", "gcr.io/distroless/python3-debian12"])
    }

    /// Quotes, continued lines, the escape directive and heredoc bodies, as Docker reads them.
    @Test func dockerfileBasesSurviveQuotesContinuationsAndHeredocs() {
        let bases = DockerfileBases.parse(
            """
            # syntax=docker/dockerfile:1
            FROM python:3.11-slim AS builder
            COPY --from="builder" /a /a
            RUN <<EOF
            from flask import Flask
            FROM not-a-base
            EOF
            RUN cat <<-'END' > /x
            \tCOPY --from=also-not-a-base /b /b
            \tEND
            COPY \\
              --from=ghcr.io/acme/tools:1 \\
              /bin/tool /bin/tool
            FROM scratch
            """)
        #expect(bases == ["python:3.11-slim", "ghcr.io/acme/tools:1"])
        let backtick = DockerfileBases.parse("# escape=`\nFROM alpine:3.22.2 AS a\nCOPY `\n  --from=busybox:1.36 /x /x\n")
        #expect(backtick == ["alpine:3.22.2", "busybox:1.36"])
    }
}

@Suite struct EngineImageTests {
    let digest = "sha256:" + String(repeating: "a", count: 64)

    @Test func registryDigestIsTheOneOfTheReferencesRepository() {
        let image = EngineImage(
            id: "sha256:1", repoTags: [],
            repoDigests: ["127.0.0.1:5000/team/base@\(digest)", "python@sha256:" + String(repeating: "b", count: 64)])
        #expect(image.registryDigest(for: "127.0.0.1:5000/team/base:1") == digest)
        #expect(image.registryDigest(for: "docker.io/library/python:3.11-slim") == "sha256:" + String(repeating: "b", count: 64))
        // Tagged locally under another name: never pulled as that, so compared by image ID.
        #expect(image.registryDigest(for: "harden-local/base:1") == nil)
        #expect(EngineImage(id: "sha256:1", repoTags: [], repoDigests: []).registryDigest(for: "alpine:3.22") == nil)
    }
}
