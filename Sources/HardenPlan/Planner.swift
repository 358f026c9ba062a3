import Foundation
import HardenEngine
import HardenHistory
import HardenImage
import HardenRecipe

/// What the planner decided for one recipe, and why.
public struct BuildPlan: Sendable, Codable {
    public enum Action: String, Sendable, Codable {
        case build
        case skip
    }
    public var recipe: String
    public var file: String
    public var action: Action
    public var reasons: [String]
    public var inputDigest: String
    /// Input name → hash; compared with the last successful build to explain changes.
    public var inputParts: [String: String]
    /// Each base as named in the recipe → the image ID it resolved to (absent when the engine lacks it).
    public var baseImages: [String: String]
    /// Each base as named in the recipe → the reference actually built from (after `--image-map`).
    public var resolvedBases: [String: String]
    /// Each base → the registry digest the engine has for it under that name (none for local-only bases).
    public var baseDigests: [String: String] = [:]
    /// Bases the engine doesn't have.
    public var missingBases: [String]
    /// The last successful build, when there is one.
    public var previousBuild: Int64?
    public var previousImage: String?
    /// The last successful build's builder image, when the engine still has it, and the
    /// digest of the inputs it was built from (its label).
    public var previousBuilder: ReusableBuilder?
    /// Each of the recipe's tags that pointed at the last build's image when planned → that image.
    public var taggedImages: [String: String] = [:]
    /// The Dockerfile to build (rendered, or the recipe's own in Dockerfile mode).
    public var dockerfile: String
    /// A runtime made from Debian packages: its lock and the tag of the assembled base.
    public var debianBase: DebianBasePlan?
}

/// Decides, for each recipe, whether it must be built and why, from hashes of
/// its inputs: the recipe's fields, its context files, its base image IDs.
public struct Planner: Sendable {
    /// Bumped when rendering changes, so every recipe rebuilds once.
    public static let rendererVersion = "2"

    public var imageMap: ImageMap
    /// `$SOURCE_DATE_EPOCH`: it changes every time in the image, so it is an input.
    public var environmentEpoch: Int64?

    public init(imageMap: ImageMap = ImageMap(), environmentEpoch: Int64? = nil) {
        self.imageMap = imageMap
        self.environmentEpoch = environmentEpoch
    }

    /// The tags a build of `recipe` gets.
    public static func tags(_ recipe: LoadedRecipe) -> [String] {
        recipe.recipe.tags.isEmpty ? ["harden/\(recipe.name):latest"] : recipe.recipe.tags
    }

    /// The base references of `recipe` (from the recipe or its Dockerfile), before mapping.
    public func bases(of recipe: LoadedRecipe) throws(BuildError) -> [String] {
        if let url = recipe.dockerfile {
            return DockerfileBases.parse(try dockerfileText(url))
        }
        return recipe.recipe.baseImages.filter { $0 != "scratch" }
    }

    /// Every reference the engine should be asked about for these recipes (one inspect call);
    /// `builders`: also the last builder images, which only a build can reuse.
    public func engineReferences(
        for recipes: [LoadedRecipe], previous: [String: BuildRecord], builders: Bool = true
    ) throws(BuildError) -> [String] {
        var references: Set<String> = []
        for recipe in recipes {
            for base in try bases(of: recipe) { references.insert(imageMap.resolve(base)) }
            if let tag = try DebianBases.plan(for: recipe)?.tag { references.insert(tag) }
            if let image = previous[recipe.name]?.runtimeImage { references.insert(image) }
            if builders, let image = previous[recipe.name]?.builderImage { references.insert(image) }
        }
        return references.sorted()
    }

    public func plan(
        _ recipe: LoadedRecipe, engine: [String: EngineImage], previous: BuildRecord?, hasher: ContextHasher,
        force: Bool = false
    ) throws(BuildError) -> BuildPlan {
        let baseNames = try bases(of: recipe)
        var resolved: [String: String] = [:]
        var baseIDs: [String: String] = [:]
        var baseDigests: [String: String] = [:]
        var missing: [String] = []
        for base in baseNames {
            let reference = imageMap.resolve(base)
            resolved[base] = reference
            if let image = engine[reference] {
                baseIDs[base] = image.id
                baseDigests[base] = image.registryDigest(for: reference)
            } else {
                missing.append(base)
            }
        }
        let dockerfile: String
        var parts = try recipeParts(recipe.recipe)
        let debian = try DebianBases.plan(for: recipe)
        if let debian, let runtime = recipe.recipe.runtime {
            parts.merge(DebianBases.parts(debian)) { $1 }
            let tag = debian.tag ?? runtime.from
            resolved[runtime.from] = tag
            if let image = engine[tag] { baseIDs[runtime.from] = image.id }
        }
        if let url = recipe.dockerfile {
            dockerfile = try dockerfileText(url)
            parts["dockerfile"] = Digest.sha256(Data(dockerfile.utf8)).description
        } else {
            dockerfile = DockerfileRenderer.render(recipe.recipe, bases: resolved)
        }
        parts["harden.renderer"] = Self.rendererVersion
        if recipe.recipe.sourceDateEpoch == nil, let epoch = environmentEpoch { parts["source-date-epoch"] = "\(epoch)" }
        for (path, hash) in try hasher.snapshot(of: recipe.contextDirectory).files {
            parts["context/\(path)"] = hash
        }
        for base in baseNames {
            parts["base/\(base)"] = baseIDs[base] ?? "missing"
            if resolved[base] != base { parts["base-map/\(base)"] = resolved[base] }
        }
        let digest = Self.digest(parts)
        var reasons = Self.reasons(parts: parts, previous: previous, resolved: resolved)
        if let debian, debian.usable == nil {
            let file = (debian.lockFile as NSString).lastPathComponent
            reasons.append(
                debian.lock == nil
                    ? "no lock file \(file) yet: the build resolves the Debian packages and writes it"
                    : "\(file) was resolved from other debian: settings: the build resolves the packages again")
        }
        if !reasons.isEmpty, let previous, previous.inputDigest == digest {
            reasons = []
        }
        if reasons.isEmpty, let previous, let image = previous.runtimeImage, engine[image] == nil {
            reasons.append("image \(Self.short(image)) from build #\(previous.id ?? 0) is no longer in the engine")
        }
        for base in missing {
            let shown = resolved[base] == base ? base : "\(resolved[base] ?? base) (for \(base))"
            reasons.append("base \(shown) is not in the engine: pull it, or map it to a local image with --image-map")
        }
        if force && reasons.isEmpty { reasons.append("forced (--force or --no-cache)") }
        let action: BuildPlan.Action = reasons.isEmpty ? .skip : .build
        if action == .skip, let previous {
            reasons = ["up to date (build #\(previous.id ?? 0), image \(Self.short(previous.runtimeImage ?? "?")))"]
        }
        var plan = BuildPlan(
            recipe: recipe.name, file: recipe.displayPath, action: action, reasons: reasons, inputDigest: digest,
            inputParts: parts, baseImages: baseIDs, resolvedBases: resolved, baseDigests: baseDigests,
            missingBases: missing,
            previousBuild: previous?.id, previousImage: previous?.runtimeImage,
            previousBuilder: ReusableBuilder(previous, engine: engine), dockerfile: dockerfile, debianBase: debian)
        if let image = previous?.runtimeImage, let known = engine[image] {
            let current = Set(known.repoTags.map(DockerClient.normalize))
            for tag in Self.tags(recipe) where current.contains(DockerClient.normalize(tag)) { plan.taggedImages[tag] = known.id }
        }
        return plan
    }

