import Foundation
import Synchronization
import SwitchboardCore

/// What a request asks of its key before it may run.
public struct KeyDemand: Sendable, Equatable {
    /// The most the request can cost (input estimate plus `max_tokens` at the
    /// output price), held against every money budget until it settles.
    public var holdPicos: Int64
    /// The most tokens it can use, held against the lifetime token limit.
    public var holdTokens: Int64

    public init(holdPicos: Int64, holdTokens: Int64) {
        self.holdPicos = holdPicos
        self.holdTokens = holdTokens
    }
}

/// Why a key may not run a request now.
public enum KeyRefusal: Sendable, Equatable {
    /// The window's request, token or cost cap is reached; room at the given time.
    case rateLimited(until: Date, what: String)
    /// Every concurrency slot is taken and the queue is full (or the wait ran out).
    case concurrency
    /// A budget cannot cover the request's hold: `balance`, `daily_cost` or `token_limit`.
    case quotaExhausted(String)
}

/// Where a key's window stands, for rate-limit headers and usage reports.
public struct KeyWindowStatus: Sendable, Equatable {
    public var requestLimit: Int?
    public var requestsRemaining: Int?
    public var tokenLimit: Int64?
    public var tokensRemaining: Int64?
    /// When the oldest request or token in the window leaves it.
    public var resetsAt: Date
}

/// The live side of downstream keys: slots, windows and money holds, decided
/// atomically per request so limits hold exactly under concurrency. A refused
/// request changes nothing. It decides; the engine acts (admit, wait, refuse).
///
/// Shaped for a shared store later: the state per key is a handful of counters
/// (in flight, window entries, held, spent) that a database row can carry with
/// the same compare-and-add admission.
public final class KeyLimiter: Sendable {
    /// The clock windows and days follow.
    public let clock: any GatewayClock
    private let state = Mutex(LimiterState())

    struct LimiterState: Sendable {
        var keys: [Int64: KeyState] = [:]
        var baselines: [Int64: KeyBaseline] = [:]
        var nextWaiterID: UInt64 = 0
        var overrunPicos: Int64 = 0
    }

    /// Creates an empty limiter.
    public init(clock: any GatewayClock = SystemClock()) { self.clock = clock }

    /// What a key spent before this process started (from the ledger), taken the
    /// first time the key is seen.
    public func restore(_ baselines: [Int64: KeyBaseline]) {
        state.withLock { $0.baselines.merge(baselines) { _, new in new } }
    }

    /// The outcome of an admission.
    public enum Admission: Sendable {
        case admitted(KeyLease)
        case refused(KeyRefusal)
    }

    /// Admits a request now, or queues it for a concurrency slot up to
    /// `waitTimeout` when the key allows a queue.
    public func admit(_ key: KeyEntry, demand: KeyDemand, waitTimeout: Duration = .seconds(30)) async -> Admission {
        let first = decide(key, demand: demand)
        guard mayQueue(key, after: first) else { return first }
        return await wait(key, demand: demand, timeout: waitTimeout)
    }

    /// Whether a refusal is only a full set of slots on a key that allows a queue.
    public func mayQueue(_ key: KeyEntry, after admission: Admission) -> Bool {
        guard case .refused(.concurrency) = admission else { return false }
        return (key.policy.maxWaiting ?? 0) > 0
    }

    /// Queues for a slot, up to `timeout`.
    public func wait(_ key: KeyEntry, demand: KeyDemand, timeout: Duration) async -> Admission {
        let late: @Sendable (Admission) -> Void = { if case .admitted(let lease) = $0 { lease.settle(cost: 0, tokens: 0) } }
        return await TimedWait.run(timeout: timeout, discard: late) { await self.queue(key, demand: demand) }
            ?? .refused(.concurrency)
    }

    /// Checks every limit and, when all pass, takes the slot, the window entry
    /// and the holds in the same step; never waits.
    public func decide(_ key: KeyEntry, demand: KeyDemand) -> Admission {
        let now = clock.now()
        let refusal: KeyRefusal? = state.withLock { limiter in
            var current = limiter.key(key.id)
            defer { limiter.keys[key.id] = current }
            if let refusal = current.refusal(key.policy, demand: demand, now: now) { return refusal }
            current.commit(key.policy, demand: demand, now: now)
            return nil
        }
        if let refusal { return .refused(refusal) }
        return .admitted(KeyLease(key: key, demand: demand, limiter: self))
    }

