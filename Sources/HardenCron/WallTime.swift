import Foundation

/// A local clock reading to the minute, in the proleptic Gregorian calendar.
struct WallTime: Sendable, Equatable {
    var year: Int
    var month: Int
    var day: Int
    var hour: Int
    var minute: Int

    /// The reading `localSeconds` after 1970-01-01 00:00 on the same clock, floored to the minute.
    init(localSeconds: Int) {
        let minutes = localSeconds.floorDivided(by: 60)
        let days = minutes.floorDivided(by: 1440)
        let minuteOfDay = minutes - days * 1440
        (year, month, day) = Gregorian.date(daysSinceEpoch: days)
        hour = minuteOfDay / 60
        minute = minuteOfDay % 60
    }

    init(year: Int, month: Int, day: Int, hour: Int, minute: Int) {
        (self.year, self.month, self.day, self.hour, self.minute) = (year, month, day, hour, minute)
    }

    var localSeconds: Int {
        let days = Gregorian.daysSinceEpoch(year: year, month: month, day: day)
        return (days * 1440 + hour * 60 + minute) * 60
    }
}

/// Date arithmetic in the proleptic Gregorian calendar, counting days from 1970-01-01.
/// The year is shifted to start in March so that the leap day falls at its end.
enum Gregorian {
    private static let daysPer400Years = 146_097
    private static let daysFromYear0March1To1970 = 719_468

    static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let marchYear = month <= 2 ? year - 1 : year
        let era = marchYear.floorDivided(by: 400)
        let yearOfEra = marchYear - era * 400
        let monthFromMarch = (month + 9) % 12
        let dayOfYear = (153 * monthFromMarch + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * daysPer400Years + dayOfEra - daysFromYear0March1To1970
    }

    static func date(daysSinceEpoch days: Int) -> (year: Int, month: Int, day: Int) {
        let shifted = days + daysFromYear0March1To1970
        let era = shifted.floorDivided(by: daysPer400Years)
        let dayOfEra = shifted - era * daysPer400Years
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthFromMarch = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1
        let month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
        return (era * 400 + yearOfEra + (month <= 2 ? 1 : 0), month, day)
    }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    static func isLeap(_ year: Int) -> Bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    /// 0 is Sunday; 1970-01-01 was a Thursday.
    static func weekday(year: Int, month: Int, day: Int) -> Int {
        (daysSinceEpoch(year: year, month: month, day: day) + 4).floorModulo(7)
    }
}

extension TimeZone {
    /// What the clock reads `seconds` after the epoch, floored to the minute.
    func wallTime(at seconds: Int) -> WallTime {
        WallTime(localSeconds: reading(at: seconds))
    }

    /// The latest time the clock has shown by `seconds`. Just after a fall-back this is later than
    /// the current reading; the day before is looked at, which covers one transition a day.
    func latestWallTime(by seconds: Int) -> WallTime {
        let earlierOffset = offset(at: seconds - 86_400)
        return WallTime(localSeconds: seconds + Swift.max(offset(at: seconds), earlierOffset))
    }

    /// The first instant at which the clock reads `wall` or later: its only occurrence, its first
    /// one when a fall-back repeats it, or the end of the gap when a spring-forward skips it.
    /// Offsets are sampled a day either side, which covers one transition a day.
    func firstInstant(reaching wall: WallTime) -> Date {
        let target = wall.localSeconds
        let offsetBefore = offset(at: target - 86_400)
        let offsetAfter = offset(at: target + 86_400)
        let occurrences = [target - offsetBefore, target - offsetAfter].filter { reading(at: $0) == target }
        if let first = occurrences.min() { return Date(timeIntervalSince1970: TimeInterval(first)) }

        // Skipped: find the second the clock jumps past `target`.
        var stillEarlier = target - offsetAfter
        var alreadyLater = target - offsetBefore
        guard reading(at: stillEarlier) < target, reading(at: alreadyLater) >= target else {
            return Date(timeIntervalSince1970: TimeInterval(alreadyLater))
        }
        while alreadyLater - stillEarlier > 1 {
            let middle = stillEarlier + (alreadyLater - stillEarlier) / 2
            if reading(at: middle) >= target { alreadyLater = middle } else { stillEarlier = middle }
        }
        return Date(timeIntervalSince1970: TimeInterval(alreadyLater))
    }

    /// The local clock's seconds since its own 1970-01-01 00:00.
    private func reading(at seconds: Int) -> Int {
        seconds + offset(at: seconds)
    }

    private func offset(at seconds: Int) -> Int {
        secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }
}

extension Int {
    func floorDivided(by divisor: Int) -> Int {
        let quotient = self / divisor
        return self % divisor < 0 ? quotient - 1 : quotient
    }

    func floorModulo(_ divisor: Int) -> Int {
        self - floorDivided(by: divisor) * divisor
    }
}
