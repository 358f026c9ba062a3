import Foundation
import HardenConcurrency
import Yams

/// A recipe with the files it refers to resolved.
public struct LoadedRecipe: Sendable {
    public var recipe: Recipe
    /// The recipe file, absolute.
    public var file: URL
    /// The recipe file as shown to users (relative to the project root when inside it).
    public var displayPath: String
    public var contextDirectory: URL
    /// Set in Dockerfile mode.
    public var dockerfile: URL?

    public var name: String { recipe.name }
}

/// Reads recipe files, reporting every problem with file:line:col.
public struct RecipeLoader: Sendable {
    /// Contexts and Dockerfiles must stay inside this directory.
    public var root: URL

    public init(root: URL) {
        self.root = root.standardizedFileURL.resolvingSymlinksInPath()
    }

    /// The recipes in `directory/*.yaml` (and `*.yml`), sorted by file name; `*.lock.yaml` are
    /// the lock files `harden lock` writes beside them.
    public func recipeFiles(in directory: URL) throws(RecipeError) -> [URL] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw RecipeError(
                SourceLocation(file: directory.path, line: 0, column: 0), "cannot list recipes: \(error.localizedDescription)",
                hint: "run harden from the project root (the folder holding Recipes/) or name recipe files")
        }
        return names.filter { ($0.hasSuffix(".yaml") || $0.hasSuffix(".yml")) && !$0.hasSuffix(".lock.yaml") }.sorted()
            .map { directory.appendingPathComponent($0) }
    }

    /// Loads several recipes; every file is read and all errors are reported together.
    public func load(files: [URL]) throws(RecipeErrors) -> [LoadedRecipe] {
        // Parsing YAML dominates planning many recipes; each file is parsed on its own core.
        let results = ParallelResults<Result<LoadedRecipe, RecipeError>>(count: files.count)
        DispatchQueue.concurrentPerform(iterations: files.count) { index in
            results[index] = Result { () throws(RecipeError) in try load(file: files[index]) }
        }
        var loaded: [LoadedRecipe] = []
        var errors: [RecipeError] = []
        for result in results.values {
            switch result {
            case .success(let recipe): loaded.append(recipe)
            case .failure(let error): errors.append(error)
            case nil: break
            }
        }
        var seen: [String: String] = [:]
        for recipe in loaded {
            if let other = seen[recipe.name] {
                errors.append(
                    RecipeError(
                        SourceLocation(file: recipe.displayPath, line: 1, column: 1),
                        "recipe name '\(recipe.name)' is already used by \(other)", hint: "give each recipe a unique name"))
            }
            seen[recipe.name] = recipe.displayPath
        }
        if !errors.isEmpty { throw RecipeErrors(errors) }
        return loaded
    }

    public func load(file: URL) throws(RecipeError) -> LoadedRecipe {
        let absolute = file.standardizedFileURL
        let display = displayPath(absolute)
        let text: String
        do {
            let data = try Data(contentsOf: absolute)
            guard let decoded = String(data: data, encoding: .utf8) else {
                throw RecipeError(SourceLocation(file: display, line: 1, column: 1), "the recipe is not UTF-8 text")
            }
            text = decoded
        } catch let error as RecipeError {
            throw error
        } catch {
            throw RecipeError(
                SourceLocation(file: display, line: 0, column: 0), "cannot read the recipe: \(error.localizedDescription)")
        }
        return try load(text: text, file: absolute, displayPath: display)
    }

    /// Every scalar is read as text and converted by the field that expects it, so YAML's
    /// implicit typing (the default resolver's regular expressions, costly to build) is not used.
    static let resolver = Resolver.basic

    /// Parses recipe text; `file` locates the context and Dockerfile.
    public func load(text: String, file: URL, displayPath: String) throws(RecipeError) -> LoadedRecipe {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text, Self.resolver)
        } catch {
            throw Self.yamlError(error, file: displayPath)
        }
        guard let node else {
            throw RecipeError(
                SourceLocation(file: displayPath, line: 1, column: 1), "the recipe is empty", hint: "see docs/recipes.md")
        }
        let recipe = try RecipeParser.parse(YAMLField(node: node, path: "", file: displayPath))
        return try resolve(recipe, node: node, file: file, displayPath: displayPath)
    }

    private func displayPath(_ file: URL) -> String {
        let path = file.path
        let rootPath = root.path.hasSuffix("/") ? root.path : root.path + "/"
        let cwd = FileManager.default.currentDirectoryPath + "/"
        if path.hasPrefix(cwd) { return String(path.dropFirst(cwd.count)) }
        if path.hasPrefix(rootPath) { return String(path.dropFirst(rootPath.count)) }
        return path
    }

    /// Checks that need the file system: the context, copy sources, the Dockerfile.
    private func resolve(_ recipe: Recipe, node: Node, file: URL, displayPath: String) throws(RecipeError) -> LoadedRecipe {
        let top = YAMLField(node: node, path: "", file: displayPath)
        func field(_ path: [String]) -> YAMLField {
            var current = top
            for key in path {
                guard case .mapping(let mapping) = current.node, let child = mapping[key] else { return current }
                current = YAMLField(node: child, path: key, file: displayPath)
            }
            return current
        }
        let recipeDirectory = file.deletingLastPathComponent()
        let contextField = field(["context"])
        if recipe.context.hasPrefix("/") {
            throw contextField.error(
                "context '\(recipe.context)' is absolute", hint: "write the context relative to the recipe file")
        }
        let context = recipeDirectory.appendingPathComponent(recipe.context).standardizedFileURL.resolvingSymlinksInPath()
        guard isInside(context, root) else {
            throw contextField.error(
                "context '\(recipe.context)' resolves to \(context.path), outside the project root \(root.path)",
                hint: "keep the build context inside the project, or run harden from a folder that contains it")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: context.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw contextField.error("context '\(recipe.context)' is not a directory (looked at \(context.path))")
        }
        for (stageKey, steps) in [("builder", recipe.builder?.copy ?? []), ("runtime", recipe.runtime?.copy ?? [])] {
            for (index, step) in steps.enumerated() where step.from == .context {
                let stepField = copyField(top, stage: stageKey, index: index, displayPath: displayPath)
                for source in step.src {
                    try checkContextSource(source, context: context, at: stepField)
                }
            }
        }
        var dockerfile: URL?
        if let source = recipe.dockerfile {
            let dockerfileField = field(["dockerfile"])
            let url = recipeDirectory.appendingPathComponent(source.path).standardizedFileURL.resolvingSymlinksInPath()
            guard isInside(url, root) else {
                throw dockerfileField.error("dockerfile '\(source.path)' is outside the project root \(root.path)")
            }
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw dockerfileField.error("dockerfile '\(source.path)' not found (looked at \(url.path))")
            }
            dockerfile = url
        }
        if let user = recipe.runtime?.user, Validate.isRoot(user), !recipe.policy.allowRoot {
            throw field(["runtime", "user"]).error(
                "runtime.user '\(user)' runs the image as root, which the policy forbids",
                hint: "use a non-root user (distroless images have nonroot, uid 65532), or set policy.allow-root: true")
        }
        return LoadedRecipe(
            recipe: recipe, file: file, displayPath: displayPath, contextDirectory: context, dockerfile: dockerfile)
    }

    private func copyField(_ top: YAMLField, stage: String, index: Int, displayPath: String) -> YAMLField {
        guard case .mapping(let mapping) = top.node, let stageNode = mapping[stage],
            case .mapping(let stageMapping) = stageNode, let copyNode = stageMapping["copy"],
            case .sequence(let items) = copyNode, index < items.count
        else { return top }
        return YAMLField(node: items[index], path: "\(stage).copy[\(index)]", file: displayPath)
    }

    private func checkContextSource(_ source: String, context: URL, at field: YAMLField) throws(RecipeError) {
        if source.hasPrefix("/") {
            throw field.error("copy source '\(source)' is absolute", hint: "sources from the context are relative to it")
        }
        let target = context.appendingPathComponent(source).standardizedFileURL
        guard isInside(target, context) else {
            throw field.error("copy source '\(source)' is outside the context \(context.path)")
        }
        if source.contains(where: { "*?[".contains($0) }) { return }
        guard FileManager.default.fileExists(atPath: target.path) else {
            throw field.error("copy source '\(source)' not found in the context \(context.path)")
        }
        let real = target.resolvingSymlinksInPath()
        guard isInside(real, context) else {
            throw field.error("copy source '\(source)' is a link to \(real.path), outside the context")
        }
    }

    private func isInside(_ url: URL, _ directory: URL) -> Bool {
        let path = url.standardizedFileURL.path
        let base = directory.standardizedFileURL.path
        return path == base || path.hasPrefix(base.hasSuffix("/") ? base : base + "/")
    }

    static func yamlError(_ error: any Error, file: String) -> RecipeError {
        guard let yaml = error as? YamlError else {
            return RecipeError(SourceLocation(file: file, line: 1, column: 1), "invalid YAML: \(error)")
        }
        switch yaml {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let prefix = context.map { "\($0.text) " } ?? ""
            return RecipeError(
                SourceLocation(file: file, line: mark.line, column: mark.column), "invalid YAML: \(prefix)\(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return RecipeError(
                SourceLocation(file: file, line: context.mark.line, column: context.mark.column),
                "duplicate keys: \(duplicates.joined(separator: ", "))")
        default:
            return RecipeError(SourceLocation(file: file, line: 1, column: 1), "invalid YAML: \(yaml)")
        }
    }
}

