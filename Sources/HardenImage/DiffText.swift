import Foundation

/// The text form of a diff: headers, config, files, layers, summary; long sections capped.
/// Layers are counted from 1, as `verify` shows them (JSON keeps 0-based positions).
public struct DiffText: Sendable {
    public var diff: ImageDiff
    public var cap: Int

    public init(diff: ImageDiff, cap: Int = 200) {
        self.diff = diff
        self.cap = cap
    }

    public func render() -> String {
        var lines = [header("A", diff.a), header("B", diff.b)]
        if !diff.config.isEmpty {
            lines += ["", "config:"] + capped(diff.config.map { "  " + change($0) })
        }
        for kind in [ImageDiff.FileChange.Change.added, .removed, .changed] {
            let files = diff.files.filter { $0.change == kind }
            if files.isEmpty { continue }
            lines += ["", "files \(kind.rawValue) (\(files.count)):"] + capped(files.map { "  " + file($0) })
        }
        for layer in diff.layers {
            let ids = "\(layer.a.map(short) ?? "none") → \(layer.b.map(short) ?? "none")"
            let notes = layer.notes.isEmpty ? "" : " (\(layer.notes.joined(separator: "; ")))"
            lines += ["", "layer \(layer.index + 1): \(ids)\(notes)"] + capped(layer.entries.map { "  " + file($0) })
        }
        lines.append("")
        lines.append(
            diff.identical
                ? "identical" + (diff.semantic ? " (ignoring timestamps and entry order)" : "")
                : count(diff.differences, "difference"))
        return lines.joined(separator: "\n")
    }

    private func header(_ name: String, _ side: ImageDiff.Side) -> String {
        let size = String(format: "%.1f MB", Double(side.uncompressedBytes) / 1e6)
        return "\(name): \(side.image) (\(side.format), config \(short(side.configDigest)), "
            + "\(count(side.layers, "layer")), \(count(side.files, "file")), \(size))"
    }

    private func capped(_ lines: [String]) -> [String] {
        lines.count <= cap ? lines : Array(lines.prefix(cap)) + ["  … and \(lines.count - cap) more"]
    }

    private func change(_ change: ImageDiff.ConfigChange) -> String {
        switch (change.a, change.b) {
        case (nil, let new?): "\(change.field) added: \(new)"
        case (let old?, nil): "\(change.field) removed: \(old)"
        default: "\(change.field): \(shown(change.a)) → \(shown(change.b))"
        }
    }

    /// A value, with an empty one made visible.
    private func shown(_ value: String?) -> String {
        guard let value, !value.isEmpty else { return "\"\"" }
        return value
    }

    private func count(_ number: Int, _ noun: String) -> String { "\(number) \(noun)\(number == 1 ? "" : "s")" }

    private func file(_ change: ImageDiff.FileChange) -> String {
        switch change.change {
        case .added: return "+ \(change.path)" + (change.b.map(describe) ?? "")
        case .removed: return "- \(change.path)" + (change.a.map(describe) ?? "")
        case .changed:
            guard let old = change.a, let new = change.b else { return "~ \(change.path)" }
            let what = change.fields.map { field in
                switch field {
                case "kind": "kind \(old.kind) → \(new.kind)"
                case "mode": "mode \(old.mode) → \(new.mode)"
                case "owner": "owner \(old.uid):\(old.gid) → \(new.uid):\(new.gid)"
                case "content": "content \(content(old)) → \(content(new))"
                case "link": "link \(old.linkTarget ?? "none") → \(new.linkTarget ?? "none")"
                case "mtime": "mtime \(time(old.mtime)) → \(time(new.mtime))"
                default: field
                }
            }
            let layer = old.layer == new.layer ? "layer \(old.layer + 1)" : "layer \(old.layer + 1) → \(new.layer + 1)"
            return "~ \(change.path): " + what.joined(separator: ", ") + " (\(layer))"
        }
    }

    /// `(file 0644 0:0, 12 bytes, layer 1)`.
    private func describe(_ facts: FileFacts) -> String {
        var parts = ["\(facts.kind) \(facts.mode) \(facts.uid):\(facts.gid)"]
        if facts.kind == "file" { parts.append("\(facts.size) bytes") }
        if let target = facts.linkTarget { parts.append("→ \(target)") }
        parts.append("layer \(facts.layer + 1)")
        return " (" + parts.joined(separator: ", ") + ")"
    }

    private func content(_ facts: FileFacts) -> String {
        facts.digest.map(short) ?? "\(facts.size) bytes"
    }

    private func short(_ digest: Digest) -> String { "sha256:\(digest.hex.prefix(12))…" }

    private func time(_ seconds: Int64) -> String {
        Date(timeIntervalSince1970: TimeInterval(seconds)).formatted(.iso8601)
    }
}
