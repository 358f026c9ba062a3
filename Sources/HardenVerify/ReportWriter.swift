import Foundation
import HardenRecipe

/// Renders a verification report as text, JSON, SARIF 2.1.0 or JUnit XML.
public enum ReportWriter {
    public enum Format: String, Sendable, CaseIterable { case text, json, sarif, junit }

    public static func render(_ report: VerifyReport, as format: Format, version: String) -> String {
        switch format {
        case .text: text(report)
        case .json: json(report)
        case .sarif: sarif(report, version: version)
        case .junit: junit(report)
        }
    }

    // MARK: text

    static func text(_ report: VerifyReport) -> String {
        var lines = [
            "\(report.image) (\(report.format), \(report.platform ?? "unknown platform"), config \(report.configDigest.prefix(19)))",
            "  \(report.layers) layers, \(report.files) files, user '\(report.user)'",
        ]
        let byRule = Dictionary(grouping: report.findings, by: \.rule)
        for rule in report.rules {
            let findings = byRule[rule] ?? []
            if findings.isEmpty {
                lines.append("  pass  \(rule)")
                continue
            }
            lines.append("  FAIL  \(rule): \(findings.count) finding\(findings.count == 1 ? "" : "s")")
            for finding in findings {
                lines.append("        - \(finding.message)")
                if let layer = finding.layer {
                    let step = finding.createdBy.map { ": \(abbreviate($0))" } ?? ""
                    lines.append("          layer \(finding.layerIndex.map { "\($0 + 1)" } ?? "?") \(layer.prefix(19))\(step)")
                } else if let step = finding.createdBy {
                    lines.append("          set by: \(abbreviate(step))")
                }
            }
        }
        for finding in report.waived {
            let exception = finding.waivedBy
            lines.append(
                "  waived \(finding.rule): \(finding.message) — \(exception?.reason ?? "")"
                    + (exception?.expires.map { " (until \($0))" } ?? ""))
        }
        for exception in report.expiredExceptions {
            lines.append(
                "  expired exception: \(exception.rule) \(exception.path ?? "*") expired \(exception.expires ?? "") — it no longer applies"
            )
        }
        for exception in report.unusedExceptions {
            lines.append("  unused exception: \(exception.rule) \(exception.path ?? "*") matched nothing — remove it")
        }
        lines.append(report.passed ? "PASS" : "FAIL: \(report.findings.count) violation\(report.findings.count == 1 ? "" : "s")")
        return lines.joined(separator: "\n")
    }

    private static func abbreviate(_ step: String) -> String {
        let trimmed = step.replacingOccurrences(of: "/bin/sh -c #(nop) ", with: "").trimmingCharacters(in: .whitespaces)
        return trimmed.count > 100 ? trimmed.prefix(97) + "…" : trimmed
    }

    // MARK: JSON

    static func json(_ report: VerifyReport) -> String {
        struct Document: Encodable {
            var passed: Bool
            var report: VerifyReport
            func encode(to encoder: any Encoder) throws {
                try report.encode(to: encoder)
                var container = encoder.container(keyedBy: Key.self)
                try container.encode(passed, forKey: .passed)
            }
            enum Key: String, CodingKey { case passed }
        }
        return encode(Document(passed: report.passed, report: report))
    }

    static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    // MARK: SARIF 2.1.0

