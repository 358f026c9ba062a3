import HardenEngine
import HardenHistory

/// What a builder stage's image is made from, as one digest: every plan input except the
/// fields that only shape the runtime stage or what happens after the build, plus the
/// SOURCE_DATE_EPOCH it was built with and the builder backend. Built builder images carry it
/// as a label, so a builder stage whose inputs did not move is reused without asking the
/// engine to build it again (the engine's cache would give the same image).
public enum BuilderInputs {
    public static let label = "org.harden.builder-inputs"
    static let runtimeOnly = [
        "recipe.runtime.", "recipe.policy", "recipe.scan", "recipe.schedule", "recipe.tags", "recipe.description",
    ]

    public static func digest(parts: [String: String], epoch: Int64, backend: BuilderBackend) -> String {
        var kept = parts.filter { key, _ in !runtimeOnly.contains { key.hasPrefix($0) } }
        kept["harden.source-date-epoch"] = "\(epoch)"
        kept["harden.builder-backend"] = backend.rawValue
        return Planner.digest(kept)
    }
}

/// A builder image from an earlier build that is still in the engine.
public struct ReusableBuilder: Sendable, Codable, Equatable {
    public var image: String
    /// The `BuilderInputs` digest it was built from.
    public var inputs: String
    public var build: Int64?

    /// The builder image of `previous`, when the engine has it and it carries its inputs label.
    init?(_ previous: BuildRecord?, engine: [String: EngineImage]) {
        guard let previous, let image = previous.builderImage,
            let inputs = engine[image]?.labels?[BuilderInputs.label]
        else { return nil }
        self.image = image
        self.inputs = inputs
        build = previous.id
    }
}
