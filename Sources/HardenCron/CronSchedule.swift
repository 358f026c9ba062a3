/// The values one field allows.
struct CronField: Sendable, Equatable {
    /// Ascending, without repeats.
    let values: [Int]
    /// Written starting with `*` (so `*/2` too): decides how day-of-month and day-of-week combine.
    let startsWithStar: Bool
    private let members: UInt64

    init(_ values: some Sequence<Int>, startsWithStar: Bool) {
        let unique = Set(values)
        self.values = unique.sorted()
        self.startsWithStar = startsWithStar
        members = unique.reduce(0) { $0 | (1 << UInt64($1)) }
    }

    func contains(_ value: Int) -> Bool {
        members & (1 << UInt64(value)) != 0
    }
}

enum SearchDirection {
    case forward, backward
}

/// The five parsed fields, and the walk over the wall times they match.
struct CronSchedule: Sendable, Equatable {
    var minutes: CronField
    var hours: CronField
    var daysOfMonth: CronField
    var months: CronField
    /// 0 is Sunday; a written 7 is stored as 0.
    var daysOfWeek: CronField

    /// Vixie cron's rule: when both day fields are restricted, either may match; otherwise both must.
    func matchesDay(year: Int, month: Int, day: Int) -> Bool {
        let dayOfMonth = daysOfMonth.contains(day)
        let dayOfWeek = daysOfWeek.contains(Gregorian.weekday(year: year, month: month, day: day))
        if daysOfMonth.startsWithStar || daysOfWeek.startsWithStar { return dayOfMonth && dayOfWeek }
        return dayOfMonth || dayOfWeek
    }

    /// A 400-year Gregorian cycle holds every combination of date and weekday, so an expression
    /// that matches nothing within it never matches.
    private static let searchMonths = 400 * 12

    /// Walks the matching wall times from `start` (included) in `direction`, and returns the
    /// first non-nil `accept` result. Months and days are stepped through, hours and minutes taken
    /// from the field values: a search costs a step per day of an allowed month, not one per minute.
    func first<Result>(
        from start: WallTime, _ direction: SearchDirection, _ accept: (WallTime) -> Result?
    ) -> Result? {
        var (year, month) = (start.year, start.month)
        var inStartMonth = true
        for _ in 0...Self.searchMonths {
            if months.contains(month) {
                let allDays = Array(1...Gregorian.daysInMonth(year: year, month: month))
                for day in ordered(allDays, from: inStartMonth ? start.day : nil, direction)
                where matchesDay(year: year, month: month, day: day) {
                    let onStartDay = inStartMonth && day == start.day
                    for hour in ordered(hours.values, from: onStartDay ? start.hour : nil, direction) {
                        let onStartHour = onStartDay && hour == start.hour
                        for minute in ordered(minutes.values, from: onStartHour ? start.minute : nil, direction) {
                            let wall = WallTime(year: year, month: month, day: day, hour: hour, minute: minute)
                            if let result = accept(wall) { return result }
                        }
                    }
                }
            }
            inStartMonth = false
            switch direction {
            case .forward: (year, month) = month == 12 ? (year + 1, 1) : (year, month + 1)
            case .backward: (year, month) = month == 1 ? (year - 1, 12) : (year, month - 1)
            }
        }
        return nil
    }

    /// `values` in walking order, starting at `bound` when given.
    private func ordered(_ values: [Int], from bound: Int?, _ direction: SearchDirection) -> [Int] {
        switch (direction, bound) {
        case (.forward, nil): values
        case (.backward, nil): values.reversed()
        case (.forward, let bound?): values.filter { $0 >= bound }
        case (.backward, let bound?): values.reversed().filter { $0 <= bound }
        }
    }
}
