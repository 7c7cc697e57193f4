import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One key's live counters in this process. Only `KeyLimiter` touches it,
/// under its lock. Money sums saturate (`Money` arithmetic) and token sums use
/// saturating adds: no count, however large, can trap.
struct KeyState: Sendable {
    var inFlight = 0
    var waiters: [Waiter] = []
    /// Start times of the requests in the window, oldest first (exact request counting).
    var requestTimes = WindowLog<Date>()
    /// Settled usage in the window: when, tokens, cost.
    var windowUsage = WindowLog<(at: Date, tokens: Int64, cost: Money)>()
    /// Tokens settled in the window (kept as usage comes and goes: admission reads it for every request).
    private(set) var windowTokens: Int64 = 0
    /// Cost settled in the window.
    private(set) var windowCost: Money = .zero
    var held: Money = .zero
    var heldTokens: Int64 = 0
    var spent: Money
    var tokens: Int64
    /// Cost in the current UTC day, week and month.
    var periods: PeriodSpend
    /// Cost in the current hour: a budget period set on a live key starts on
    /// the hour, and this is what it has spent by then.
    var hour: (start: Date, spent: Money)
    /// Cost in the current budget period (`budget_usd` with `budget_duration`).
    var budgetPeriod: (start: Date, spent: Money)?
    /// Cost per model in the current periods, for model budgets.
    var models: ModelSpending
    /// The last usage reset applied here (milliseconds since 1970).
    var resetAt: Int64?

    struct Waiter: Sendable {
        var id: UInt64
        var key: KeyEntry
        var owner: Owner?
        var demand: KeyDemand
        var continuation: CheckedContinuation<Bool, Never>
    }

    init(baseline: KeyBaseline?) {
        spent = baseline?.spent ?? .zero
        tokens = baseline?.tokens ?? 0
        // The first advance zeroes whatever period has ended since the baseline was read.
        let day = baseline?.day ?? .distantPast
        periods = PeriodSpend(
            starts: day == .distantPast ? (day, day, day) : Periods.starts(of: day), day: baseline?.today ?? .zero,
            week: baseline?.week ?? .zero, month: baseline?.month ?? .zero)
        hour = (baseline?.hourStart ?? .distantPast, baseline?.hour ?? .zero)
        budgetPeriod = baseline?.budget.map { ($0.start, $0.spent) }
        models = ModelSpending(baseline?.models ?? [:])
        resetAt = baseline?.resetAt
    }

    /// Drops what left the window, rolls the hour, day, week, month and budget
    /// period over, and applies a usage reset made elsewhere.
    mutating func advance(_ policy: KeyPolicy, now: Date) {
        periods.advance(now)
        // Only a newer reset: a request still holding the key as it was before the reset must not apply an older one again.
        if let reset = policy.usageReset, reset.atMilliseconds > (resetAt ?? .min) { apply(reset) }
        let hourStart = Date(timeIntervalSince1970: (now.timeIntervalSince1970 / 3600).rounded(.down) * 3600)
        if hour.start != hourStart { hour = (hourStart, .zero) }
        if let period = policy.budgetPeriod(at: now) {
            // A period that began this hour has spent what the hour has; one that began earlier was seen begin.
            if budgetPeriod?.start != period.start { budgetPeriod = (period.start, hour.start >= period.start ? hour.spent : .zero) }
        } else {
            budgetPeriod = nil
        }
        let window = policy.rateLimit?.window ?? 0
        let start = now.addingTimeInterval(-window)
        requestTimes.drop { $0 <= start }
        // Taking from a sum that saturated would undercount: such a sum is added up again.
        let saturated = windowTokens == .max || windowCost == .max || windowCost.picos == .min
        windowUsage.drop(while: { $0.at <= start }) { left in
            windowTokens = windowTokens.saturatingSubtract(left.tokens)
            windowCost -= left.cost
        }
        if saturated || windowUsage.count == 0 {
            windowTokens = windowUsage.reduce(0) { $0.saturatingAdd($1.tokens) }
            windowCost = windowUsage.reduce(.zero) { $0 + $1.cost }
        }
    }

    /// Counts settled usage in the window.
    private mutating func addToWindow(at now: Date, tokens used: Int64, cost: Money) {
        windowUsage.append((now, used, cost))
        windowTokens = windowTokens.saturatingAdd(used)
        windowCost += cost
    }

