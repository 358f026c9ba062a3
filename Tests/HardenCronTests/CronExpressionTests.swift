import Foundation
import Testing

@testable import HardenCron

/// One expected answer of `next(after:in:)` or `latest(atOrBefore:in:)`; instants are ISO 8601 with an offset.
struct FiringCase: Sendable, CustomTestStringConvertible {
    var expression: String
    var zone: String
    var from: String
    var expected: String?

    init(_ expression: String, _ zone: String, _ from: String, _ expected: String?) {
        (self.expression, self.zone, self.from, self.expected) = (expression, zone, from, expected)
    }

    var testDescription: String { "\(expression) from \(from) in \(zone)" }
}

func instant(_ text: String) throws -> Date {
    try Date(text, strategy: .iso8601)
}

func timeZone(_ identifier: String) throws -> TimeZone {
    try #require(TimeZone(identifier: identifier))
}

// Berlin: 2025-03-30 02:00 CET jumps to 03:00 CEST; 2025-10-26 03:00 CEST falls back to 02:00 CET.
// New York: 2025-03-09 02:00 EST jumps to 03:00 EDT; 2025-11-02 02:00 EDT falls back to 01:00 EST.
let nextCases: [FiringCase] = [
    // Fields and steps.
    FiringCase("* * * * *", "UTC", "2025-01-01T00:00:00Z", "2025-01-01T00:01:00Z"),
    FiringCase("* * * * *", "UTC", "2025-01-01T00:00:30Z", "2025-01-01T00:01:00Z"),
    FiringCase("*/15 * * * *", "UTC", "2025-01-01T10:07:00Z", "2025-01-01T10:15:00Z"),
    FiringCase("*/15 * * * *", "UTC", "2025-01-01T10:45:00Z", "2025-01-01T11:00:00Z"),
    FiringCase("10-50/20 * * * *", "UTC", "2025-01-01T10:31:00Z", "2025-01-01T10:50:00Z"),
    FiringCase("10-50/20 * * * *", "UTC", "2025-01-01T10:50:00Z", "2025-01-01T11:10:00Z"),
    FiringCase("5/15 * * * *", "UTC", "2025-01-01T10:51:00Z", "2025-01-01T11:05:00Z"),
    FiringCase("0 8-18/4 * * *", "UTC", "2025-01-01T16:01:00Z", "2025-01-02T08:00:00Z"),
    FiringCase("0 9,17 * * *", "UTC", "2025-01-01T09:00:00Z", "2025-01-01T17:00:00Z"),
    FiringCase("0,30 9-10,22 * * *", "UTC", "2025-01-01T10:30:00Z", "2025-01-01T22:00:00Z"),
    // Names; 0 and 7 are both Sunday. 2025-01-01 is a Wednesday.
    FiringCase("0 0 1 JAN,jul *", "UTC", "2025-02-01T00:00:00Z", "2025-07-01T00:00:00Z"),
    FiringCase("0 12 * Mar-May *", "UTC", "2025-05-31T12:00:00Z", "2026-03-01T12:00:00Z"),
    FiringCase("0 9 * * MON-FRI", "UTC", "2025-01-03T09:00:00Z", "2025-01-06T09:00:00Z"),
    FiringCase("0 9 * * sat,Sun", "UTC", "2025-01-01T00:00:00Z", "2025-01-04T09:00:00Z"),
    FiringCase("0 0 * * 0", "UTC", "2025-01-01T00:00:00Z", "2025-01-05T00:00:00Z"),
    FiringCase("0 0 * * 7", "UTC", "2025-01-01T00:00:00Z", "2025-01-05T00:00:00Z"),
    FiringCase("0 0 * * 5-7", "UTC", "2025-01-04T12:00:00Z", "2025-01-05T00:00:00Z"),
    FiringCase("0 0 * * MON-FRI/2", "UTC", "2025-01-01T00:00:00Z", "2025-01-03T00:00:00Z"),
    FiringCase("0\t9  * * *", "UTC", "2025-01-01T00:00:00Z", "2025-01-01T09:00:00Z"),
    // Macros.
    FiringCase("@hourly", "UTC", "2025-01-01T12:34:00Z", "2025-01-01T13:00:00Z"),
    FiringCase("@daily", "UTC", "2025-01-01T12:00:00Z", "2025-01-02T00:00:00Z"),
    FiringCase("@midnight", "UTC", "2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z"),
    FiringCase("@weekly", "UTC", "2025-01-01T00:00:00Z", "2025-01-05T00:00:00Z"),
    FiringCase("@monthly", "UTC", "2025-01-31T23:00:00Z", "2025-02-01T00:00:00Z"),
    FiringCase("@yearly", "UTC", "2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),
    FiringCase("@ANNUALLY", "UTC", "2025-06-15T00:00:00Z", "2026-01-01T00:00:00Z"),
    // Month ends, leap days, year ends.
    FiringCase("0 0 31 * *", "UTC", "2025-04-01T00:00:00Z", "2025-05-31T00:00:00Z"),
    FiringCase("0 0 31 * *", "UTC", "2025-05-31T00:00:00Z", "2025-07-31T00:00:00Z"),
    FiringCase("0 0 29 2 *", "UTC", "2025-01-01T00:00:00Z", "2028-02-29T00:00:00Z"),
    FiringCase("* * * * *", "UTC", "2025-12-31T23:59:00Z", "2026-01-01T00:00:00Z"),
    FiringCase("59 23 31 12 *", "UTC", "2025-12-31T23:59:00Z", "2026-12-31T23:59:00Z"),
    FiringCase("0 0 1 1 *", "UTC", "1969-12-31T12:00:00Z", "1970-01-01T00:00:00Z"),
    // Day-of-month or day-of-week when both are restricted; both when one starts with `*`.
    FiringCase("0 0 13 * FRI", "UTC", "2025-01-01T00:00:00Z", "2025-01-03T00:00:00Z"),
    FiringCase("0 0 13 * FRI", "UTC", "2025-01-10T00:00:00Z", "2025-01-13T00:00:00Z"),
    FiringCase("0 0 */2 * MON", "UTC", "2025-01-01T00:00:00Z", "2025-01-13T00:00:00Z"),
    FiringCase("0 0 29 2 */7", "UTC", "2025-01-01T00:00:00Z", "2032-02-29T00:00:00Z"),
    // Other zones.
    FiringCase("0 9 * * *", "Asia/Tokyo", "2025-01-01T09:00:00+09:00", "2025-01-02T09:00:00+09:00"),
    FiringCase("0 0 1 1 *", "America/New_York", "2025-12-31T23:59:00-05:00", "2026-01-01T00:00:00-05:00"),
    // Spring forward: skipped wall times fire once, at the end of the gap.
    FiringCase("30 2 * * *", "Europe/Berlin", "2025-03-29T12:00:00+01:00", "2025-03-30T03:00:00+02:00"),
    FiringCase("30 2 * * *", "Europe/Berlin", "2025-03-30T03:00:00+02:00", "2025-03-31T02:30:00+02:00"),
    FiringCase("0 * * * *", "Europe/Berlin", "2025-03-30T01:30:00+01:00", "2025-03-30T03:00:00+02:00"),
    FiringCase("0 * * * *", "Europe/Berlin", "2025-03-30T03:00:00+02:00", "2025-03-30T04:00:00+02:00"),
    FiringCase("*/15 * * * *", "Europe/Berlin", "2025-03-30T01:50:00+01:00", "2025-03-30T03:00:00+02:00"),
    FiringCase("*/15 * * * *", "Europe/Berlin", "2025-03-30T03:00:00+02:00", "2025-03-30T03:15:00+02:00"),
    FiringCase("30 2 * * *", "America/New_York", "2025-03-08T12:00:00-05:00", "2025-03-09T03:00:00-04:00"),
    FiringCase("0 * * * *", "America/New_York", "2025-03-09T01:30:00-05:00", "2025-03-09T03:00:00-04:00"),
    FiringCase("0 * * * *", "America/New_York", "2025-03-09T03:00:00-04:00", "2025-03-09T04:00:00-04:00"),
    // Fall back: repeated wall times fire at their first occurrence only, hourly jobs too.
    FiringCase("30 2 * * *", "Europe/Berlin", "2025-10-26T00:00:00+02:00", "2025-10-26T02:30:00+02:00"),
    FiringCase("30 2 * * *", "Europe/Berlin", "2025-10-26T02:30:00+02:00", "2025-10-27T02:30:00+01:00"),
    FiringCase("30 2 * * *", "Europe/Berlin", "2025-10-26T02:10:00+01:00", "2025-10-27T02:30:00+01:00"),
    FiringCase("0 * * * *", "Europe/Berlin", "2025-10-26T01:30:00+02:00", "2025-10-26T02:00:00+02:00"),
    FiringCase("0 * * * *", "Europe/Berlin", "2025-10-26T02:00:00+02:00", "2025-10-26T03:00:00+01:00"),
    FiringCase("0 * * * *", "Europe/Berlin", "2025-10-26T02:00:00+01:00", "2025-10-26T03:00:00+01:00"),
    FiringCase("0 3 * * *", "Europe/Berlin", "2025-10-26T02:30:00+02:00", "2025-10-26T03:00:00+01:00"),
    FiringCase("30 1 * * *", "America/New_York", "2025-11-02T00:00:00-04:00", "2025-11-02T01:30:00-04:00"),
    FiringCase("30 1 * * *", "America/New_York", "2025-11-02T01:30:00-04:00", "2025-11-03T01:30:00-05:00"),
    FiringCase("0 * * * *", "America/New_York", "2025-11-02T00:30:00-04:00", "2025-11-02T01:00:00-04:00"),
    FiringCase("0 * * * *", "America/New_York", "2025-11-02T01:00:00-04:00", "2025-11-02T02:00:00-05:00"),
    FiringCase("0 2 * * *", "America/New_York", "2025-11-02T01:15:00-05:00", "2025-11-02T02:00:00-05:00"),
    // Never.
    FiringCase("0 0 30 2 *", "UTC", "2025-01-01T00:00:00Z", nil),
    FiringCase("0 0 31 4,6,9,11 *", "Europe/Berlin", "2025-01-01T00:00:00Z", nil),
]

let latestCases: [FiringCase] = [
    FiringCase("0 * * * *", "UTC", "2025-01-01T10:00:00Z", "2025-01-01T10:00:00Z"),
    FiringCase("0 * * * *", "UTC", "2025-01-01T10:59:59Z", "2025-01-01T10:00:00Z"),
    FiringCase("0 0 1 * *", "UTC", "2025-03-15T00:00:00Z", "2025-03-01T00:00:00Z"),
    FiringCase("0 0 31 * *", "UTC", "2025-07-01T00:00:00Z", "2025-05-31T00:00:00Z"),
    FiringCase("59 23 31 12 *", "UTC", "2026-06-01T00:00:00Z", "2025-12-31T23:59:00Z"),
    FiringCase("@yearly", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),
    FiringCase("@yearly", "UTC", "2025-12-31T23:59:59Z", "2025-01-01T00:00:00Z"),
    FiringCase("0 0 29 2 *", "UTC", "2027-06-01T00:00:00Z", "2024-02-29T00:00:00Z"),
    FiringCase("30 12 * * *", "UTC", "1969-07-20T20:17:40Z", "1969-07-20T12:30:00Z"),
    FiringCase("0 9 * * MON-FRI", "UTC", "2025-01-05T12:00:00Z", "2025-01-03T09:00:00Z"),
    FiringCase("0 0 13 * FRI", "UTC", "2025-01-12T00:00:00Z", "2025-01-10T00:00:00Z"),
    FiringCase("0 0 1 1 *", "America/New_York", "2026-01-01T04:59:00Z", "2025-01-01T00:00:00-05:00"),
    FiringCase("30 2 * * *", "Europe/Berlin", "2025-03-30T03:00:00+02:00", "2025-03-30T03:00:00+02:00"),
    FiringCase("30 2 * * *", "Europe/Berlin", "2025-03-30T01:59:00+01:00", "2025-03-29T02:30:00+01:00"),
    FiringCase("0 * * * *", "America/New_York", "2025-03-09T03:30:00-04:00", "2025-03-09T03:00:00-04:00"),
    FiringCase("30 2 * * *", "Europe/Berlin", "2025-10-26T02:45:00+01:00", "2025-10-26T02:30:00+02:00"),
    FiringCase("0 * * * *", "Europe/Berlin", "2025-10-26T02:59:00+01:00", "2025-10-26T02:00:00+02:00"),
    FiringCase("* * * * *", "America/New_York", "2025-11-02T01:30:00-05:00", "2025-11-02T01:59:00-04:00"),
    FiringCase("0 0 30 2 *", "UTC", "2025-01-01T00:00:00Z", nil),
]

@Suite struct CronFiringTests {
    @Test(arguments: nextCases)
    func next(_ row: FiringCase) throws {
        let cron = try CronExpression(row.expression)
        let firing = cron.next(after: try instant(row.from), in: try timeZone(row.zone))
        #expect(firing == (try row.expected.map(instant)))
    }

    @Test(arguments: latestCases)
    func latest(_ row: FiringCase) throws {
        let cron = try CronExpression(row.expression)
        let firing = cron.latest(atOrBefore: try instant(row.from), in: try timeZone(row.zone))
        #expect(firing == (try row.expected.map(instant)))
    }

    @Test func impossibleExpressionsGiveNilQuickly() throws {
        let start = try instant("2025-01-01T00:00:00Z")
        let zone = try timeZone("Europe/Berlin")
        let elapsed = try ContinuousClock().measure {
            for text in ["0 0 30 2 *", "0 0 30,31 2 *", "* * 31 4,6,9,11 *"] {
                let cron = try CronExpression(text)
                #expect(cron.next(after: start, in: zone) == nil)
                #expect(cron.latest(atOrBefore: start, in: zone) == nil)
            }
        }
        #expect(elapsed < .seconds(60))
    }

    @Test(arguments: [
        ("@yearly", "0 0 1 1 *"), ("@annually", "0 0 1 1 *"), ("@monthly", "0 0 1 * *"), ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"), ("@midnight", "0 0 * * *"), ("@hourly", "0 * * * *"),
    ])
    func macroMeansItsFields(macro: String, fields: String) throws {
        #expect(try CronExpression(macro).schedule == CronExpression(fields).schedule)
    }

    @Test func keepsTheTextAsWritten() throws {
        #expect(try CronExpression("  @Daily ").text == "  @Daily ")
        #expect(try CronExpression("0 0 * * 7") == CronExpression("0 0 * * 7"))
        #expect(try CronExpression("0 0 * * 7").schedule == CronExpression("0 0 * * SUN").schedule)
    }
}

/// A rejected expression, the column the error names and a fragment of its message.
struct ErrorCase: Sendable, CustomTestStringConvertible {
    var expression: String
    var column: Int
    var fragment: String

    init(_ expression: String, _ column: Int, _ fragment: String) {
        (self.expression, self.column, self.fragment) = (expression, column, fragment)
    }

    var testDescription: String { "\"\(expression)\"" }
}

let errorCases: [ErrorCase] = [
    ErrorCase("", 1, "expected 5 fields (minute hour day-of-month month day-of-week)"),
    ErrorCase("* * * *", 8, "found 4"),
    ErrorCase("* * * * * *", 11, "found 6"),
    ErrorCase("61 * * * *", 1, "minute 61 is out of range 0-59"),
    ErrorCase("  61 * * * *", 3, "minute 61 is out of range 0-59"),
    ErrorCase("0,61 * * * *", 3, "minute 61 is out of range 0-59"),
    ErrorCase("99999999999999999999 * * * *", 1, "minute 99999999999999999999 is out of range 0-59"),
    ErrorCase("0 24 * * *", 3, "hour 24 is out of range 0-23"),
    ErrorCase("0 0 0 * *", 5, "day-of-month 0 is out of range 1-31"),
    ErrorCase("0 0 32 * *", 5, "day-of-month 32 is out of range 1-31"),
    ErrorCase("0 0 * 13 *", 7, "month 13 is out of range 1-12"),
    ErrorCase("0 0 * * 8", 9, "day-of-week 8 is out of range 0-7"),
    ErrorCase("0 0 * * 1-8", 11, "day-of-week 8 is out of range 0-7"),
    ErrorCase("5-1 * * * *", 1, "minute range 5-1 is reversed"),
    ErrorCase("0 0 * * FRI-MON", 9, "day-of-week range FRI-MON is reversed"),
    ErrorCase("*/0 * * * *", 3, "minute step 0 is out of range 1-59"),
    ErrorCase("0 0 1-5/0 * *", 9, "day-of-month step 0 is out of range 1-31"),
    ErrorCase("*/x * * * *", 3, "minute step: expected a number 1-59, found \"x\""),
    ErrorCase("*/ * * * *", 3, "minute step: expected a number 1-59, found nothing"),
    ErrorCase("1/2/3 * * * *", 4, "more than one '/'"),
    ErrorCase("1-2-3 * * * *", 4, "more than one '-'"),
    ErrorCase("1,,2 * * * *", 3, "minute list has an empty item"),
    ErrorCase("1, * * * *", 3, "minute list has an empty item"),
    ErrorCase("0 ,1 * * *", 3, "hour list has an empty item"),
    ErrorCase("0 0 * FOO *", 7, "unknown month name FOO; expected one of JAN, FEB"),
    ErrorCase("0 0 * MON *", 7, "unknown month name MON"),
    ErrorCase("0 0 * * FUNDAY", 9, "unknown day-of-week name FUNDAY; expected one of SUN, MON"),
    ErrorCase("0 0 * * MON-FOO", 13, "unknown day-of-week name FOO"),
    ErrorCase("abc * * * *", 1, "minute: expected a number 0-59, found \"abc\""),
    ErrorCase("-5 * * * *", 1, "minute: expected a number 0-59, found nothing"),
    ErrorCase("0 0 L * *", 5, "day-of-month: expected a number 1-31"),
    ErrorCase("0 0 ? * *", 5, "day-of-month: expected a number 1-31"),
    ErrorCase("0 0 * * 1#2", 9, "day-of-week: expected a number 0-7 or a name SUN-SAT"),
    ErrorCase("@reboot", 1, "@reboot is not supported: harden schedules builds by the clock"),
    ErrorCase("@fortnightly", 1, "unknown macro @fortnightly; expected @yearly"),
    ErrorCase("@daily 5", 8, "@daily is a whole schedule and takes no fields"),
]

@Suite struct CronErrorTests {
    @Test(arguments: errorCases)
    func rejects(_ row: ErrorCase) throws {
        let error = try #require(throws: CronError.self) { try CronExpression(row.expression) }
        #expect(error.column == row.column, "\(error)")
        #expect(error.message.contains(row.fragment), "\(error)")
    }

    @Test func describesColumnAndMessage() throws {
        let error = try #require(throws: CronError.self) { try CronExpression("0 0 * * 8") }
        #expect(error.description == "column 9: day-of-week 8 is out of range 0-7")
    }
}

/// Transitions in 2025, including Lord Howe Island's 30-minute shifts.
let transitions: [(zone: String, instant: String)] = [
    ("Europe/Berlin", "2025-03-30T01:00:00Z"), ("Europe/Berlin", "2025-10-26T01:00:00Z"),
    ("America/New_York", "2025-03-09T07:00:00Z"), ("America/New_York", "2025-11-02T06:00:00Z"),
    ("Australia/Lord_Howe", "2025-04-05T15:00:00Z"), ("Australia/Lord_Howe", "2025-10-04T15:30:00Z"),
]

@Suite struct CronPropertyTests {
    /// Every 17h13m17s through 2025, and every 7 minutes (and 17 seconds) for two hours either side of each transition.
    static func probes() throws -> [Date] {
        let yearStart = try instant("2025-01-01T00:00:00Z")
        let yearEnd = yearStart.addingTimeInterval(365 * 86_400)
        var probes = Array(stride(from: yearStart, to: yearEnd, by: 17 * 3600 + 13 * 60 + 17))
        for transition in transitions {
            let at = try instant(transition.instant)
            for offset in stride(from: -7200.0, through: 7200.0, by: 420.0) {
                probes.append(at.addingTimeInterval(offset))
                probes.append(at.addingTimeInterval(offset + 17))
            }
        }
        return probes
    }

    @Test(
        arguments: ["*/7 * * * *", "30 2 * * *", "0 * * * *", "0 0 13 * FRI", "0 0 29 2 *", "*/20 1-3 * * 0"],
        ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"])
    func nextAndLatestAgree(expression: String, zone: String) throws {
        let cron = try CronExpression(expression)
        let timeZone = try timeZone(zone)
        for start in try Self.probes() {
            let next = try #require(cron.next(after: start, in: timeZone))
            #expect(next > start)
            #expect(cron.latest(atOrBefore: next, in: timeZone) == next, "\(start)")
            let latest = try #require(cron.latest(atOrBefore: start, in: timeZone))
            #expect(latest <= start)
            #expect(try #require(cron.next(after: latest, in: timeZone)) > start, "\(start)")
        }
    }

    /// Walks the instants minute by minute and fires when the clock reaches a matching wall time it has not
    /// shown before; wall times are read with Foundation's calendar rather than the module's own arithmetic.
    static func firingsMinuteByMinute(_ cron: CronExpression, _ zone: TimeZone, from: Date, to: Date) throws -> [Date] {
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = try timeZone("UTC")
        func reading(_ date: Date) -> Int { Int(date.timeIntervalSince1970) + zone.secondsFromGMT(for: date) }
        func matches(_ localSeconds: Int) -> Bool {
            let wall = utc.dateComponents(
                [.month, .day, .hour, .minute, .weekday], from: Date(timeIntervalSince1970: TimeInterval(localSeconds)))
            let schedule = cron.schedule
            let (dayOfMonth, dayOfWeek) = (schedule.daysOfMonth, schedule.daysOfWeek)
            let dayOfMonthHit = dayOfMonth.values.contains(wall.day ?? -1)
            let dayOfWeekHit = dayOfWeek.values.contains((wall.weekday ?? 0) - 1)
            let dayHit =
                dayOfMonth.startsWithStar || dayOfWeek.startsWithStar
                ? dayOfMonthHit && dayOfWeekHit : dayOfMonthHit || dayOfWeekHit
            return dayHit && schedule.months.values.contains(wall.month ?? -1)
                && schedule.hours.values.contains(wall.hour ?? -1) && schedule.minutes.values.contains(wall.minute ?? -1)
        }
        var firings: [Date] = []
        var highest = reading(from.addingTimeInterval(-60))
        for date in stride(from: from, to: to, by: 60) {
            let now = reading(date)
            if stride(from: highest + 60, through: now, by: 60).contains(where: matches) { firings.append(date) }
            highest = max(highest, now)
        }
        return firings
    }

    @Test(arguments: ["*/15 * * * *", "0 * * * *", "30 2 * * *", "30 1 * * *", "0 3 * * *", "*/7 2 * * *", "45 1-3 * * 0"])
    func matchesAMinuteByMinuteWalkAcrossTransitions(expression: String) throws {
        let cron = try CronExpression(expression)
        for (zone, transition) in transitions {
            let timeZone = try timeZone(zone)
            let from = try instant(transition).addingTimeInterval(-86_400)
            let to = from.addingTimeInterval(2 * 86_400)
            let expected = try Self.firingsMinuteByMinute(cron, timeZone, from: from, to: to)

            var forward: [Date] = []
            var cursor = from.addingTimeInterval(-1)
            while let firing = cron.next(after: cursor, in: timeZone), firing < to {
                forward.append(firing)
                cursor = firing
            }
            #expect(differences(forward, expected) == [], "\(zone) around \(transition)")

            var backward: [Date] = []
            cursor = to.addingTimeInterval(-1)
            while let firing = cron.latest(atOrBefore: cursor, in: timeZone), firing >= from {
                backward.insert(firing, at: 0)
                cursor = firing.addingTimeInterval(-1)
            }
            #expect(differences(backward, expected) == [], "\(zone) around \(transition)")
        }
    }
}

/// What `actual` has that `expected` lacks and the reverse, so that a failure names just those firings.
func differences(_ actual: [Date], _ expected: [Date]) -> [String] {
    actual.difference(from: expected).map { change in
        switch change {
        case .insert(_, let firing, _): "extra \(firing)"
        case .remove(_, let firing, _): "missing \(firing)"
        }
    }
}