    static func sarif(_ report: VerifyReport, version: String) -> String {
        struct Log: Encodable {
            var version = "2.1.0"
            var schema = "https://json.schemastore.org/sarif-2.1.0.json"
            var runs: [Run]
            enum CodingKeys: String, CodingKey {
                case version, runs
                case schema = "$schema"
            }
        }
        struct Run: Encodable {
            var tool: Tool
            var results: [Result]
        }
        struct Tool: Encodable { var driver: Driver }
        struct Driver: Encodable {
            var name = "harden"
            var version: String
            var informationUri = "https://github.com/harden/harden"
            var rules: [Rule]
        }
        struct Rule: Encodable {
            var id: String
            var shortDescription: Text
            var defaultConfiguration: Configuration
        }
        struct Configuration: Encodable { var level: String }
        struct Text: Encodable { var text: String }
        struct Result: Encodable {
            var ruleId: String
            var ruleIndex: Int
            var level: String
            var message: Text
            var locations: [Location]
            var partialFingerprints: [String: String]
            var properties: [String: String]
        }
        struct Location: Encodable {
            var physicalLocation: Physical
        }
        struct Physical: Encodable {
            var artifactLocation: Artifact
        }
        struct Artifact: Encodable {
            var uri: String
            var uriBaseId: String?
        }

        func level(_ severity: Finding.Severity) -> String {
            switch severity {
            case .error: "error"
            case .warning: "warning"
            case .note: "note"
            }
        }
        let rules = Policy.rules.map { id in
            Rule(
                id: id, shortDescription: Text(text: RuleInfo.descriptions[id]?.summary ?? id),
                defaultConfiguration: Configuration(level: level(RuleInfo.descriptions[id]?.severity ?? .error)))
        }
        let results = report.findings.map { finding in
            // Code scanning needs a location: the file in the image, else the image itself.
            let uri = finding.path.map { String($0.drop { $0 == "/" }) } ?? report.image
            var properties = ["image": report.image, "configDigest": report.configDigest]
            if let layer = finding.layer { properties["layer"] = layer }
            if let step = finding.createdBy { properties["createdBy"] = step }
            return Result(
                ruleId: finding.rule, ruleIndex: Policy.rules.firstIndex(of: finding.rule) ?? 0, level: level(finding.severity),
                message: Text(text: finding.message),
                locations: [
                    Location(
                        physicalLocation: Physical(
                            artifactLocation: Artifact(
                                uri: uri.isEmpty ? "." : uri, uriBaseId: finding.path == nil ? nil : "IMAGEROOT")))
                ],
                partialFingerprints: ["harden/v1": "\(finding.rule):\(finding.path ?? finding.message)"],
                properties: properties)
        }
        return encode(Log(runs: [Run(tool: Tool(driver: Driver(version: version, rules: rules)), results: results)]))
    }

    // MARK: JUnit XML

    static func junit(_ report: VerifyReport) -> String {
        let byRule = Dictionary(grouping: report.findings, by: \.rule)
        var lines = [
            #"<?xml version="1.0" encoding="UTF-8"?>"#,
            "<testsuites name=\"harden verify\" tests=\"\(report.rules.count)\" failures=\"\(byRule.count)\">",
            "  <testsuite name=\"\(xml(report.image))\" tests=\"\(report.rules.count)\" failures=\"\(byRule.count)\" errors=\"0\" skipped=\"0\">",
        ]
        for rule in report.rules {
            let findings = byRule[rule] ?? []
            if findings.isEmpty {
                lines.append("    <testcase classname=\"harden.verify\" name=\"\(rule)\"/>")
            } else {
                lines.append("    <testcase classname=\"harden.verify\" name=\"\(rule)\">")
                let summary = "\(findings.count) finding\(findings.count == 1 ? "" : "s")"
                let body = findings.map { "\($0.message)" + ($0.layer.map { " [layer \($0)]" } ?? "") }.joined(separator: "\n")
                lines.append("      <failure message=\"\(xml(summary))\" type=\"\(rule)\">\(xml(body))</failure>")
                lines.append("    </testcase>")
            }
        }
        lines.append("  </testsuite>")
        lines.append("</testsuites>")
        return lines.joined(separator: "\n")
    }

    static func xml(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\n", "\t": out.unicodeScalars.append(scalar)
            default:
                // XML 1.0 has no way to write other control characters.
                if scalar.value < 0x20 || (0xFFFE...0xFFFF).contains(scalar.value) {
                    out += "?"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}