    /// Why the request cannot run now, in admission order: window, slot, budgets.
    mutating func refusal(_ policy: KeyPolicy, demand: KeyDemand, now: Date) -> KeyRefusal? {
        advance(policy, now: now)
        if let rate = policy.rateLimit {
            if let cap = rate.requests, cap >= 1, requestTimes.count >= cap {
                return .rateLimited(until: requestTimes[requestTimes.count - cap].addingTimeInterval(rate.window), what: "requests")
            }
            if let cap = rate.tokens, windowTokens >= cap {
                return .rateLimited(until: windowUsage.first?.at.addingTimeInterval(rate.window) ?? now, what: "tokens")
            }
            if let cap = rate.cost, windowCost + held + demand.hold > cap {
                // Waiting helps only when something is already spent or held in the window.
                let until = windowUsage.first?.at.addingTimeInterval(rate.window) ?? now.addingTimeInterval(1)
                return .rateLimited(until: until, what: "cost")
            }
        }
        if let cap = policy.concurrency, inFlight >= cap { return .concurrency }
        if let limit = policy.tokenLimit, tokens.saturatingAdd(heldTokens).saturatingAdd(demand.tokens) > limit {
            return .quotaExhausted("token_limit")
        }
        if let daily = policy.dailyCost, periods.day + held + demand.hold > daily { return .quotaExhausted("daily_cost") }
        if let weekly = policy.weeklyCost, periods.week + held + demand.hold > weekly { return .quotaExhausted("weekly_cost") }
        if let monthly = policy.monthlyCost, periods.month + held + demand.hold > monthly { return .quotaExhausted("monthly_cost") }
        if let balance = policy.balance, spent + held + demand.hold > balance { return .quotaExhausted("balance") }
        if let budget = policy.budget, (budgetPeriod?.spent ?? spent) + held + demand.hold > budget { return .quotaExhausted("budget") }
        if let refusal = models.refusal(policy.modelBudgets, model: demand.model, hold: demand.hold, now: now, owner: "key") {
            return .modelBudget(refusal)
        }
        return nil
    }

    /// Starts the reset's parts again (once per reset).
    mutating func apply(_ reset: UsageReset) {
        resetAt = reset.atMilliseconds
        for part in reset.parts {
            switch part {
            case .window:
                requestTimes.removeAll()
                windowUsage.removeAll()
                (windowTokens, windowCost) = (0, .zero)
            case .daily: periods.day = .zero
            case .tokens: tokens = 0
            }
        }
    }

    /// Takes the slot, counts the request in the window, holds the money.
    mutating func commit(_ policy: KeyPolicy, demand: KeyDemand, now: Date) {
        inFlight += 1
        if policy.rateLimit != nil { requestTimes.append(now) }
        held += demand.hold
        heldTokens = heldTokens.saturatingAdd(demand.tokens)
        models.hold(demand.hold, model: demand.model, now: now)
    }

    /// Gives back the slot and holds, and charges the real cost.
    mutating func release(_ policy: KeyPolicy, _ demand: KeyDemand, cost: Money, tokens used: Int64, now: Date) {
        advance(policy, now: now)
        inFlight = max(0, inFlight - 1)
        held = max(.zero, held - demand.hold)  // never below zero: a negative hold would be credit
        heldTokens = max(0, heldTokens.saturatingAdd(-demand.tokens))
        spent += cost
        tokens = tokens.saturatingAdd(used)
        periods.add(cost, now: now)
        hour.spent += cost
        budgetPeriod?.spent += cost
        models.settle(cost, releasing: demand.hold, model: demand.model, now: now)
        if used > 0 || cost > .zero { addToWindow(at: now, tokens: used, cost: cost) }
    }

    /// The numbers admins and `/v1/usage` see.
    mutating func usage(_ policy: KeyPolicy, now: Date) -> KeyUsage {
        advance(policy, now: now)
        let window = policy.rateLimit?.window ?? 0
        let oldest = [requestTimes.first, windowUsage.first?.at].compactMap { $0 }.min()
        return KeyUsage(
            inFlight: inFlight, waiting: waiters.count, windowRequests: requestTimes.count,
            windowTokens: windowTokens, windowCost: windowCost,
            windowResetSeconds: oldest.map { RetryAfter.seconds(until: $0.addingTimeInterval(window), now: now) } ?? 0,
            today: periods.day, week: periods.week, month: periods.month, held: held, spent: spent, tokens: tokens,
            balanceRemaining: policy.balance.map { $0 - spent - held },
            budgetSpent: policy.budget == nil ? nil : budgetPeriod?.spent ?? spent,
            budgetResetsAt: policy.budgetPeriod(at: now)?.end, models: models.current(now: now))
    }
}
