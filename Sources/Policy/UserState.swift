import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One user's live money in this process: what is held and spent, in total
/// and in the current day, week and month. Only `KeyLimiter` touches it.
/// Every sum saturates (`Money` arithmetic): no count can trap.
struct UserState: Sendable {
    var held: Money = .zero
    var spent: Money
    var periods: PeriodSpend
    /// Requests in flight across the user's keys, and those queued for a slot.
    var inFlight = 0
    var waiters: [KeyState.Waiter] = []
    /// Cost per model in the current periods, for the user's model budgets.
    var models: ModelSpending

    init(baseline: UserBaseline?, now: Date) {
        models = ModelSpending(baseline?.models ?? [:])
        spent = baseline?.spent ?? .zero
        periods = PeriodSpend(
            starts: baseline?.periodStarts ?? Periods.starts(of: now), day: baseline?.day ?? .zero, week: baseline?.week ?? .zero,
            month: baseline?.month ?? .zero)
        periods.advance(now)
    }

    /// Why the user cannot take the request: a slot, then money.
    mutating func refusal(_ owner: Owner, demand: KeyDemand, now: Date) -> KeyRefusal? {
        if let cap = owner.user.limits.concurrency, inFlight >= cap { return .userConcurrency }
        if let refusal = refusal(owner, hold: demand.hold, now: now) { return refusal }
        if let refusal = models.refusal(owner.user.limits.modelBudgets, model: demand.model, hold: demand.hold, now: now, owner: "user") {
            return .modelBudget(refusal)
        }
        return nil
    }

    /// Takes a slot and holds the money.
    mutating func commit(_ demand: KeyDemand, now: Date) {
        inFlight += 1
        held += demand.hold
        models.hold(demand.hold, model: demand.model, now: now)
    }

    /// Why the user's money cannot cover `hold`, or nil.
    mutating func refusal(_ owner: Owner, hold: Money, now: Date) -> KeyRefusal? {
        periods.advance(now)
        if let group = owner.group {
            if let cap = group.daily, periods.day + held + hold > cap { return .quotaExhausted("subscription_daily") }
            if let cap = group.weekly, periods.week + held + hold > cap { return .quotaExhausted("subscription_weekly") }
            if let cap = group.monthly, periods.month + held + hold > cap { return .quotaExhausted("subscription_monthly") }
        }
        if let balance = owner.user.balance, spent + held + hold > balance { return .quotaExhausted("user_balance") }
        return nil
    }

    /// Gives back the slot and hold, and charges the real cost.
    mutating func release(_ demand: KeyDemand, cost: Money, now: Date) {
        inFlight = max(0, inFlight - 1)
        held = max(.zero, held - demand.hold)  // never below zero, whatever a caller releases
        spent += cost
        periods.add(cost, now: now)
        models.settle(cost, releasing: demand.hold, model: demand.model, now: now)
    }

    /// What remains of the tightest of the user's budgets, nil when none is set.
    func remaining(_ owner: Owner) -> Money? {
        var left: [Money] = []
        if let group = owner.group {
            if let cap = group.daily { left.append(cap - periods.day - held) }
            if let cap = group.weekly { left.append(cap - periods.week - held) }
            if let cap = group.monthly { left.append(cap - periods.month - held) }
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
    /// Each model's cost in the current day, week and month.
    public var models: [String: PeriodTotals] = [:]

    public init(spent: Money, periodStarts: (day: Date, week: Date, month: Date), day: Money, week: Money, month: Money) {
        self.spent = spent
        self.periodStarts = periodStarts
        self.day = day
        self.week = week
        self.month = month
    }

    public static func == (a: UserBaseline, b: UserBaseline) -> Bool {
        a.spent == b.spent && a.day == b.day && a.week == b.week && a.month == b.month
            && a.periodStarts.day == b.periodStarts.day && a.models == b.models
    }
}

extension UserBaseline {
    /// What the tightest of the owner's budgets still covers after this spending
    /// (outside the server, from ledger totals); nil when none is set.
    public static func remaining(_ baseline: UserBaseline?, owner: Owner, now: Date) -> Money? {
        UserState(baseline: baseline, now: now).remaining(owner)
    }
}
