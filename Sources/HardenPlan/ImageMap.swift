import Foundation
import HardenEngine
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
        func add(_ word: String) {
            let image = word.trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
            let isBase =
                !image.isEmpty && !stages.contains(image.lowercased()) && image != "scratch" && !image.contains("$")
                && Int(image) == nil
            if isBase && !bases.contains(image) { bases.append(image) }
        }
        for words in instructions(text) {
            switch words[0].uppercased() {
            case "COPY":
                for word in words.dropFirst() where word.lowercased().hasPrefix("--from=") {
                    add(String(word.dropFirst("--from=".count)))
                }
            case "FROM":
                let arguments = words.dropFirst().filter { !$0.hasPrefix("--") }
                guard let image = arguments.first else { continue }
                add(image)
                if arguments.count >= 3, arguments[arguments.startIndex + 1].uppercased() == "AS" {
                    stages.insert(arguments[arguments.startIndex + 2].lowercased())
                }
            default:
                continue
            }
        }
        return bases
    }

    /// Each instruction as words: continued lines joined (with the `# escape=` character),
    /// comments and the bodies of heredocs (`<<EOF` … `EOF`) left out.
    static func instructions(_ text: String) -> [[String]] {
        var escape: Character = "\\"
        var atTop = true
        var instructions: [[String]] = []
        var pending = ""
        var heredocs: [(marker: String, stripsTabs: Bool)] = []
        func words(_ text: String) -> [String] {
            text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        }
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            if let heredoc = heredocs.first {
                let line = heredoc.stripsTabs ? rawLine.drop(while: { $0 == "\t" }) : rawLine
                if line == heredoc.marker { heredocs.removeFirst() }
                continue
            }
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("#") {
                if atTop, line.replacingOccurrences(of: " ", with: "").lowercased() == "#escape=`" { escape = "`" }
                continue
            }
            atTop = false
            if line.isEmpty { continue }
            if line.last == escape {
                pending += line.dropLast() + " "
                continue
            }
            let instruction = words(pending + line)
            pending = ""
            instructions.append(instruction)
            heredocs = instruction.compactMap(heredocMarker)
        }
        if !pending.isEmpty { instructions.append(words(pending)) }
        return instructions
    }

    /// `<<EOF`, `<<-EOF`, `<<"EOF"` → the marker, and whether its end line may be indented by tabs.
    private static func heredocMarker(_ word: String) -> (marker: String, stripsTabs: Bool)? {
        guard let start = word.range(of: "<<") else { return nil }
        var marker = word[start.upperBound...]
        let stripsTabs = marker.first == "-"
        if stripsTabs { marker = marker.dropFirst() }
        let name = marker.trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
        guard let first = name.first, first.isLetter || first == "_",
            name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" })
        else { return nil }
        return (name, stripsTabs)
    }
}
