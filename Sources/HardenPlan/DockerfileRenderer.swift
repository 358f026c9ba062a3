import Foundation
import HardenRecipe

/// Renders a recipe's builder and runtime stages as one deterministic Dockerfile.
///
/// Values can't change the file's structure: ENV/ARG/LABEL values are double-quoted
/// with `\`, `"` and `$` escaped; RUN, ENTRYPOINT, CMD, HEALTHCHECK and COPY use the
/// JSON exec form written by a JSON encoder; anything else was checked by
/// `Validate` when the recipe was loaded (no control characters, no `$` in paths).
public enum DockerfileRenderer {
    public static let builderStage = "builder"
    public static let runtimeStage = "runtime"

    /// The Dockerfile text; `bases` maps each `from` to the reference actually used (see `ImageMap`).
    ///
    /// With `builderImage`, only the runtime stage is rendered and it copies from that image ID:
    /// the runtime build then uses exactly the builder image just built, and never rebuilds it.
    public static func render(_ recipe: Recipe, bases: [String: String] = [:], builderImage: String? = nil) -> String {
        var lines = ["# Rendered by harden from recipe \(recipe.name). Do not edit: change the recipe."]
        let copySource = builderImage ?? builderStage
        func copy(_ step: CopyStep) -> String { Self.copy(step, builder: copySource) }
        if let builder = recipe.builder, builderImage == nil {
            lines.append("")
            lines.append("FROM \(bases[builder.from] ?? builder.from) AS \(builderStage)")
            lines.append(epochArgument)
            lines += arguments(builder.args)
            lines += environment(builder.env)
            if let workdir = builder.workdir { lines.append("WORKDIR \(workdir)") }
            lines += builder.copy.map(copy)
            lines += builder.run.map { "RUN \(json(["/bin/sh", "-c", $0]))" }
        }
        if let runtime = recipe.runtime {
            lines.append("")
            lines.append("FROM \(bases[runtime.from] ?? runtime.from) AS \(runtimeStage)")
            if !runtime.run.isEmpty { lines.append(epochArgument) }
            lines += arguments(runtime.args)
            lines += environment(runtime.env)
            if let workdir = runtime.workdir { lines.append("WORKDIR \(workdir)") }
            lines += runtime.run.map { "RUN \(json(["/bin/sh", "-c", $0]))" }
            lines += runtime.copy.map(copy)
            if let user = runtime.user { lines.append("USER \(user)") }
            if !runtime.expose.isEmpty { lines.append("EXPOSE " + runtime.expose.map(\.description).joined(separator: " ")) }
            for label in runtime.labels { lines.append("LABEL \(quoted(label.key))=\(quoted(label.value))") }
            if let health = runtime.healthcheck { lines.append(healthcheck(health)) }
            if let entrypoint = runtime.entrypoint { lines.append("ENTRYPOINT \(json(entrypoint))") }
            if let cmd = runtime.cmd { lines.append("CMD \(json(cmd))") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Tools that honour it (Python's hash-based .pyc, gzip, dpkg) write what they would at that time.
    static let epochArgument = "ARG \(SourceDateEpoch.variable)"

    private static func arguments(_ args: [KeyValue]) -> [String] {
        args.map { "ARG \($0.key)=\(quoted($0.value))" }
    }

    private static func environment(_ env: [KeyValue]) -> [String] {
        env.map { "ENV \($0.key)=\(quoted($0.value))" }
    }

    private static func copy(_ step: CopyStep, builder: String) -> String {
        var line = "COPY"
        if step.from == .builder { line += " --from=\(builder)" }
        if let chown = step.chown { line += " --chown=\(chown)" }
        return line + " " + json(step.src + [step.dest])
    }

    private static func healthcheck(_ health: Healthcheck) -> String {
        var line = "HEALTHCHECK"
        if let interval = health.interval { line += " --interval=\(interval)" }
        if let timeout = health.timeout { line += " --timeout=\(timeout)" }
        if let start = health.startPeriod { line += " --start-period=\(start)" }
        if let retries = health.retries { line += " --retries=\(retries)" }
        return line + " CMD " + json(health.test)
    }

    /// A double-quoted Dockerfile word: `\`, `"` and `$` escaped, so Docker takes it literally.
    public static func quoted(_ value: String) -> String {
        var out = "\""
        for character in value {
            if character == "\\" || character == "\"" || character == "$" { out.append("\\") }
            out.append(character)
        }
        return out + "\""
    }

    /// A JSON array of strings, the exec form Docker reads with a JSON parser.
    public static func json(_ values: [String]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let items = values.map { value in
            (try? encoder.encode(value)).flatMap { String(data: $0, encoding: .utf8) } ?? "\"\""
        }
        return "[" + items.joined(separator: ", ") + "]"
    }
}
