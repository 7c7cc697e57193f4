#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One account's live state in this process: load, windows, cooldown, health.
/// Only `AccountPool` touches it, under its lock.
struct AccountState: Sendable {
    /// The account's enable generation last seen; a newer one (an admin enabled
    /// it) clears cooldown and health marks.
    var generation: Int64
    var inFlight = 0
    var waiters: [Waiter] = []
    var window = SecondBuckets()
    var requestTimes = RequestTimes()
    var cooldownUntil: Date?
    var cooldownCause: CooldownCause?
    /// A cooldown for token-counting calls only (their rate limits are the provider's own), and why.
    var countCooldownUntil: Date?
    var countCooldownCause: CooldownCause?
    /// 429s without a hint in a row; lengthens the next cooldown.
    var rateLimitStreak = 0
    var transientTimes: [Date] = []
    /// Why the upstream refused the account's credentials, until an admin or a probe clears it.
    var unhealthy: String?
    var lastUsed: Date?
    var lastError: String?
    var lastErrorAt: Date?
    /// When the upstream last answered 429 (any lane).
    var lastRateLimitedAt: Date?
    var totalRequests: Int64 = 0
    var totalTokens: Int64 = 0
    /// Stride scheduling among accounts of equal priority: each grant moves the
    /// account on by 1 / weight, and the one furthest behind goes next. Nil until
    /// first ranked (then it starts level with the others, not behind them all).
    var pass: Double?
    var totalFailures: Int64 = 0

    /// A request queued for a slot; resumed with true when given one.
    struct Waiter: Sendable {
        var id: UInt64
        var continuation: CheckedContinuation<Bool, Never>
    }

    init(generation: Int64) { self.generation = generation }

    /// Forgets cooldowns, failure counts and health marks.
    mutating func clearTrouble() {
        cooldownUntil = nil
        cooldownCause = nil
        countCooldownUntil = nil
        rateLimitStreak = 0
        transientTimes = []
        unhealthy = nil
    }

    /// Why the account cannot take a request of `lane` now, or nil when it can.
    /// Counting calls skip only their own cooldown and one after transient
    /// failures; generations skip every cooldown but the counting one.
    mutating func skipReason(_ account: AccountEntry, now: Date, lane: AccountLane = .generation) -> SkipReason? {
        if !account.enabled { return .disabled }
        if let reason = account.unusableReason ?? unhealthy { return .unhealthy(reason) }
        if let until = cooldownUntil {
            if until > now {
                let cause = cooldownCause ?? .rateLimited
                // A wrong base URL or model (404) is as wrong for counting as for generating.
                if lane == .generation || cause == .transientFailures || cause == .notFound { return .coolingDown(until: until, cause: cause) }
            } else {
                cooldownUntil = nil
                cooldownCause = nil
            }
        }
        if lane == .counting, let until = countCooldownUntil {
            if until > now { return .coolingDown(until: until, cause: countCooldownCause ?? .rateLimited) }
            countCooldownUntil = nil
        }
        let limits = account.limits
        if let cap = limits.maxRPM {
            requestTimes.prune(now)
            if requestTimes.count >= cap { return .requestCap(until: requestTimes.oldestLeavesAt ?? now) }
        }
        if let cap = limits.maxTPM, window.totals(at: now).tokens >= Int64(cap) {
            return .tokenCap(until: window.tokensFreeAt(now))
        }
        if let cap = limits.maxConcurrency, inFlight >= cap {
            return .full(canWait: waiters.count < limits.maxWaiting)
        }
        return nil
    }

    /// Takes a slot for a request starting now.
    mutating func grant(_ account: AccountEntry, now: Date) {
        inFlight += 1
        if account.limits.maxRPM != nil { requestTimes.append(now) }
        window.addRequest(at: now)
        lastUsed = now
        totalRequests += 1
        pass = (pass ?? 0) + 1 / Double(max(1, account.weight))
    }

    /// Starts or extends a cooldown; a shorter one never cuts a longer one short.
    mutating func coolDown(for duration: Duration, cause: CooldownCause, now: Date) {
        let until = now.addingTimeInterval(max(1, duration.seconds))
        if let current = cooldownUntil, current >= until { return }
        cooldownUntil = until
        cooldownCause = cause
    }
}

extension Duration {
    /// The duration in seconds, fractional.
    var seconds: TimeInterval {
        let (whole, attos) = components
        return Double(whole) + Double(attos) / 1e18
    }
}

/// What an account is asked for: generations, or token counting, whose rate
/// limits and cooldowns are kept apart.
public enum AccountLane: Sendable, Equatable {
    case generation
    case counting
}
