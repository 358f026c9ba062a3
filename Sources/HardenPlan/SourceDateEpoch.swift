import Foundation
import HardenProcess
import HardenRecipe

/// The time a reproducible image carries everywhere (file mtimes, `created`), and where it came from.
///
/// Resolved in this order: the recipe's `source-date-epoch`, the `SOURCE_DATE_EPOCH`
/// environment variable, the last git commit touching the recipe, its context or its
/// Dockerfile, else 0 (1970-01-01).
public struct SourceDateEpoch: Sendable, Equatable, Codable {
    public enum Origin: String, Sendable, Codable {
        case recipe, environment, git, none
    }
    public var seconds: Int64
    public var origin: Origin

    public init(seconds: Int64, origin: Origin) {
        self.seconds = seconds
        self.origin = origin
    }

    public static let variable = "SOURCE_DATE_EPOCH"

    /// The environment's value; nil when unset; an error when set to anything but whole seconds.
    public static func fromEnvironment(_ environment: [String: String]) throws(BuildError) -> Int64? {
        guard let text = environment[variable] else { return nil }
        guard let seconds = Int64(text.trimmingCharacters(in: .whitespaces)), seconds >= 0 else {
            throw BuildError(
                .input, "\(variable)='\(text)' is not a whole number of seconds since 1970",
                hint: "set it to e.g. $(git log -1 --format=%ct), or unset it")
        }
        return seconds
    }

    /// `commits` keeps each recipe's git answer for the commit HEAD named: a checkout that did
    /// not move since the last build runs no git.
    public static func resolve(
        for recipe: LoadedRecipe, environment: [String: String], runner: any ProcessRunning,
        commits: CommitEpochCache? = nil
    ) async throws(BuildError) -> SourceDateEpoch {
        if let seconds = recipe.recipe.sourceDateEpoch { return SourceDateEpoch(seconds: seconds, origin: .recipe) }
        if let seconds = try fromEnvironment(environment) { return SourceDateEpoch(seconds: seconds, origin: .environment) }
        if let seconds = await lastCommit(touching: recipe, environment: environment, runner: runner, commits: commits) {
            return SourceDateEpoch(seconds: seconds, origin: .git)
        }
        return SourceDateEpoch(seconds: 0, origin: .none)
    }

    /// `resolve`, its failure kept as a value (for a lookup that runs beside other work).
    public static func lookUp(
        for recipe: LoadedRecipe, environment: [String: String], runner: any ProcessRunning,
        commits: CommitEpochCache? = nil
    ) async -> Result<SourceDateEpoch, BuildError> {
        do {
            return .success(try await resolve(for: recipe, environment: environment, runner: runner, commits: commits))
        } catch {
            return .failure(error)
        }
    }

    /// `git log -1 --format=%ct` over the recipe's own files; nil outside a repository or without git.
    static func lastCommit(
        touching recipe: LoadedRecipe, environment: [String: String], runner: any ProcessRunning,
        commits: CommitEpochCache?
    ) async -> Int64? {
        let paths = [recipe.file, recipe.contextDirectory, recipe.dockerfile].compactMap { $0?.path }
        let directory = recipe.file.deletingLastPathComponent()
        let head = commits == nil ? nil : GitHead.find(around: directory, environment: environment)
        if let commits, let head, let seconds = commits.seconds(recipe: recipe.name, head: head, paths: paths) {
            return seconds
        }
        let command = Command(
            "git", ["-C", directory.path, "log", "-1", "--format=%ct", "--"] + paths, timeout: .seconds(30))
        guard let result = try? await runner.run(command), result.succeeded,
            let seconds = Int64(result.output.trimmingCharacters(in: .whitespacesAndNewlines))
        else { return nil }
        // Kept only when HEAD did not move while git ran: the answer is that commit's.
        if let commits, let head, GitHead.find(around: directory, environment: environment) == head {
            commits.store(seconds, recipe: recipe.name, head: head, paths: paths)
        }
        return seconds
    }

    public var description: String {
        let origin: String =
            switch self.origin {
            case .recipe: "the recipe's source-date-epoch"
            case .environment: "$\(Self.variable)"
            case .git: "the last commit of the recipe and its context"
            case .none: "no recipe field, variable or commit: 1970-01-01"
            }
        return "\(seconds) (\(origin))"
    }
}

/// SOURCE_DATE_EPOCH of the recipes of a small build, looked up (`git log`) while the build is
/// planned rather than after: for one recipe that is most of the git run taken off its latency.
/// With more recipes nothing is looked up early: many would turn out up to date.
public final class SourceDateEpochLookups: Sendable {
    public static let limit = 4
    private let lookups: [String: Task<Result<SourceDateEpoch, BuildError>, Never>]

    public init(
        recipes: [LoadedRecipe], environment: [String: String], runner: any ProcessRunning,
        commits: CommitEpochCache? = nil
    ) {
        guard recipes.count <= Self.limit else {
            lookups = [:]
            return
        }
        lookups = Dictionary(
            recipes.map { recipe in
                (
                    recipe.name,
                    Task {
                        await SourceDateEpoch.lookUp(for: recipe, environment: environment, runner: runner, commits: commits)
                    }
                )
            }, uniquingKeysWith: { first, _ in first })
    }

    public func lookup(of recipe: String) -> Task<Result<SourceDateEpoch, BuildError>, Never>? {
        lookups[recipe]
    }

    /// Stops the lookups still running (for recipes that were not built).
    public func cancel() {
        lookups.values.forEach { $0.cancel() }
    }
}

/// The git answer of each recipe's last lookup, with the commit HEAD named and the paths asked
/// about (`DIRECTORY/RECIPE.json`). `git log` of one commit always gives the same answer; a
/// file that is missing, unreadable or about another commit is a miss, and git runs.
public struct CommitEpochCache: Sendable {
    public var directory: URL

    public init(directory: URL) {
        self.directory = directory
    }

    struct Entry: Codable, Equatable {
        var gitDirectory: String
        var commit: String
        var paths: [String]
        var seconds: Int64
    }

    func seconds(recipe: String, head: GitHead, paths: [String]) -> Int64? {
        guard let data = FileManager.default.contents(atPath: file(recipe).path),
            let entry = try? JSONDecoder().decode(Entry.self, from: data),
            entry.gitDirectory == head.gitDirectory, entry.commit == head.commit, entry.paths == paths
        else { return nil }
        return entry.seconds
    }

    /// Best effort: a cache that cannot be written only means git runs next time.
    func store(_ seconds: Int64, recipe: String, head: GitHead, paths: [String]) {
        let entry = Entry(gitDirectory: head.gitDirectory, commit: head.commit, paths: paths, seconds: seconds)
        guard let data = try? JSONEncoder().encode(entry) else { return }
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try? data.write(to: file(recipe), options: .atomic)
    }

    private func file(_ recipe: String) -> URL {
        directory.appendingPathComponent("\(recipe).json")
    }
}
