import Foundation
import HardenCron

/// Value checks shared by the loader. Each returns a problem to report, or nil.
///
/// These keep values from changing the structure of the rendered Dockerfile:
/// a value can never start a new line, continue a line, or expand a variable
/// where Docker would expand it. What can be escaped safely is escaped by the
/// renderer instead (quotes in ENV/LABEL values, anything in JSON exec form).
public enum Validate {
    /// Any single-line text: no control characters.
    public static func text(_ value: String) -> String? {
        controlCharacter(in: value, allowing: [])
    }

    /// A shell command for `run`: may span lines (it is rendered as one JSON string).
    public static func command(_ value: String) -> String? {
        if value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return "a run step must not be empty" }
        return controlCharacter(in: value, allowing: ["\n", "\t"])
    }

    /// A JSON exec-form argument (entrypoint, cmd, healthcheck test).
    public static func argument(_ value: String) -> String? {
        controlCharacter(in: value, allowing: ["\t"])
    }

    public static func recipeName(_ value: String) -> String? {
        Grammar.token(value, first: .lowerDigits, rest: .nameRest, maxLength: 128)
            ? nil : "'\(printable(value))' is not a valid name: use lowercase letters, digits, '.', '_' and '-' (at most 128)"
    }

    /// A Docker image reference: `[host[:port]/]path[:tag][@sha256:hex]`.
    public static func imageReference(_ value: String) -> String? {
        if value.utf8.count <= 255, Grammar.imageReference(value) { return nil }
        return "'\(printable(value))' is not a valid image reference (expected name[:tag][@sha256:digest], e.g. python:3.11-slim)"
    }

    /// A Debian suite, codename or architecture: `bookworm`, `bookworm-security`, `amd64`.
    public static func debianSuite(_ value: String) -> String? {
        Grammar.token(value, first: .lowerDigits, rest: .nameRest, maxLength: 64)
            ? nil : "'\(printable(value))' is not a Debian suite or architecture name (lowercase letters, digits, '.', '-')"
    }

    /// A Debian package name (Debian Policy 5.6.1): lowercase letters, digits, `+`, `-`, `.`.
    public static func debianPackage(_ value: String) -> String? {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789+-.")
        guard value.count >= 2, value.count <= 128, let first = value.first, first.isLetter || first.isNumber,
            value.allSatisfy(allowed.contains)
        else {
            return "'\(printable(value))' is not a Debian package name (lowercase letters, digits, '+', '-', '.'; at least 2)"
        }
        return nil
    }

    /// An http(s) or file URL of a Debian mirror.
    public static func mirrorURL(_ value: String) -> String? {
        guard text(value) == nil, let url = URL(string: value), let scheme = url.scheme,
            ["http", "https", "file"].contains(scheme), scheme == "file" || url.host != nil
        else { return "'\(printable(value))' is not a mirror URL (http://, https:// or file://)" }
        return nil
    }

    public static func envName(_ value: String) -> String? {
        Grammar.token(value, first: .envFirst, rest: .envRest, maxLength: .max)
            ? nil : "'\(printable(value))' is not a valid variable name (letters, digits and '_', not starting with a digit)"
    }

    public static func labelKey(_ value: String) -> String? {
        Grammar.token(value, first: .alphanumerics, rest: .labelRest, maxLength: 255)
            ? nil : "'\(printable(value))' is not a valid label key (letters, digits, '.', '_', '/', '-')"
    }

    /// A path inside an image or the context. Docker expands `$` and treats quotes
    /// and backslashes in these instructions itself, so they are refused here.
    public static func path(_ value: String) -> String? {
        if value.isEmpty { return "a path must not be empty" }
        if let problem = text(value) { return problem }
        for forbidden in ["$", "\\", "\"", "'"] where value.contains(forbidden) {
            return
                "'\(printable(value))' contains '\(forbidden)', which Docker would interpret in a path; rename the file or directory"
        }
        return nil
    }

    /// An `/etc/passwd` name: a lowercase letter or `_`, then letters, digits, `_`, `-`; at most 32.
    public static func accountName(_ value: String) -> String? {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789_-")
        guard (1...32).contains(value.count), let first = value.first, first.isLowercase || first == "_",
            value.allSatisfy(allowed.contains)
        else {
            return "'\(printable(value))' is not an account name (a lowercase letter or '_', then letters, digits, '_', '-'; at most 32)"
        }
        return nil
    }

    public static func absolutePath(_ value: String) -> String? {
        if let problem = path(value) { return problem }
        return value.hasPrefix("/") ? nil : "'\(value)' must be an absolute path (starting with '/')"
    }

    /// `user[:group]`, by name or number.
    public static func user(_ value: String) -> String? {
        Grammar.user(value)
            ? nil : "'\(printable(value))' is not a valid user (expected name, uid, name:group or uid:gid)"
    }

    /// Whether a `user` value means uid 0.
    public static func isRoot(_ user: String) -> Bool {
        let name = user.split(separator: ":", maxSplits: 1).first.map(String.init) ?? user
        return name == "root" || (Int(name) == 0)
    }

    /// A Go-style duration as Docker's HEALTHCHECK takes it.
    public static func duration(_ value: String) -> String? {
        Grammar.duration(value)
            ? nil : "'\(printable(value))' is not a duration (e.g. 30s, 1m30s, 500ms)"
    }

    public static func date(_ value: String) -> String? {
        guard Grammar.isoDate(value), parseDate(value) != nil else {
            return "'\(printable(value))' is not a date (expected YYYY-MM-DD)"
        }
        return nil
    }

    /// A `YYYY-MM-DD` date at midnight UTC.
    public static func parseDate(_ value: String) -> Date? {
        let parts = value.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3 else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let components = DateComponents(year: parts[0], month: parts[1], day: parts[2])
        guard components.isValidDate(in: calendar) else { return nil }
        return calendar.date(from: components)
    }

    /// Five cron fields, or one of the `@` shorthands, as `harden rebuild` reads them.
    public static func cron(_ value: String) -> String? {
        do {
            _ = try CronExpression(value)
            return nil
        } catch {
            return "'\(printable(value))' is not a cron expression: \(error.description)"
        }
    }

    public static func timezone(_ value: String) -> String? {
        TimeZone(identifier: value) != nil ? nil : "'\(printable(value))' is not a known time zone (e.g. UTC, Europe/Berlin)"
    }

    private static func controlCharacter(in value: String, allowing allowed: Set<Character>) -> String? {
        for scalar in value.unicodeScalars {
            let isControl =
                scalar.value < 0x20 || scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value)
                || scalar.value == 0x2028 || scalar.value == 0x2029
            if isControl && !allowed.contains(Character(scalar)) {
                return "contains the control character U+\(String(format: "%04X", scalar.value)), which is not allowed here"
            }
        }
        return nil
    }

    /// The value with control characters made visible, for messages.
    static func printable(_ value: String) -> String {
        var out = ""
        for scalar in value.unicodeScalars.prefix(200) {
            if scalar.value < 0x20 || scalar.value == 0x7F {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
