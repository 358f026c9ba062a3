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

    /// Read on the bytes: a scan decodes one entry per candidate, 150,000 at real volume.
    public static func decode(ranges: String, versions: String) -> OSVAffected {
        var ranges = ranges
        var versions = versions
        let parsed = ranges.withUTF8 { bytes in
            bytes.split(separator: rangeByte).compactMap { range -> OSVRange? in
                guard let type = range.first else { return nil }
                let events = range.dropFirst().split(separator: itemByte, omittingEmptySubsequences: false).compactMap {
                    item -> OSVEvent? in
                    guard let letter = item.first else { return nil }
                    let version = String(decoding: item.dropFirst(), as: UTF8.self)
                    switch letter {
                    case UInt8(ascii: "i"): return OSVEvent(introduced: version)
                    case UInt8(ascii: "f"): return OSVEvent(fixed: version)
                    case UInt8(ascii: "l"): return OSVEvent(lastAffected: version)
                    default: return OSVEvent(limit: version)
                    }
                }
                return OSVRange(type: type == UInt8(ascii: "S") ? "SEMVER" : "ECOSYSTEM", events: events)
            }
        }
        let listed =
            versions.isEmpty
            ? [] : versions.withUTF8 { $0.split(separator: itemByte).map { String(decoding: $0, as: UTF8.self) } }
        return OSVAffected(ranges: parsed, versions: listed)
    }

    private static let rangeByte = rangeSeparator.asciiValue!
    private static let itemByte = itemSeparator.asciiValue!
}
