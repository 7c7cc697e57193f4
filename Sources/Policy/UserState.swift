import Foundation
import SwitchboardCore

/// One user's live money in this process: what is held and spent, in total
/// and in the current day, week and month. Only `KeyLimiter` touches it.
/// Every sum saturates (`Money` arithmetic): no count can trap.
struct UserState: Sendable {
    var held: Money = .zero
    var spent: Money
    var periodStarts: (day: Date, week: Date, month: Date)
    var day: Money
    var week: Money
    var month: Money

    init(baseline: UserBaseline?, now: Date) {
        let starts = Periods.starts(of: now)
        spent = baseline?.spent ?? .zero
        periodStarts = starts
        day = baseline.map { $0.periodStarts.day == starts.day ? $0.day : .zero } ?? .zero
        week = baseline.map { $0.periodStarts.week == starts.week ? $0.week : .zero } ?? .zero
        month = baseline.map { $0.periodStarts.month == starts.month ? $0.month : .zero } ?? .zero
    }

    /// Starts new periods when `now` left the current ones (weeks and months
    /// only change with a day, so the calendar is consulted once a day).
    mutating func advance(_ now: Date) {
        guard Periods.dayStart(of: now) != periodStarts.day else { return }
        let starts = Periods.starts(of: now)
        if starts.day != periodStarts.day { day = .zero }
        if starts.week != periodStarts.week { week = .zero }
        if starts.month != periodStarts.month { month = .zero }
        periodStarts = starts
    }

    /// Why the user's money cannot cover `hold`, or nil.
    mutating func refusal(_ owner: Owner, hold: Money, now: Date) -> KeyRefusal? {
        advance(now)
        if let group = owner.group {
            if let cap = group.daily, day + held + hold > cap { return .quotaExhausted("subscription_daily") }
            if let cap = group.weekly, week + held + hold > cap { return .quotaExhausted("subscription_weekly") }
            if let cap = group.monthly, month + held + hold > cap { return .quotaExhausted("subscription_monthly") }
        }
        if let balance = owner.user.balance, spent + held + hold > balance { return .quotaExhausted("user_balance") }
        return nil
    }

    mutating func charge(_ cost: Money, releasing hold: Money, now: Date) {
        advance(now)
        held = max(.zero, held - hold)  // never below zero, whatever a caller releases
        spent += cost
        day += cost
        week += cost
        month += cost
    }

    /// What remains of the tightest of the user's budgets, nil when none is set.
    func remaining(_ owner: Owner) -> Money? {
        var left: [Money] = []
        if let group = owner.group {
            if let cap = group.daily { left.append(cap - day - held) }
            if let cap = group.weekly { left.append(cap - week - held) }
            if let cap = group.monthly { left.append(cap - month - held) }
        }
        if let balance = owner.user.balance { left.append(balance - spent - held) }
        return left.min()
    }
}

/// A user's spending before this process started, from the ledger.
public struct UserBaseline: Sendable, Equatable {
    public var spent: Money
    public var periodStarts: (day: Date, week: Date, month: Date)
    public var day: Money
    public var week: Money
    public var month: Money

    public init(spent: Money, periodStarts: (day: Date, week: Date, month: Date), day: Money, week: Money, month: Money) {
        self.spent = spent
        self.periodStarts = periodStarts
        self.day = day
        self.week = week
        self.month = month
    }

    public static func == (a: UserBaseline, b: UserBaseline) -> Bool {
        a.spent == b.spent && a.day == b.day && a.week == b.week && a.month == b.month
            && a.periodStarts.day == b.periodStarts.day
    }
}

extension UserBaseline {
    /// What the tightest of the owner's budgets still covers after this spending
    /// (outside the server, from ledger totals); nil when none is set.
    public static func remaining(_ baseline: UserBaseline?, owner: Owner, now: Date) -> Money? {
        UserState(baseline: baseline, now: now).remaining(owner)
    }
}
