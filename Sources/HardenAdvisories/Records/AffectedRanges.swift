import Foundation

/// The part of one `affected` entry that matching reads (ranges and listed versions), in the
/// compact text form the database keeps: ranges split by U+001E, events by U+001F, each event
/// one letter (`i`ntroduced, `f`ixed, `l`ast_affected, li`m`it) and its version. GIT ranges
/// name commits, not versions, and are not kept.
public enum AffectedRanges {
    private static let rangeSeparator: Character = "\u{1E}"
    private static let itemSeparator: Character = "\u{1F}"

    public static func encode(_ affected: OSVAffected) -> (ranges: String, versions: String) {
        var ranges: [String] = []
        for range in affected.ranges ?? [] where range.type != "GIT" {
            var events: [String] = []
            for event in range.events {
                let (letter, version) =
                    if let v = event.introduced { ("i", v) } else if let v = event.fixed { ("f", v) } else if let v = event
                    .lastAffected { ("l", v) } else { ("m", event.limit ?? "") }
                events.append(letter + version)
            }
            ranges.append((range.type == "SEMVER" ? "S" : "E") + events.joined(separator: String(itemSeparator)))
        }
        return (
            ranges.joined(separator: String(rangeSeparator)),
            (affected.versions ?? []).joined(separator: String(itemSeparator))
        )
    }

    public static func decode(ranges: String, versions: String) -> OSVAffected {
        var parsed: [OSVRange] = []
        for range in ranges.split(separator: rangeSeparator) {
            guard let type = range.first else { continue }
            var events: [OSVEvent] = []
            for item in range.dropFirst().split(separator: itemSeparator, omittingEmptySubsequences: false) {
                guard let letter = item.first else { continue }
                let version = String(item.dropFirst())
                switch letter {
                case "i": events.append(OSVEvent(introduced: version))
                case "f": events.append(OSVEvent(fixed: version))
                case "l": events.append(OSVEvent(lastAffected: version))
                default: events.append(OSVEvent(limit: version))
                }
            }
            parsed.append(OSVRange(type: type == "S" ? "SEMVER" : "ECOSYSTEM", events: events))
        }
        let listed = versions.isEmpty ? [] : versions.split(separator: itemSeparator).map(String.init)
        return OSVAffected(ranges: parsed, versions: listed)
    }
}
