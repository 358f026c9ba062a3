import Foundation
import HardenAdvisories

/// Renders a scan report as text, JSON or SARIF 2.1.0.
public enum ScanReportWriter {
    public enum Format: String, Sendable, CaseIterable { case text, json, sarif }

    public static func render(_ report: ScanReport, as format: Format, version: String) -> String {
        switch format {
        case .text: text(report)
        case .json: encode(report)
        case .sarif: sarif(report, version: version)
        }
    }

    static func text(_ report: ScanReport) -> String {
        let counts = report.counts
        var lines = [
            "\(report.image) — scanned by \(report.scanners.joined(separator: ", "))",
            "  " + Severity.allCases.map { "\($0.rawValue) \(counts[$0] ?? 0)" }.joined(separator: ", ")
                + "; \(report.findings.filter { $0.vulnerability.fixedVersion != nil }.count) with a fix"
                + (report.unmatched.isEmpty ? "" : "; \(report.unmatchedCount) packages not checked"),
        ]
        for judged in report.findings {
            let finding = judged.vulnerability
            let fix = finding.fixedVersion.map { "fixed in \($0)" } ?? "no fix"
            let mark: String
            switch judged.verdict {
            case .fails: mark = "FAIL   "
            case .reported: mark = "       "
            case .unfixed: mark = "unfixed"
            case .ignored: mark = "ignored"
            }
            var line =
                "  \(mark) \(finding.severity.rawValue.uppercased().padding(toLength: 8, withPad: " ", startingAt: 0)) \(finding.primaryID)  \(finding.package) \(finding.version) (\(fix)) [\(finding.scanners.joined(separator: ","))]"
            if let source = finding.severitySource, !source.hasSuffix("of this record") {
                line += " — severity: \(source)"
            }
            if let by = judged.ignoredBy {
                line += " — ignored by \(by)" + (judged.vexStatus.map { " (\($0.rawValue))" } ?? "")
                    + ((judged.reason ?? judged.justification?.rawValue).map { ": \($0)" } ?? "")
            }
            lines.append(line)
        }
        for ignore in report.expiredIgnores {
            lines.append("  expired ignore: \(ignore.id) (\(ignore.source)) ended \(ignore.expires ?? "") — it no longer applies")
        }
        for ignore in report.staleIgnores {
            lines.append("  stale ignore: \(ignore.id) (\(ignore.source)) matched nothing — remove it")
        }
        for statement in report.expiredStatements ?? [] {
            lines.append(
                "  expired VEX statement: \(statement.vulnerability) (\(statement.source), \(statement.status.rawValue)) "
                    + "of \(statement.timestamp) is older than the --vex-max-age — it no longer applies")
        }
        for statement in report.staleStatements ?? [] {
            lines.append(
                "  stale VEX statement: \(statement.vulnerability) (\(statement.source), \(statement.status.rawValue)) "
                    + (statement.isAbout(report.subject)
                        ? "matched no finding of this image — remove it"
                        : "is not about this image (another digest, or a package without that finding) — remove it, "
                            + "or state it for this image's digest"))
        }
        if let inferred = report.inferredRelease { lines.append("  release: \(inferred)") }
        for group in report.unmatched {
            lines.append("  not checked: \(group.summary)")
        }
        let failing = report.findings.filter { $0.verdict == .fails }.count
        let gate = report.failOn.map(\.rawValue).joined(separator: ", ")
        if report.passed {
            lines.append(
                "PASS (fails on: \(gate))"
                    + (report.unmatched.isEmpty ? "" : " — \(report.unmatchedCount) packages not checked, not clean"))
        } else {
            var reasons: [String] = []
            if failing > 0 { reasons.append("\(failing) finding\(failing == 1 ? "" : "s") at \(gate)") }
            if report.failOnUnmatched, !report.unmatched.isEmpty {
                reasons.append("\(report.unmatchedCount) packages not checked (fail-on-unmatched)")
            }
            lines.append("FAIL: " + reasons.joined(separator: "; "))
        }
        return lines.joined(separator: "\n")
    }

    static func encode(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(value)) ?? Data(), as: UTF8.self)
    }

    /// One SARIF rule per vulnerability ID, one result per finding that is not ignored.
    static func sarif(_ report: ScanReport, version: String) -> String {
        var rules: [[String: Any]] = []
        var ruleIndex: [String: Int] = [:]
        var results: [[String: Any]] = []
        for judged in report.findings where judged.verdict != .ignored {
            let finding = judged.vulnerability
            let id = finding.primaryID
            if ruleIndex[id] == nil {
                ruleIndex[id] = rules.count
                rules.append([
                    "id": id, "shortDescription": ["text": finding.summary ?? id],
                    "helpUri": id.hasPrefix("CVE-")
                        ? "https://nvd.nist.gov/vuln/detail/\(id)" : "https://osv.dev/vulnerability/\(id)",
                    "properties": ["security-severity": securityScore(finding.severity), "tags": ["security", "vulnerability"]],
                ])
            }
            let level = judged.verdict == .fails ? "error" : (finding.severity >= .medium ? "warning" : "note")
            let fix = finding.fixedVersion.map { "; fixed in \($0)" } ?? "; no fix yet"
            var result: [String: Any] = [
                "ruleId": id, "ruleIndex": ruleIndex[id]!, "level": level,
                "message": [
                    "text": "\(finding.package) \(finding.version) is affected by \(id) (\(finding.severity.rawValue))\(fix)"
                ],
                "locations": [
                    [
                        "physicalLocation": [
                            "artifactLocation": [
                                "uri": (finding.location ?? "image").trimmingCharacters(in: CharacterSet(charactersIn: "/"))
                            ]
                        ]
                    ]
                ],
            ]
            if let source = finding.severitySource { result["properties"] = ["severitySource": source] }
            results.append(result)
        }
        var run: [String: Any] = [
            "tool": [
                "driver": [
                    "name": "harden", "version": version, "informationUri": "https://github.com/harden/harden",
                    "rules": rules,
                ]
            ], "results": results,
        ]
        var notifications: [[String: Any]] = report.inferredRelease.map { [["level": "note", "message": ["text": "release: \($0)"]]] } ?? []
        // Packages that could not be checked are said, not dropped: a CI reads them here.
        notifications += report.unmatched.map { group in
            ["level": report.failOnUnmatched ? "error" : "warning", "message": ["text": "not checked: \(group.summary)"]]
        }
        if !notifications.isEmpty {
            run["invocations"] = [["executionSuccessful": true, "toolExecutionNotifications": notifications]]
        }
        let log: [String: Any] = [
            "version": "2.1.0", "$schema": "https://json.schemastore.org/sarif-2.1.0.json", "runs": [run],
        ]
        let data =
            (try? JSONSerialization.data(withJSONObject: log, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]))
            ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// GitHub's `security-severity` scale.
    static func securityScore(_ severity: Severity) -> String {
        switch severity {
        case .critical: "9.5"
        case .high: "8.0"
        case .medium: "5.5"
        case .low: "2.0"
        case .unknown: "0.0"
        }
    }
}
