/// Reads the five-field cron syntax, and its `@` macros, into a `CronSchedule`.
enum CronParser {
    static func parse(_ text: String) throws(CronError) -> CronSchedule {
        let words = split(Piece(text: text, column: 1), at: \.isWhitespace).filter { !$0.text.isEmpty }
        if let first = words.first, first.text.hasPrefix("@") {
            return try parse(macro: first, followedBy: words.dropFirst())
        }
        guard words.count == 5 else {
            throw CronError(
                column: words.count > 5 ? words[5].column : text.count + 1,
                message: "expected 5 fields (minute hour day-of-month month day-of-week) or a macro such as @daily, "
                    + "found \(words.count)")
        }
        return CronSchedule(
            minutes: try field(words[0], .minute),
            hours: try field(words[1], .hour),
            daysOfMonth: try field(words[2], .dayOfMonth),
            months: try field(words[3], .month),
            daysOfWeek: try field(words[4], .dayOfWeek))
    }

    private static let macros = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]

    private static func parse(macro: Piece, followedBy rest: ArraySlice<Piece>) throws(CronError) -> CronSchedule {
        let name = macro.text.lowercased()
        if name == "@reboot" {
            throw CronError(
                column: macro.column,
                message: "@reboot is not supported: harden schedules builds by the clock, not at system start-up; "
                    + "use a time such as @daily or \"0 3 * * *\"")
        }
        guard let expansion = macros[name] else {
            throw CronError(
                column: macro.column,
                message: "unknown macro \(macro.text); expected @yearly, @annually, @monthly, @weekly, @daily, "
                    + "@midnight or @hourly")
        }
        if let extra = rest.first {
            throw CronError(
                column: extra.column, message: "\(macro.text) is a whole schedule and takes no fields; found \"\(extra.text)\"")
        }
        return try parse(expansion)
    }

    /// A comma list of `*`, `N` or `N-M`, each with an optional `/STEP`.
    private static func field(_ word: Piece, _ kind: FieldKind) throws(CronError) -> CronField {
        var values: [Int] = []
        for item in split(word, at: { $0 == "," }) {
            guard !item.text.isEmpty else {
                throw CronError(column: item.column, message: "\(kind.name) list has an empty item; remove the extra comma")
            }
            values += try self.values(of: item, kind)
        }
        if kind.sevenIsZero { values = values.map { $0 == 7 ? 0 : $0 } }
        return CronField(values, startsWithStar: word.text.hasPrefix("*"))
    }

    private static func values(of item: Piece, _ kind: FieldKind) throws(CronError) -> [Int] {
        let parts = split(item, at: { $0 == "/" })
        guard parts.count <= 2 else {
            throw CronError(column: parts[2].column - 1, message: "\(kind.name) item \(item.text) has more than one '/'")
        }
        let hasStep = parts.count == 2
        let base = parts[0]
        let range: ClosedRange<Int>
        if base.text == "*" {
            range = kind.range
        } else {
            let ends = split(base, at: { $0 == "-" })
            guard ends.count <= 2 else {
                throw CronError(column: ends[2].column - 1, message: "\(kind.name) range \(base.text) has more than one '-'")
            }
            let low = try number(ends[0], kind.name, kind.range, names: kind.names)
            if ends.count == 2 {
                let high = try number(ends[1], kind.name, kind.range, names: kind.names)
                guard low <= high else {
                    throw CronError(
                        column: base.column, message: "\(kind.name) range \(base.text) is reversed; write the lower value first")
                }
                range = low...high
            } else {
                // `5/15` means from 5 to the end of the field.
                range = hasStep ? low...kind.range.upperBound : low...low
            }
        }
        let step = if hasStep { try number(parts[1], "\(kind.name) step", 1...kind.range.upperBound) } else { 1 }
        return Array(stride(from: range.lowerBound, through: range.upperBound, by: step))
    }

    /// Digits within `range`, or one of `names`, which stand for `range.lowerBound` onwards.
    private static func number(
        _ piece: Piece, _ label: String, _ range: ClosedRange<Int>, names: [String] = []
    ) throws(CronError) -> Int {
        let text = piece.text
        if !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }) {
            guard let number = Int(text), range.contains(number) else {
                throw CronError(
                    column: piece.column, message: "\(label) \(text) is out of range \(range.lowerBound)-\(range.upperBound)")
            }
            return number
        }
        if let last = names.last, !text.isEmpty, text.allSatisfy(\.isLetter) {
            guard let index = names.firstIndex(of: text.uppercased()) else {
                throw CronError(
                    column: piece.column,
                    message: "unknown \(label) name \(text); expected one of "
                        + names.dropLast().joined(separator: ", ") + " or \(last)")
            }
            return range.lowerBound + index
        }
        let expected =
            "a number \(range.lowerBound)-\(range.upperBound)"
            + (names.first.map { first in " or a name \(first)-\(names.last ?? first)" } ?? "")
        let found = text.isEmpty ? "nothing" : "\"\(text)\""
        throw CronError(column: piece.column, message: "\(label): expected \(expected), found \(found)")
    }

    /// Text with the column of its first character, counting from 1.
    private struct Piece {
        var text: String
        var column: Int
    }

    /// Splits at every separator, keeping empty pieces, each with its own column.
    private static func split(_ piece: Piece, at isSeparator: (Character) -> Bool) -> [Piece] {
        var pieces: [Piece] = []
        var current = Piece(text: "", column: piece.column)
        for (offset, character) in piece.text.enumerated() {
            if isSeparator(character) {
                pieces.append(current)
                current = Piece(text: "", column: piece.column + offset + 1)
            } else {
                current.text.append(character)
            }
        }
        pieces.append(current)
        return pieces
    }
}

/// What one of the five fields is called and which values it takes.
struct FieldKind: Sendable {
    var name: String
    var range: ClosedRange<Int>
    /// Three-letter names for `range.lowerBound` onwards.
    var names: [String] = []
    /// Day-of-week: 7 is Sunday as well as 0.
    var sevenIsZero = false

    static let minute = FieldKind(name: "minute", range: 0...59)
    static let hour = FieldKind(name: "hour", range: 0...23)
    static let dayOfMonth = FieldKind(name: "day-of-month", range: 1...31)
    static let month = FieldKind(
        name: "month", range: 1...12,
        names: ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"])
    static let dayOfWeek = FieldKind(
        name: "day-of-week", range: 0...7, names: ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], sevenIsZero: true)
}
