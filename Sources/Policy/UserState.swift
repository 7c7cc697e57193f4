import Foundation

/// One user's live money in this process: what is held and spent, in total
/// and in the current day, week and month. Only `KeyLimiter` touches it.
struct UserState: Sendable {
    var heldPicos: Int64 = 0
    var spentPicos: Int64
    var periodStarts: (day: Date, week: Date, month: Date)
    var dayPicos: Int64
    var weekPicos: Int64
    var monthPicos: Int64

    init(baseline: UserBaseline?, now: Date) {
        let starts = Periods.starts(of: now)
        spentPicos = baseline?.spentPicos ?? 0
        periodStarts = starts
        dayPicos = baseline.map { $0.periodStarts.day == starts.day ? $0.dayPicos : 0 } ?? 0
        weekPicos = baseline.map { $0.periodStarts.week == starts.week ? $0.weekPicos : 0 } ?? 0
        monthPicos = baseline.map { $0.periodStarts.month == starts.month ? $0.monthPicos : 0 } ?? 0
    }

    /// Starts new periods when `now` left the current ones (weeks and months
    /// only change with a day, so the calendar is consulted once a day).
    mutating func advance(_ now: Date) {
        guard Periods.dayStart(of: now) != periodStarts.day else { return }
        let starts = Periods.starts(of: now)
        if starts.day != periodStarts.day { dayPicos = 0 }
        if starts.week != periodStarts.week { weekPicos = 0 }
        if starts.month != periodStarts.month { monthPicos = 0 }
        periodStarts = starts
    }

    /// Why the user's money cannot cover `hold`, or nil.
    mutating func refusal(_ owner: Owner, hold: Int64, now: Date) -> KeyRefusal? {
        advance(now)
        if let group = owner.group {
            if let cap = group.dailyPicos, dayPicos + heldPicos + hold > cap { return .quotaExhausted("subscription_daily") }
            if let cap = group.weeklyPicos, weekPicos + heldPicos + hold > cap { return .quotaExhausted("subscription_weekly") }
            if let cap = group.monthlyPicos, monthPicos + heldPicos + hold > cap { return .quotaExhausted("subscription_monthly") }
        }
        if let balance = owner.user.balancePicos, spentPicos + heldPicos + hold > balance { return .quotaExhausted("user_balance") }
        return nil
    }

    mutating func charge(_ cost: Int64, releasing hold: Int64, now: Date) {
        advance(now)
        heldPicos -= hold
        spentPicos += cost
        dayPicos += cost
        weekPicos += cost
        monthPicos += cost
    }

    /// What remains of the tightest of the user's budgets, nil when none is set.
    func remaining(_ owner: Owner) -> Int64? {
        var left: [Int64] = []
        if let group = owner.group {
            if let cap = group.dailyPicos { left.append(cap - dayPicos - heldPicos) }
            if let cap = group.weeklyPicos { left.append(cap - weekPicos - heldPicos) }
            if let cap = group.monthlyPicos { left.append(cap - monthPicos - heldPicos) }
        }
        if let balance = owner.user.balancePicos { left.append(balance - spentPicos - heldPicos) }
        return left.min()
    }
}

/// A user's spending before this process started, from the ledger.
public struct UserBaseline: Sendable, Equatable {
    public var spentPicos: Int64
    public var periodStarts: (day: Date, week: Date, month: Date)
    public var dayPicos: Int64
    public var weekPicos: Int64
    public var monthPicos: Int64

    public init(spentPicos: Int64, periodStarts: (day: Date, week: Date, month: Date), dayPicos: Int64, weekPicos: Int64, monthPicos: Int64) {
        self.spentPicos = spentPicos
        self.periodStarts = periodStarts
        self.dayPicos = dayPicos
        self.weekPicos = weekPicos
        self.monthPicos = monthPicos
    }

    public static func == (a: UserBaseline, b: UserBaseline) -> Bool {
        a.spentPicos == b.spentPicos && a.dayPicos == b.dayPicos && a.weekPicos == b.weekPicos && a.monthPicos == b.monthPicos
            && a.periodStarts.day == b.periodStarts.day
    }
}

extension UserBaseline {
    /// What the tightest of the owner's budgets still covers after this spending
    /// (outside the server, from ledger totals); nil when none is set.
    public static func remaining(_ baseline: UserBaseline?, owner: Owner, now: Date) -> Int64? {
        UserState(baseline: baseline, now: now).remaining(owner)
    }
}