    /// Waits in the key's queue; a settling request hands its slot over (true),
    /// or wakes the waiter to decide for itself when something else blocks it.
    private func queue(_ key: KeyEntry, demand: KeyDemand) async -> Admission? {
        let id = state.withLock { limiter -> UInt64 in
            limiter.nextWaiterID += 1
            return limiter.nextWaiterID
        }
        let granted = await QueuedWait.park(
            enqueue: { continuation in
                let now = clock.now()
                return state.withLock { limiter -> Bool? in
                    if Task.isCancelled { return false }
                    var current = limiter.key(key.id)
                    defer { limiter.keys[key.id] = current }
                    switch current.refusal(key.policy, demand: demand, now: now) {
                    case nil:
                        current.commit(key.policy, demand: demand, now: now)
                        return true
                    case .concurrency? where current.waiters.count < (key.policy.maxWaiting ?? 0):
                        current.waiters.append(.init(id: id, demand: demand, continuation: continuation))
                        return nil
                    default:
                        return false
                    }
                }
            },
            dequeue: {
                state.withLock { limiter -> CheckedContinuation<Bool, Never>? in
                    guard let index = limiter.keys[key.id]?.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                    return limiter.keys[key.id]!.waiters.remove(at: index).continuation
                }
            })
        if granted { return .admitted(KeyLease(key: key, demand: demand, limiter: self)) }
        if Task.isCancelled { return nil }
        return decide(key, demand: demand)
    }

    /// Ends a request: releases its slot and holds, charges what it really cost,
    /// and hands the slot to the next queued request that fits.
    func settle(_ key: KeyEntry, demand: KeyDemand, cost: Int64, tokens: Int64) {
        let now = clock.now()
        let wake: [(CheckedContinuation<Bool, Never>, Bool)] = state.withLock { limiter in
            var current = limiter.key(key.id)
            current.release(demand, cost: cost, tokens: tokens, now: now)
            if cost > demand.holdPicos, key.policy.meters { limiter.overrunPicos += cost - demand.holdPicos }
            var wake: [(CheckedContinuation<Bool, Never>, Bool)] = []
            queue: while let waiter = current.waiters.first {
                switch current.refusal(key.policy, demand: waiter.demand, now: now) {
                case nil:
                    current.commit(key.policy, demand: waiter.demand, now: now)
                    wake.append((current.waiters.removeFirst().continuation, true))
                case .concurrency?:
                    break queue
                default:
                    // A budget or the window blocks it: it decides again and hears why.
                    wake.append((current.waiters.removeFirst().continuation, false))
                }
            }
            limiter.keys[key.id] = current
            return wake
        }
        for (continuation, granted) in wake { continuation.resume(returning: granted) }
    }

    /// Money charged beyond what was held (the estimate was too low), in picodollars.
    public var overrunPicos: Int64 { state.withLock { $0.overrunPicos } }

    /// A key's live numbers, for admins and usage reports.
    public func usage(of key: KeyEntry) -> KeyUsage {
        let now = clock.now()
        return state.withLock { limiter in
            var current = limiter.key(key.id)
            let usage = current.usage(key.policy, now: now)
            limiter.keys[key.id] = current
            return usage
        }
    }
}

/// A key's spending before this process started.
public struct KeyBaseline: Sendable, Equatable {
    public var spentPicos: Int64
    public var tokens: Int64
    /// Today's cost (UTC) so far.
    public var todayPicos: Int64
    /// The UTC day `todayPicos` belongs to (days since 1970).
    public var day: Int

    public init(spentPicos: Int64, tokens: Int64, todayPicos: Int64, day: Int) {
        self.spentPicos = spentPicos
        self.tokens = tokens
        self.todayPicos = todayPicos
        self.day = day
    }
}

/// A key's live numbers.
public struct KeyUsage: Sendable, Equatable, Codable {
    public var inFlight: Int
    public var waiting: Int
    public var windowRequests: Int
    public var windowTokens: Int64
    public var windowCostPicos: Int64
    /// Seconds until the oldest entry leaves the window (0 when empty).
    public var windowResetSeconds: Int
    public var todayCostPicos: Int64
    public var heldPicos: Int64
    public var spentPicos: Int64
    public var tokens: Int64
    /// What the balance still covers (balance − spent − held); nil without a balance.
    public var balanceRemainingPicos: Int64?
}

extension KeyLimiter.LimiterState {
    mutating func key(_ id: Int64) -> KeyState {
        if let existing = keys[id] { return existing }
        return KeyState(baseline: baselines.removeValue(forKey: id))
    }
}
