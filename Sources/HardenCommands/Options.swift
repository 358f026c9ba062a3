import ArgumentParser
import Foundation
import HardenArchive
import HardenBuild
import HardenEngine
import HardenHistory
import HardenPlan
import HardenRecipe

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

/// Options every command that reads recipes shares.
struct ProjectOptions: ParsableArguments {
    @Option(name: .long, help: "The project root: recipe contexts must stay inside it.")
    var root: String = "."

    @Option(name: .long, help: "harden's state directory (history, logs, saved images).")
    var state: String = ".harden"

    @Option(name: .long, help: HistoryLocation.help)
    var history: String?

    @Option(name: .long, help: "A YAML file mapping image names to local or mirror references.")
    var imageMap: String?

    @Option(name: .long, help: "The docker client to run (default: $HARDEN_DOCKER, else docker on PATH).")
    var docker: String?

    @Option(name: .long, help: "The builder: classic or buildkit (default: $HARDEN_BUILDER, else classic).")
    var builder: BuilderBackend?

    @Argument(help: "Recipe files or names (default: every Recipes/*.yaml).")
    var recipes: [String] = []

    var rootURL: URL { URL(fileURLWithPath: root).standardizedFileURL }

    var stateDirectory: StateDirectory {
        let url = state.hasPrefix("/") ? URL(fileURLWithPath: state) : rootURL.appendingPathComponent(state)
        return StateDirectory(root: url)
    }

    func dockerClient() -> DockerClient {
        let environment = ProcessInfo.processInfo.environment
        let backend = builder ?? environment["HARDEN_BUILDER"].flatMap(BuilderBackend.init(rawValue:)) ?? .classic
        return DockerClient.forEnvironment(environment, docker: docker, backend: backend)
    }

    func loadImageMap() throws(BuildError) -> ImageMap {
        guard let imageMap else { return ImageMap() }
        return try ImageMap(file: URL(fileURLWithPath: imageMap))
    }

    /// The selected recipes, loaded and checked; prints every recipe error and exits 2 on any.
    func loadRecipes() throws -> [LoadedRecipe] {
        let loader = RecipeLoader(root: rootURL)
        let recipesDirectory = rootURL.appendingPathComponent("Recipes")
        do {
            let files: [URL]
            if recipes.isEmpty {
                files = try loader.recipeFiles(in: recipesDirectory)
                if files.isEmpty {
                    throw RecipeErrors([
                        RecipeError(
                            SourceLocation(file: recipesDirectory.path, line: 0, column: 0), "no recipes found",
                            hint: "add Recipes/NAME.yaml, or name recipe files")
                    ])
                }
            } else {
                files = try recipes.map { argument throws(RecipeError) -> URL in
                    try resolve(argument, in: recipesDirectory)
                }
            }
            return try loader.load(files: files)
        } catch let error as RecipeError {
            Output.error(error.description)
        } catch let error as RecipeErrors {
            Output.error(error.description)
        }
        throw ExitCode(Exit.badInput)
    }

    private func resolve(_ argument: String, in directory: URL) throws(RecipeError) -> URL {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory), !isDirectory.boolValue {
            return URL(fileURLWithPath: argument)
        }
        for suffix in [".yaml", ".yml"] {
            let candidate = directory.appendingPathComponent(argument + suffix)
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
        }
        let known = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
            .filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) }.sorted()
        throw RecipeError(
            SourceLocation(file: argument, line: 0, column: 0), "no recipe file or recipe named '\(argument)'",
            hint: known.isEmpty ? "recipes live in Recipes/NAME.yaml" : "recipes here: \(known.joined(separator: ", "))")
    }

    /// The history `--history` (or `$HARDEN_HISTORY`, or the state directory) names; exits 2 when it cannot be opened.
    func openStore() async throws -> any HistoryStore {
        guard let store = try await HistoryLocation.openOrExit(history, state: stateDirectory) else {
            throw ExitCode(Exit.badInput)  // not reached: the SQLite file is created when missing
        }
        return store
    }
}

enum Output {
    /// Prints `text`, or writes it to `file` whole (never a partial file); exits 2 when it can't.
    static func emit(_ text: String, to file: String?) throws {
        guard let file else {
            print(text)
            return
        }
        do {
            try AtomicFile.write(Data((text + "\n").utf8), to: file)
        } catch {
            Output.error("cannot write \(file): \(error.localizedDescription)")
            throw ExitCode(Exit.badInput)
        }
    }

    static func error(_ message: String) {
        FileHandle.standardError.write(Data(("harden: " + message + "\n").utf8))
    }

    /// A progress line on stderr.
    static func note(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        guard let data = try? encoder.encode(value) else { return "null" }
        return String(decoding: data, as: UTF8.self)
    }
}

extension BuilderBackend: ExpressibleByArgument {}
