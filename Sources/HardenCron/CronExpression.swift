import Foundation

/// A cron schedule in the five-field syntax of Vixie cron (`man 5 crontab`):
/// `minute hour day-of-month month day-of-week`, each a comma list of `*`, `N` or `N-M` with an
/// optional `/STEP`; month names JAN-DEC and weekday names SUN-SAT in any case; 0 and 7 both
/// Sunday; or one of `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly`.
/// When day-of-month and day-of-week are both restricted (neither starts with `*`), a day
/// matches if either does; otherwise both must.
///
/// Time: the fields describe wall-clock times in the time zone given to `next` and `latest`
/// (Gregorian calendar). Each matching wall time fires once, at the first instant the clock
/// reads that time or later. So:
/// - a wall time skipped by a spring-forward fires at the end of the gap (02:30 in Berlin on
///   the last Sunday of March fires at 03:00 CEST); several skipped times fire there once;
/// - a wall time repeated by a fall-back fires only at its first occurrence. This holds for
///   every expression: `0 * * * *` fires at 02:00 CEST and then 03:00 CET on the last Sunday of
///   October in Berlin, not at the repeated 02:00 CET, so there are two hours between firings.
///
/// An expression that can never match (`0 0 30 2 *`) gives nil after one 400-year Gregorian
/// cycle of days has been checked.
public struct CronExpression: Sendable, Equatable {
    /// As written.
    public let text: String
    let schedule: CronSchedule

    public init(_ text: String) throws(CronError) {
        self.text = text
        schedule = try CronParser.parse(text)
    }

    /// The first firing strictly after `date`, in wall-clock time of `timeZone`.
    public func next(after date: Date, in timeZone: TimeZone) -> Date? {
        guard let seconds = Self.wholeSeconds(date) else { return nil }
        return schedule.first(from: timeZone.wallTime(at: seconds), .forward) { wall in
            let instant = timeZone.firstInstant(reaching: wall)
            return instant > date ? instant : nil
        }
    }

    /// The last firing at or before `date` (what a scheduler compares with the last build time).
    public func latest(atOrBefore date: Date, in timeZone: TimeZone) -> Date? {
        guard let seconds = Self.wholeSeconds(date) else { return nil }
        return schedule.first(from: timeZone.latestWallTime(by: seconds), .backward) { wall in
            let instant = timeZone.firstInstant(reaching: wall)
            return instant <= date ? instant : nil
        }
    }

    /// Seconds since the epoch, rounded down; nil for dates too far out for calendar arithmetic.
    private static func wholeSeconds(_ date: Date) -> Int? {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        guard abs(seconds) < 1e15 else { return nil }
        return Int(seconds)
    }
}
