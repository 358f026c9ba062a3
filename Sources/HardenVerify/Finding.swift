import Foundation
import HardenRecipe

/// One rule violation, located in the image.
public struct Finding: Sendable, Codable, Equatable {
    public enum Severity: String, Sendable, Codable, Comparable {
        case error, warning, note
        private var rank: Int { self == .error ? 0 : self == .warning ? 1 : 2 }
        public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
    }

    public var rule: String
    public var severity: Severity
    public var message: String
    /// The path in the image, when the finding is about a file.
    public var path: String?
    /// The layer that introduced the file (blob digest, else diff_id) and its position.
    public var layer: String?
    public var layerIndex: Int?
    /// The build step (history `created_by`) that made the layer or set the config value.
    public var createdBy: String?
    /// Set when a policy exception waives the finding.
    public var waivedBy: PolicyException?
}

/// What each rule checks, for reports (SARIF rule metadata, JUnit test names).
public enum RuleInfo {
    public static let descriptions: [String: (severity: Finding.Severity, summary: String)] = [
        "shell": (.error, "No shell remains in the image (by name, through links, or a renamed busybox/toybox)."),
        "package-manager": (
            .error, "No package manager remains (apt, dpkg, apk, rpm, pip and an importable pip module, npm, gem…)."
        ),
        "root-user": (.error, "The image does not run as root, and its user exists in /etc/passwd."),
        "shell-form": (.error, "ENTRYPOINT, CMD and HEALTHCHECK do not need a shell the image lacks."),
        "missing-executable": (
            .error, "The entrypoint (or command, or health check) and its #! interpreter exist and are executable."
        ),
        "setuid": (.warning, "No setuid or setgid files."),
        "world-writable": (.warning, "No world-writable files, and no world-writable directories without the sticky bit."),
        "device-node": (.warning, "No device nodes."),
        "forbidden-path": (.error, "None of the paths the policy forbids exists."),
    ]
}

/// The outcome of verifying one image.
public struct VerifyReport: Sendable, Codable {
    public var image: String
    public var format: String
    public var configDigest: String
    public var manifestDigest: String?
    public var platform: String?
    public var user: String
    public var layers: Int
    public var files: Int
    public var rules: [String]
    public var findings: [Finding]
    public var waived: [Finding]
    /// Exceptions past their `expires` date: they no longer waive anything.
    public var expiredExceptions: [PolicyException]
    /// Exceptions that matched no finding.
    public var unusedExceptions: [PolicyException]

    public var passed: Bool { findings.isEmpty }
}
