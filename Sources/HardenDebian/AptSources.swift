import Foundation

/// The host's apt sources: the mirror they name for a suite, from deb822 `.sources` files and
/// one-line `sources.list` entries.
public enum AptSources {
    public static func mirror(for suite: String, root: String = "/etc/apt") -> URL? {
        let directory = "\(root)/sources.list.d"
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
        for file in files where file.hasSuffix(".sources") {
            guard let data = FileManager.default.contents(atPath: "\(directory)/\(file)"),
                let stanzas = try? Deb822.stanzas(in: data, name: file)
            else { continue }
            for stanza in stanzas where (stanza["Suites"] ?? "").split(separator: " ").contains(Substring(suite)) {
                if let uri = stanza["URIs"]?.split(separator: " ").first { return URL(string: String(uri)) }
            }
        }
        let lists = ["\(root)/sources.list"] + files.filter { $0.hasSuffix(".list") }.map { "\(directory)/\($0)" }
        for list in lists {
            for line in (try? String(contentsOfFile: list, encoding: .utf8))?.split(separator: "\n") ?? [] {
                let words = line.split(separator: " ").filter { !$0.hasPrefix("[") && !$0.hasSuffix("]") }
                if words.count >= 3, words[0] == "deb", words[2] == suite { return URL(string: String(words[1])) }
            }
        }
        return nil
    }
}
