import Foundation

/// One key's live counters in this process. Only `KeyLimiter` touches it,
/// under its lock.
struct KeyState: Sendable {
    var inFlight = 0
    var waiters: [Waiter] = []
    /// Start times of the requests in the window, oldest first (exact request counting).
    var requestTimes: [Date] = []
    /// Settled usage in the window: when, tokens, cost.
    var windowUsage: [(at: Date, tokens: Int64, cost: Int64)] = []
    var heldPicos: Int64 = 0
    var heldTokens: Int64 = 0
    var spentPicos: Int64
    var tokens: Int64
    /// The UTC day `dayPicos` counts.
    var day: Date
    var dayPicos: Int64

    struct Waiter: Sendable {
        var id: UInt64
        var owner: Owner?
        var demand: KeyDemand
        var continuation: CheckedContinuation<Bool, Never>
    }

    init(baseline: KeyBaseline?) {
        spentPicos = baseline?.spentPicos ?? 0
        tokens = baseline?.tokens ?? 0
        day = baseline?.day ?? .distantPast
        dayPicos = baseline?.todayPicos ?? 0
    }

    /// Starts a new day's count when `now` is past the current one.
    mutating func rollDay(_ now: Date) {
        let today = Periods.dayStart(of: now)
        if today != day {
            day = today
            dayPicos = 0
        }
    }

    /// Drops what left the window, and rolls the day over.
    mutating func advance(_ policy: KeyPolicy, now: Date) {
        rollDay(now)
        let window = policy.rateLimit?.window ?? 0
        let start = now.addingTimeInterval(-window)
        if let first = requestTimes.firstIndex(where: { $0 > start }) { requestTimes.removeFirst(first) } else { requestTimes = [] }
        if let first = windowUsage.firstIndex(where: { $0.at > start }) { windowUsage.removeFirst(first) } else { windowUsage = [] }
    }

    /// Why the request cannot run now, in admission order: window, slot, budgets.
    mutating func refusal(_ policy: KeyPolicy, demand: KeyDemand, now: Date) -> KeyRefusal? {
        advance(policy, now: now)
        if let rate = policy.rateLimit {
            if let cap = rate.requests, requestTimes.count >= cap {
                return .rateLimited(until: requestTimes[requestTimes.count - cap].addingTimeInterval(rate.window), what: "requests")
            }
            if let cap = rate.tokens, windowUsage.reduce(0, { $0 + $1.tokens }) >= cap {
                return .rateLimited(until: windowUsage.first?.at.addingTimeInterval(rate.window) ?? now, what: "tokens")
            }
            if let cap = rate.costPicos, windowUsage.reduce(0, { $0 + $1.cost }) + heldPicos + demand.holdPicos > cap {
                // Waiting helps only when something is already spent or held in the window.
                let until = windowUsage.first?.at.addingTimeInterval(rate.window) ?? now.addingTimeInterval(1)
                return .rateLimited(until: until, what: "cost")
            }
        }
        if let cap = policy.concurrency, inFlight >= cap { return .concurrency }
        if let limit = policy.tokenLimit, tokens + heldTokens + demand.holdTokens > limit { return .quotaExhausted("token_limit") }
        if let daily = policy.dailyCostPicos, dayPicos + heldPicos + demand.holdPicos > daily { return .quotaExhausted("daily_cost") }
        if let balance = policy.balancePicos, spentPicos + heldPicos + demand.holdPicos > balance { return .quotaExhausted("balance") }
        return nil
    }

    /// Takes the slot, counts the request in the window, holds the money.
    mutating func commit(_ policy: KeyPolicy, demand: KeyDemand, now: Date) {
        inFlight += 1
        if policy.rateLimit != nil { requestTimes.append(now) }
        heldPicos += demand.holdPicos
        heldTokens += demand.holdTokens
    }

    /// Gives back the slot and holds, and charges the real cost.
    mutating func release(_ demand: KeyDemand, cost: Int64, tokens used: Int64, now: Date) {
        inFlight = max(0, inFlight - 1)
        heldPicos -= demand.holdPicos
        heldTokens -= demand.holdTokens
        spentPicos += cost
        tokens += used
        rollDay(now)
        dayPicos += cost
        if used > 0 || cost > 0 { windowUsage.append((now, used, cost)) }
    }

    /// The numbers admins and `/v1/usage` see.
    mutating func usage(_ policy: KeyPolicy, now: Date) -> KeyUsage {
        advance(policy, now: now)
        let window = policy.rateLimit?.window ?? 0
        let oldest = [requestTimes.first, windowUsage.first?.at].compactMap { $0 }.min()
        return KeyUsage(
            inFlight: inFlight, waiting: waiters.count, windowRequests: requestTimes.count,
            windowTokens: windowUsage.reduce(0) { $0 + $1.tokens }, windowCostPicos: windowUsage.reduce(0) { $0 + $1.cost },
            windowResetSeconds: oldest.map { max(0, Int($0.addingTimeInterval(window).timeIntervalSince(now).rounded(.up))) } ?? 0,
            todayCostPicos: dayPicos, heldPicos: heldPicos, spentPicos: spentPicos, tokens: tokens,
            balanceRemainingPicos: policy.balancePicos.map { $0 - spentPicos - heldPicos })
    }
}
