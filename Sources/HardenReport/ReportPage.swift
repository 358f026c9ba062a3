import Foundation
import HardenHistory

/// The fleet report as one static HTML page (inline CSS and SVG, nothing fetched: it works from
/// a `file://` URL and as a CI artifact) and as Markdown for a CI job summary.
public enum ReportPage {
    struct Severity: Sendable {
        var name: String
        var color: String
        var count: @Sendable (VulnerabilityCounts) -> Int
    }

    static let severities: [Severity] = [
        Severity(name: "critical", color: "#8e1b1b") { $0.critical }, Severity(name: "high", color: "#d9480f") { $0.high },
        Severity(name: "medium", color: "#e8a317") { $0.medium }, Severity(name: "low", color: "#2b6cb0") { $0.low },
        Severity(name: "unknown", color: "#868e96") { $0.unknown },
    ]

    public static func html(_ report: FleetReport) -> String {
        var page = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <title>harden fleet report</title>
            <style>
            body { font: 14px/1.45 system-ui, sans-serif; margin: 2em; color: #1a1a1a; }
            table { border-collapse: collapse; margin: 1em 0; }
            th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
            th { background: #f1f3f5; }
            td.n { text-align: right; font-variant-numeric: tabular-nums; }
            code { font-size: 12px; }
            .failed, .interrupted, .fail { color: #c92a2a; font-weight: 600; }
            .gone { color: #868e96; }
            section { margin-top: 2.5em; }
            ul.builds { padding-left: 1.2em; }
            </style>
            </head>
            <body>
            <h1>harden fleet report</h1>

            """
        page += "<p>Generated \(escape(stamp(report.generated)))"
        page += report.since.map { ", builds since \(escape(stamp($0)))" } ?? ""
        page += ". \(report.recipes.count) recipes.</p>\n"
        page += fleetTable(report)
        for row in report.recipes { page += recipeSection(row) }
        page += "</body>\n</html>\n"
        return page
    }

    private static func fleetTable(_ report: FleetReport) -> String {
        var table = "<table id=\"fleet\">\n<tr><th>recipe</th><th>last build</th><th>status</th><th>image</th>"
        table += "<th>verification</th>"
        for severity in severities { table += "<th>\(severity.name)</th>" }
        table += "<th>fixable</th><th>next due</th></tr>\n"
        for row in report.recipes {
            table += "<tr><td><a href=\"#recipe-\(escape(row.recipe))\">\(escape(row.recipe))</a></td>"
            table += "<td>" + (row.lastBuild.map { "#\($0) " } ?? "") + escape(row.lastBuildAt.map(stamp) ?? "—") + "</td>"
            table += "<td class=\"\(escape(row.status))\">\(escape(row.status))</td>"
            table += "<td>" + (row.image.map { "<code>\(escape(String($0.prefix(19))))</code>" } ?? "—") + "</td>"
            table += "<td class=\"\(escape(row.verification ?? ""))\">\(escape(row.verification ?? "—"))</td>"
            for severity in severities {
                table += "<td class=\"n\">" + (row.vulnerabilities.map { String(severity.count($0)) } ?? "—") + "</td>"
            }
            table += "<td class=\"n\">" + (row.vulnerabilities.map { String($0.fixable.count) } ?? "—") + "</td>"
            table += "<td>" + escape(row.nextRun.map { stamp($0) + "; " } ?? "") + escape(row.due) + "</td></tr>\n"
        }
        return table + "</table>\n"
    }

    private static func recipeSection(_ row: FleetReport.RecipeRow) -> String {
        var section = "<section id=\"recipe-\(escape(row.recipe))\">\n<h2>\(escape(row.recipe))</h2>\n"
        if row.builds.isEmpty { return section + "<p>Never built.</p>\n</section>\n" }
        section += chart(row)
        section += "<ul class=\"builds\">\n"
        for build in row.builds.reversed() {
            section += "<li>#\(build.id) \(escape(stamp(build.started))) <strong>\(escape(build.trigger))</strong>: "
            section += "<span class=\"\(escape(build.status))\">\(escape(build.status))</span>"
            if let counts = build.vulnerabilities {
                section += ", \(counts.total) vulnerabilities"
            } else if build.status == "succeeded" {
                section += ", not scanned"
            }
            section += changes(build).map { "; " + escape($0) } ?? ""
            section += "</li>\n"
        }
        return section + "</ul>\n</section>\n"
    }

    /// Stacked bars of vulnerabilities by severity, one per build; a build without a scan is a
    /// grey tick, so a gap in the scans shows.
    static func chart(_ row: FleetReport.RecipeRow) -> String {
        let step = 34.0
        let (left, top, plot) = (40.0, 10.0, 120.0)
        let width = max(left + step * Double(row.builds.count) + 20, left + 62 * Double(severities.count) + 10)
        let highest = max(1, row.builds.compactMap { $0.vulnerabilities?.total }.max() ?? 0)
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" class=\"trend\" width=\"\(Int(width))\" "
        svg += "height=\"\(Int(top + plot + 40))\" viewBox=\"0 0 \(Int(width)) \(Int(top + plot + 40))\">\n"
        svg += "<title>vulnerabilities by severity over the builds of \(escape(row.recipe))</title>\n"
        svg += "<line x1=\"\(left)\" y1=\"\(top + plot)\" x2=\"\(width - 10)\" y2=\"\(top + plot)\" stroke=\"#495057\"/>\n"
        svg += "<text x=\"\(left - 6)\" y=\"\(top + 8)\" text-anchor=\"end\" font-size=\"11\">\(highest)</text>\n"
        svg += "<text x=\"\(left - 6)\" y=\"\(top + plot)\" text-anchor=\"end\" font-size=\"11\">0</text>\n"
        for (index, build) in row.builds.enumerated() {
            let x = left + step * Double(index) + 6
            var label = "#\(build.id) \(stamp(build.started)) \(build.trigger): \(build.status)"
            if let counts = build.vulnerabilities {
                label += ", " + severities.map { "\($0.name) \($0.count(counts))" }.joined(separator: ", ")
            }
            label += changes(build).map { "; " + $0 } ?? ""
            svg += "<g><title>\(escape(label))</title>\n"
            if let counts = build.vulnerabilities {
                var y = top + plot
                for severity in severities.reversed() where severity.count(counts) > 0 {
                    let height = plot * Double(severity.count(counts)) / Double(highest)
                    y -= height
                    svg +=
                        "<rect class=\"\(severity.name)\" x=\"\(x)\" y=\"\(round(y))\" width=\"22\" height=\"\(round(height))\" "
                    svg += "fill=\"\(severity.color)\"/>\n"
                }
                if counts.total == 0 {
                    svg +=
                        "<rect class=\"none\" x=\"\(x)\" y=\"\(top + plot - 2)\" width=\"22\" height=\"2\" fill=\"#2f9e44\"/>\n"
                }
            } else {
                svg += "<text x=\"\(x + 11)\" y=\"\(top + plot - 4)\" text-anchor=\"middle\" fill=\"#868e96\">×</text>\n"
            }
            svg +=
                "<text x=\"\(x + 11)\" y=\"\(top + plot + 14)\" text-anchor=\"middle\" font-size=\"10\">#\(build.id)</text>\n</g>\n"
        }
        var legendX = left
        for severity in severities {
            svg += "<rect x=\"\(legendX)\" y=\"\(top + plot + 24)\" width=\"10\" height=\"10\" fill=\"\(severity.color)\"/>"
            svg += "<text x=\"\(legendX + 13)\" y=\"\(top + plot + 33)\" font-size=\"10\">\(severity.name)</text>\n"
            legendX += 62
        }
        return svg + "</svg>\n"
    }

    /// "removed CVE-1, CVE-2; added CVE-3"; only the change in number when the IDs are not known.
    static func changes(_ build: FleetReport.Build) -> String? {
        guard let change = build.change else { return nil }
        guard let added = build.added, let removed = build.removed else {
            return change == 0
                ? "as many vulnerabilities as the build before" : "\(change > 0 ? "+" : "")\(change) since the build before"
        }
        var parts: [String] = []
        if !removed.isEmpty { parts.append("removed " + removed.joined(separator: ", ")) }
        if !added.isEmpty { parts.append("added " + added.joined(separator: ", ")) }
        return parts.isEmpty ? "no change in vulnerabilities" : parts.joined(separator: "; ")
    }

    public static func markdown(_ report: FleetReport) -> String {
        var text = "## harden fleet report\n\nGenerated \(stamp(report.generated))"
        text += report.since.map { ", builds since \(stamp($0))" } ?? ""
        text += ".\n\n| recipe | last build | status | image | verification | C/H/M/L/U | fixable | next due |\n"
        text += "|---|---|---|---|---|---|---|---|\n"
        for row in report.recipes {
            let counts = row.vulnerabilities.map { "\($0.critical)/\($0.high)/\($0.medium)/\($0.low)/\($0.unknown)" } ?? "—"
            let cells = [
                row.recipe, (row.lastBuild.map { "#\($0) " } ?? "") + (row.lastBuildAt.map(stamp) ?? "—"), row.status,
                row.image.map { "`\($0.prefix(19))`" } ?? "—", row.verification ?? "—", counts,
                row.vulnerabilities.map { String($0.fixable.count) } ?? "—",
                (row.nextRun.map { stamp($0) + "; " } ?? "") + row.due,
            ]
            text += "| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |\n"
        }
        for row in report.recipes {
            let changed = row.builds.filter { changes($0) != nil }
            guard !changed.isEmpty else { continue }
            text += "\n### \(row.recipe)\n\n"
            for build in changed.reversed() {
                text += "- #\(build.id) \(stamp(build.started)) \(build.trigger): \(changes(build) ?? "")\n"
            }
        }
        return text
    }

    static func stamp(_ date: Date) -> String {
        ISO8601DateFormatter.string(from: date, timeZone: .gmt, formatOptions: [.withInternetDateTime])
    }

    static func escape(_ text: String) -> String {
        var escaped = ""
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