/// Reads policy files: the keys of a recipe's `policy:` section (verification) or of its
/// `scan:` section (the vulnerability gate).
public enum PolicyLoader {
    public static func load(file: URL, displayPath: String? = nil) throws(RecipeError) -> Policy {
        guard let field = try root(file: file, section: "policy", displayPath: displayPath) else { return Policy() }
        return try RecipeParser.parsePolicy(field)
    }

    public static func loadScan(file: URL, displayPath: String? = nil) throws(RecipeError) -> ScanSettings {
        guard let field = try root(file: file, section: "scan", displayPath: displayPath) else { return ScanSettings() }
        return try RecipeParser.parseScan(field)
    }

    private static func root(file: URL, section: String, displayPath: String?) throws(RecipeError) -> YAMLField? {
        let display = displayPath ?? file.path
        let text: String
        do {
            text = try String(contentsOf: file, encoding: .utf8)
        } catch {
            throw RecipeError(
                SourceLocation(file: display, line: 0, column: 0), "cannot read the policy: \(error.localizedDescription)")
        }
        let node: Node?
        do {
            node = try Yams.compose(yaml: text, RecipeLoader.resolver)
        } catch {
            throw RecipeLoader.yamlError(error, file: display)
        }
        return node.map { YAMLField(node: $0, path: section, file: display) }
    }
}
