import Foundation
import HardenRecipe
import Yams

/// Maps image names in recipes to the references to build from: local copies,
/// mirrors, or an air-gapped registry. A YAML mapping `name: replacement`.
public struct ImageMap: Sendable, Equatable {
    public var entries: [String: String]

    public init(entries: [String: String] = [:]) {
        self.entries = entries
    }

    public init(file: URL) throws(BuildError) {
        let text: String
        do {
            text = try String(contentsOf: file, encoding: .utf8)
        } catch {
            throw BuildError(.input, "cannot read the image map \(file.path): \(error.localizedDescription)")
        }
        let node: Node?
        do {
            // Names are text: no implicit typing (the default resolver builds regular expressions, ~2 ms).
            node = try Yams.compose(yaml: text, .basic)
        } catch {
            throw BuildError(.input, "image map \(file.path): invalid YAML: \(error)")
        }
        guard let node, case .mapping(let mapping) = node else {
            throw BuildError(.input, "image map \(file.path) must be a mapping of image names to references (name: replacement)")
        }
        var entries: [String: String] = [:]
        for (key, value) in mapping {
            let line = key.mark.map { ":\($0.line):\($0.column)" } ?? ""
            guard let from = key.string, let to = value.string else {
                throw BuildError(.input, "\(file.path)\(line): each entry must be 'name: replacement'")
            }
            for reference in [from, to] {
                if let problem = Validate.imageReference(reference) {
                    throw BuildError(.input, "\(file.path)\(line): \(problem)")
                }
            }
            entries[from] = to
        }
        self.entries = entries
    }

    /// The reference to use for `name`.
    public func resolve(_ name: String) -> String {
        entries[name] ?? entries[DockerClient.normalize(name)] ?? name
    }
}

/// The images an existing Dockerfile builds from: FROM lines and `COPY --from=` that don't name
/// an earlier stage (by name or number). Images named through a build argument are left out.
enum DockerfileBases {
    static func parse(_ text: String) -> [String] {
        var stages: Set<String> = []
        var bases: [String] = []
        func add(_ image: String) {
            let isBase =
                !stages.contains(image.lowercased()) && image != "scratch" && !image.contains("$") && Int(image) == nil
            if isBase && !bases.contains(image) { bases.append(image) }
        }
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let words = rawLine.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let keyword = words.first?.uppercased() else { continue }
            if keyword == "COPY" {
                for word in words.dropFirst() where word.lowercased().hasPrefix("--from=") {
                    add(String(word.dropFirst("--from=".count)))
                }
                continue
            }
            guard keyword == "FROM" else { continue }
            let arguments = words.dropFirst().filter { !$0.hasPrefix("--") }
            guard let image = arguments.first else { continue }
            add(image)
            if arguments.count >= 3, arguments[arguments.startIndex + 1].uppercased() == "AS" {
                stages.insert(arguments[arguments.startIndex + 2].lowercased())
            }
        }
        return bases
    }
}
