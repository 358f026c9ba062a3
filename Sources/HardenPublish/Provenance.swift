import Foundation

/// SLSA provenance v1 for a harden build: what was built from which recipe, context and base
/// images, by which builder, when.
public struct BuildProvenance: Sendable {
    public static let predicateType = "https://slsa.dev/provenance/v1"
    public static let buildType = "https://github.com/harden-build/harden/recipe-build/v1"

    public struct Dependency: Sendable, Equatable {
        public var name: String
        public var uri: String?
        /// `sha256:<hex>`.
        public var digest: String

        public init(name: String, uri: String?, digest: String) {
            self.name = name
            self.uri = uri
            self.digest = digest
        }
    }

    public var recipe: String
    /// The recipe file as the build read it (relative to the project).
    public var recipePath: String?
    /// `sha256:` over the recipe's hashed inputs.
    public var recipeDigest: String
    /// `sha256:` over every hashed input, as the planner computed it.
    public var inputDigest: String
    public var dependencies: [Dependency]
    public var builderID: String
    public var invocationID: String
    public var startedOn: Date
    public var finishedOn: Date?
    public var hardenVersion: String

    public init(
        recipe: String, recipePath: String?, recipeDigest: String, inputDigest: String, dependencies: [Dependency],
        builderID: String, invocationID: String, startedOn: Date, finishedOn: Date?, hardenVersion: String
    ) {
        self.recipe = recipe
        self.recipePath = recipePath
        self.recipeDigest = recipeDigest
        self.inputDigest = inputDigest
        self.dependencies = dependencies
        self.builderID = builderID
        self.invocationID = invocationID
        self.startedOn = startedOn
        self.finishedOn = finishedOn
        self.hardenVersion = hardenVersion
    }

    /// The predicate's JSON, keys sorted: the same build gives the same bytes.
    public func predicate() throws -> Data {
        var recipeParameter: [String: Any] = ["name": recipe, "digest": Self.digestSet(recipeDigest)]
        recipeParameter["path"] = recipePath
        var metadata: [String: Any] = ["invocationId": invocationID, "startedOn": Self.rfc3339(startedOn)]
        metadata["finishedOn"] = finishedOn.map(Self.rfc3339)
        let predicate: [String: Any] = [
            "buildDefinition": [
                "buildType": Self.buildType,
                "externalParameters": ["recipe": recipeParameter],
                "internalParameters": ["inputDigest": inputDigest],
                "resolvedDependencies": dependencies.sorted { $0.name < $1.name }.map { dependency -> [String: Any] in
                    var entry: [String: Any] = ["name": dependency.name, "digest": Self.digestSet(dependency.digest)]
                    entry["uri"] = dependency.uri
                    return entry
                },
            ],
            "runDetails": [
                "builder": ["id": builderID, "version": ["harden": hardenVersion]],
                "metadata": metadata,
            ],
        ]
        return try JSONSerialization.data(withJSONObject: predicate, options: [.sortedKeys, .withoutEscapingSlashes])
    }

    /// `{"sha256": "<hex>"}` from `sha256:<hex>`.
    static func digestSet(_ digest: String) -> [String: String] {
        guard let colon = digest.firstIndex(of: ":") else { return ["sha256": digest] }
        return [String(digest[..<colon]): String(digest[digest.index(after: colon)...])]
    }

    static func rfc3339(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
            Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }
}