    /// One hash per recipe field, two levels deep for the stages (`runtime.env`).
    func recipeParts(_ recipe: Recipe) throws(BuildError) -> [String: String] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data: Data
        do {
            data = try encoder.encode(recipe)
        } catch {
            throw BuildError(.input, "cannot encode recipe \(recipe.name): \(error)")
        }
        var parts: [String: String] = [:]
        // Where the image is published does not change the image: not an input.
        for (key, value) in JSONFields.split(data) where key != "publish" {
            let name = Self.kebab(key)
            if key == "builder" || key == "runtime", value.first == UInt8(ascii: "{") {
                for (field, fieldValue) in JSONFields.split(value) {
                    parts["recipe.\(name).\(Self.kebab(field))"] = Digest.sha256(fieldValue).description
                }
            } else {
                parts["recipe.\(name)"] = Digest.sha256(value).description
            }
        }
        return parts
    }

    public static func digest(_ parts: [String: String]) -> String {
        var hasher = Hasher256()
        for (key, value) in parts.sorted(by: { $0.key < $1.key }) {
            hasher.update("\(key)=\(value)\n")
        }
        return hasher.finalize().description
    }

    static func reasons(parts: [String: String], previous: BuildRecord?, resolved: [String: String]) -> [String] {
        guard let previous else { return ["new recipe"] }
        let old = previous.inputParts
        var reasons: [String] = []
        for key in Set(parts.keys).union(old.keys).sorted() where parts[key] != old[key] {
            let now = parts[key], was = old[key]
            if key.hasPrefix("recipe.") {
                reasons.append("recipe field \(key.dropFirst("recipe.".count)) changed")
            } else if key.hasPrefix("context/") {
                let file = key.dropFirst("context/".count)
                reasons.append(
                    was == nil
                        ? "context file \(file) added"
                        : now == nil ? "context file \(file) removed" : "context file \(file) changed")
            } else if key.hasPrefix("debian/") {
                reasons.append(DebianBases.reason(package: String(key.dropFirst("debian/".count)), now: now, was: was))
            } else if key == "debian.lock" {
                continue  // said by the planner with the lock file's name
            } else if key == "debian.assembler" {
                reasons.append("harden assembles Debian bases differently now (assembler \(was ?? "none") → \(now ?? "none"))")
            } else if key.hasPrefix("base/") {
                let base = key.dropFirst("base/".count)
                reasons.append("base \(base) is now \(now ?? "gone") (was \(was ?? "not used"))")
            } else if key.hasPrefix("base-map/") {
                reasons.append(
                    "image map for \(key.dropFirst("base-map/".count)) is now \(now ?? "unset") (was \(was ?? "unset"))")
            } else if key == "dockerfile" {
                reasons.append("Dockerfile changed")
            } else if key == "source-date-epoch" {
                reasons.append("$SOURCE_DATE_EPOCH is now \(now ?? "unset") (was \(was ?? "unset"))")
            } else if key == "harden.renderer" {
                reasons.append("harden renders Dockerfiles differently now (renderer \(was ?? "?") → \(now ?? "?"))")
            } else {
                reasons.append("\(key) changed")
            }
        }
        if previous.inputDigest.isEmpty { reasons.append("no inputs recorded for the last build") }
        return reasons
    }

    private func dockerfileText(_ url: URL) throws(BuildError) -> String {
        do {
            return try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw BuildError(.input, "cannot read the Dockerfile \(url.path): \(error.localizedDescription)")
        }
    }

    static func kebab(_ name: String) -> String {
        var out = ""
        for character in name {
            if character.isUppercase {
                out += "-" + character.lowercased()
            } else {
                out.append(character)
            }
        }
        return out
    }

    public static func short(_ id: String) -> String {
        id.hasPrefix("sha256:") ? "sha256:" + id.dropFirst(7).prefix(12) : id
    }
}
