import Foundation
import HardenRecipe
import Testing

@testable import HardenPlan

/// Strings meant to break out of the value they are put in.
let adversarialStrings: [String] = {
    let pieces = [
        "\n", "\r\n", "\\", "\\\n", "$HOME", "${PATH}", "$(id)", "`id`", "\"", "'", "\"]", "[\"", "<<EOF", "<<-'EOT'",
        "# syntax=docker/dockerfile:1", "# escape=`", "\nRUN rm -rf /", "\u{0}", "\u{1B}[2J", "\u{2028}", "\t", " ",
        "=", "\"=\"", "\\\"", "\\$", "ONBUILD RUN id", "--from=builder", "é✓", "%s%n", "\\u0022", "}", "{{.Id}}",
    ]
    var strings = pieces
    for first in pieces {
        for second in ["x", "\\", "\"", "$", "\n", "y z"] { strings.append(first + second) }
        strings.append("value " + first)
    }
    return strings
}()

@Suite struct DockerfileRendererTests {
    let recipe = Recipe(
        name: "demo", context: ".",
        builder: BuilderStage(
            from: "python:3.11-slim", workdir: "/src", args: [KeyValue("VERSION", "1.0")], env: [KeyValue("A", "b c")],
            copy: [CopyStep(from: .context, src: ["requirements.txt"], dest: "/src/")], run: ["pip install -r requirements.txt"]),
        runtime: RuntimeStage(
            from: "gcr.io/distroless/python3-debian12:nonroot", workdir: "/app", env: [KeyValue("PORT", "8080")],
            copy: [CopyStep(from: .builder, src: ["/src/deps"], dest: "/app/deps", chown: "65532:65532")], user: "65532",
            entrypoint: ["/usr/bin/python3", "/app/app.py"], cmd: ["--port", "8080"], expose: [Port(8080), Port(53, .udp)],
            labels: [KeyValue("org.opencontainers.image.title", "demo")],
            healthcheck: Healthcheck(test: ["python3", "-c", "print(1)"], interval: "30s", retries: 3)))

    @Test func theRuntimeOnlyDockerfileCopiesFromTheBuiltBuilderImage() throws {
        let recipe = Recipe(
            name: "x", builder: BuilderStage(from: "python:3.11-slim", run: ["pip install flask"]),
            runtime: RuntimeStage(
                from: "gcr.io/distroless/python3-debian12:nonroot",
                copy: [
                    CopyStep(from: .builder, src: ["/app/deps"], dest: "/app/deps"),
                    CopyStep(from: .context, src: ["app.py"], dest: "/app/"),
                ],
                user: "65532"))
        let image = "sha256:" + String(repeating: "ab", count: 32)
        let text = DockerfileRenderer.render(recipe, builderImage: image)
        #expect(!text.contains("python:3.11-slim"))
        #expect(!text.contains("pip install"))
        #expect(text.contains("COPY --from=\(image) [\"/app/deps\", \"/app/deps\"]"))
        #expect(text.contains("COPY [\"app.py\", \"/app/\"]"))
        #expect(text.contains("FROM gcr.io/distroless/python3-debian12:nonroot AS runtime"))
    }

