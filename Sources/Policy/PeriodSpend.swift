import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Money spent in the current UTC day, ISO week and month, each starting again
/// when its period does. Keys and users keep one each (under the limiter's lock);
/// one made from a baseline's periods is brought up to date by its first `advance`.
struct PeriodSpend: Sendable {
    var starts: (day: Date, week: Date, month: Date)
    var day: Money
    var week: Money
    var month: Money

    /// Nothing spent in the periods holding `now`.
    static func empty(_ now: Date) -> PeriodSpend { PeriodSpend(starts: Periods.starts(of: now), day: .zero, week: .zero, month: .zero) }

    /// Starts new periods when `now` left the current ones (weeks and months
    /// only change with a day, so the calendar is consulted once a day).
    mutating func advance(_ now: Date) {
        guard Periods.dayStart(of: now) != starts.day else { return }
        let current = Periods.starts(of: now)
        if current.day != starts.day { day = .zero }
        if current.week != starts.week { week = .zero }
        if current.month != starts.month { month = .zero }
        starts = current
    }

    /// Counts `cost` in every current period.
    mutating func add(_ cost: Money, now: Date) {
        advance(now)
        day += cost
        week += cost
        month += cost
    }
}