    @Test func rendersBothStagesInAFixedOrder() throws {
        let text = DockerfileRenderer.render(recipe, bases: ["python:3.11-slim": "harden-local/python:3.11-slim"])
        #expect(
            text == """
                # Rendered by harden from recipe demo. Do not edit: change the recipe.

                FROM harden-local/python:3.11-slim AS builder
                ARG SOURCE_DATE_EPOCH
                ARG VERSION="1.0"
                ENV A="b c"
                WORKDIR /src
                COPY ["requirements.txt", "/src/"]
                RUN ["/bin/sh", "-c", "pip install -r requirements.txt"]

                FROM gcr.io/distroless/python3-debian12:nonroot AS runtime
                ENV PORT="8080"
                WORKDIR /app
                COPY --from=builder --chown=65532:65532 ["/src/deps", "/app/deps"]
                USER 65532
                EXPOSE 8080 53/udp
                LABEL "org.opencontainers.image.title"="demo"
                HEALTHCHECK --interval=30s --retries=3 CMD ["python3", "-c", "print(1)"]
                ENTRYPOINT ["/usr/bin/python3", "/app/app.py"]
                CMD ["--port", "8080"]

                """)
        #expect(DockerfileRenderer.render(recipe) == DockerfileRenderer.render(recipe))
    }

    /// Every adversarial string, in every free-text field: the loader rejects it with a
    /// location, or the rendered Dockerfile keeps its structure and the value comes back intact.
    @Test(arguments: [
        "builder.run", "builder.env", "builder.args", "runtime.env", "runtime.labels", "runtime.label-key",
        "runtime.entrypoint", "runtime.cmd", "runtime.healthcheck", "runtime.run", "builder.workdir", "copy.dest",
        "copy.src", "runtime.user", "builder.from", "description", "tags",
    ])
    func adversarialValuesNeverChangeTheDockerfile(field: String) throws {
        let project = try TemporaryContext()
        let safe = try project.load(
            Self.recipeYAML(field: field, value: field.hasSuffix("workdir") ? "/safe-value" : "safe-value"))
        let expected = try DockerfileSyntax.parse(DockerfileRenderer.render(safe.recipe)).map(\.keyword)
        var accepted = 0
        for value in adversarialStrings {
            let yaml = Self.recipeYAML(field: field, value: value)
            let loaded: LoadedRecipe
            do {
                loaded = try project.load(yaml)
            } catch {
                #expect(error.location.line > 0, "error without a position for \(field)=\(value.debugDescription)")
                continue
            }
            accepted += 1
            let text = DockerfileRenderer.render(loaded.recipe)
            let instructions = try DockerfileSyntax.parse(text)
            #expect(
                instructions.map(\.keyword) == expected,
                "structure changed for \(field)=\(value.debugDescription)")
            try Self.checkRoundTrip(field: field, value: value, instructions: instructions)
        }
        if ["builder.run", "runtime.env", "runtime.labels", "runtime.entrypoint", "runtime.cmd"].contains(field) {
            #expect(accepted > adversarialStrings.count / 2, "too few values accepted for \(field)")
        }
    }

    static func checkRoundTrip(field: String, value: String, instructions: [ParsedInstruction]) throws {
        func values(_ keyword: String) -> [String] { instructions.filter { $0.keyword == keyword }.map(\.rest) }
        switch field {
        case "builder.run", "runtime.run":
            let runs = try values("RUN").map(DockerfileSyntax.jsonArray)
            #expect(runs.contains(["/bin/sh", "-c", value]))
        case "builder.env", "runtime.env":
            let pairs = try values("ENV").map(DockerfileSyntax.keyValue)
            #expect(pairs.contains { $0.0 == "X" && $0.1 == value })
        case "builder.args":
            // `ARG SOURCE_DATE_EPOCH` (no default) comes first; the recipe's own follow.
            #expect(values("ARG").first == "SOURCE_DATE_EPOCH")
            let pairs = try values("ARG").dropFirst().map(DockerfileSyntax.keyValue)
            #expect(pairs.contains { $0.0 == "X" && $0.1 == value })
        case "runtime.labels":
            let pairs = try values("LABEL").map(DockerfileSyntax.keyValue)
            #expect(pairs.contains { $0.0 == "x" && $0.1 == value })
        case "runtime.entrypoint":
            #expect(try values("ENTRYPOINT").map(DockerfileSyntax.jsonArray) == [["/bin/app", value]])
        case "runtime.cmd":
            #expect(try values("CMD").map(DockerfileSyntax.jsonArray) == [[value]])
        case "runtime.healthcheck":
            let line = try #require(values("HEALTHCHECK").first)
            let command = try #require(line.range(of: "CMD "))
            let json = String(line[command.upperBound...])
            #expect(try DockerfileSyntax.jsonArray(json) == ["python3", "-c", value])
        case "copy.src", "copy.dest":
            let copies = try values("COPY").map { line in
                try DockerfileSyntax.jsonArray(String(line[try #require(line.firstIndex(of: "["))...]))
            }
            #expect(copies.contains { $0.contains(value) })
        default:
            break
        }
    }

    static func recipeYAML(field: String, value: String) -> String {
        let quoted = yamlString(value)
        var builder = ["from: python:3.11-slim", "workdir: /src", "run:", "  - make"]
        var runtime = ["from: alpine:3.22.2", "user: \"65532\"", "entrypoint: [/bin/app]"]
        var top = ["name: demo", "context: ctx"]
        switch field {
        case "builder.run": builder += ["  - \(quoted)"]
        case "builder.env": builder += ["env:", "  X: \(quoted)"]
        case "builder.args": builder += ["args:", "  X: \(quoted)"]
        case "builder.workdir": builder[1] = "workdir: \(quoted)"
        case "builder.from": builder[0] = "from: \(quoted)"
        case "runtime.env": runtime += ["env:", "  X: \(quoted)"]
        case "runtime.labels": runtime += ["labels:", "  x: \(quoted)"]
        case "runtime.label-key": runtime += ["labels:", "  \(quoted): v"]
        case "runtime.entrypoint": runtime[2] = "entrypoint: [/bin/app, \(quoted)]"
        case "runtime.cmd": runtime += ["cmd: [\(quoted)]"]
        case "runtime.healthcheck": runtime += ["healthcheck:", "  test: [python3, -c, \(quoted)]"]
        case "runtime.run": runtime += ["run:", "  - \(quoted)"]
        case "runtime.user": runtime[1] = "user: \(quoted)"
        case "copy.src": runtime += ["copy:", "  - {from: builder, src: \(quoted), dest: /app/}"]
        case "copy.dest": runtime += ["copy:", "  - {from: builder, src: /src/out, dest: \(quoted)}"]
        case "description": top += ["description: \(quoted)"]
        case "tags": top += ["tags: [\(quoted)]"]
        default: break
        }
        return (top + ["builder:"] + builder.map { "  " + $0 } + ["runtime:"] + runtime.map { "  " + $0 })
            .joined(separator: "\n") + "\n"
    }

    /// A YAML double-quoted scalar (JSON string syntax is valid YAML).
    static func yamlString(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F || scalar.value == 0x2028 {
                    out += String(format: "\\u%04X", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

/// A project with an empty context folder `ctx`.
final class TemporaryContext {
    let root: URL

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("harden-build-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("ctx"), withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    func load(_ yaml: String) throws(RecipeError) -> LoadedRecipe {
        try RecipeLoader(root: root).load(
            text: yaml, file: root.appendingPathComponent("recipe.yaml"), displayPath: "recipe.yaml")
    }
}
