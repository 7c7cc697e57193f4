import Foundation
import SwitchboardCore
import Synchronization

/// What a request asks of its key before it may run.
public struct KeyDemand: Sendable, Equatable {
    /// The most the request can cost (input estimate plus `max_tokens` at the
    /// output price), held against every money budget until it settles.
    public var hold: Money
    /// The most tokens it can use, held against the lifetime token limit.
    public var tokens: Int64

    public init(hold: Money, tokens: Int64) {
        self.hold = hold
        self.tokens = tokens
    }

    /// Nothing held: a request that costs nothing (counting tokens).
    public static let nothing = KeyDemand(hold: .zero, tokens: 0)
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
        var users: [Int64: UserState] = [:]
        var userBaselines: [Int64: UserBaseline] = [:]
        var nextWaiterID: UInt64 = 0
        var overrun: Money = .zero
    }

    /// The key as the current snapshot has it (nil once deleted): a slot freed
    /// by an older request goes to a waiter under today's limits, not the
    /// limits that request was admitted under.
    let currentKey: @Sendable (Int64) -> KeyEntry?

    /// Creates an empty limiter.
    public init(clock: any GatewayClock = SystemClock(), currentKey: @escaping @Sendable (Int64) -> KeyEntry? = { _ in nil }) {
        self.clock = clock
        self.currentKey = currentKey
    }

    /// What a key spent before this process started (from the ledger), taken the
    /// first time the key is seen.
    public func restore(_ baselines: [Int64: KeyBaseline], users: [Int64: UserBaseline] = [:]) {
        state.withLock {
            $0.baselines.merge(baselines) { _, new in new }
            $0.userBaselines.merge(users) { _, new in new }
        }
    }

    /// The outcome of an admission.
    public enum Admission: Sendable {
        case admitted(KeyLease)
        case refused(KeyRefusal)
    }

    /// Admits a request now, or queues it for a concurrency slot up to
    /// `waitTimeout` when the key allows a queue.
    public func admit(_ key: KeyEntry, owner: Owner? = nil, demand: KeyDemand, waitTimeout: Duration = .seconds(30)) async -> Admission {
        let first = decide(key, owner: owner, demand: demand)
        guard mayQueue(key, after: first) else { return first }
        return await wait(key, owner: owner, demand: demand, timeout: waitTimeout)
    }

    /// Whether a refusal is only a full set of slots on a key that allows a queue.
    public func mayQueue(_ key: KeyEntry, after admission: Admission) -> Bool {
        guard case .refused(.concurrency) = admission else { return false }
        return (key.policy.maxWaiting ?? 0) > 0
    }

    /// Queues for a slot, up to `timeout`.
    public func wait(_ key: KeyEntry, owner: Owner? = nil, demand: KeyDemand, timeout: Duration) async -> Admission {
        return await clock.withTimeout(timeout) { await self.queue(key, owner: owner, demand: demand) }
            ?? .refused(.concurrency)
    }

    /// Whether the key (and its owner) could take a request costing nothing now,
    /// without taking anything: for requests that use no slot and no money.
    public func check(_ key: KeyEntry, owner: Owner?) -> KeyRefusal? {
        let now = clock.now()
        return state.withLock { limiter in
            var current = limiter.key(key.id)
            defer { limiter.keys[key.id] = current }
            var relaxed = key.policy
            relaxed.concurrency = nil  // no slot is taken
            let smallest = KeyDemand(hold: Money(picos: 1), tokens: 0)
            if let refusal = current.refusal(relaxed, demand: smallest, now: now) { return refusal }
            guard let owner else { return nil }
            var user = limiter.user(owner.user.id, now: now)
            defer { limiter.users[owner.user.id] = user }
            return user.refusal(owner, hold: smallest.hold, now: now)
        }
    }

    /// Checks every limit and, when all pass, takes the slot, the window entry
    /// and the holds in the same step; never waits.
    public func decide(_ key: KeyEntry, owner: Owner? = nil, demand: KeyDemand) -> Admission {
        let now = clock.now()
        let refusal = state.withLock { $0.tryCommit(key, owner: owner, demand: demand, now: now) }
        if let refusal { return .refused(refusal) }
        return .admitted(KeyLease(key: key, owner: owner, demand: demand, limiter: self))
    }

    /// Waits in the key's queue; a settling request hands its slot over (true),
    /// or wakes the waiter to decide for itself when something else blocks it.
    private func queue(_ key: KeyEntry, owner: Owner?, demand: KeyDemand) async -> Admission? {
        let id = state.withLock { limiter -> UInt64 in
            limiter.nextWaiterID += 1
            return limiter.nextWaiterID
        }
        let granted = await QueuedWait.park(
            enqueue: { continuation in
                let now = clock.now()
                return state.withLock { limiter -> Bool? in
                    if Task.isCancelled { return false }
                    switch limiter.tryCommit(key, owner: owner, demand: demand, now: now) {
                    case nil:
                        return true
                    case .concurrency? where (limiter.keys[key.id]?.waiters.count ?? 0) < (key.policy.maxWaiting ?? 0):
                        limiter.keys[key.id]!.waiters.append(.init(id: id, owner: owner, demand: demand, continuation: continuation))
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
        if granted { return .admitted(KeyLease(key: key, owner: owner, demand: demand, limiter: self)) }
        if Task.isCancelled { return nil }
        let latest = currentKey(key.id) ?? key
        guard latest.enabled else { return .refused(.concurrency) }  // disabled or revoked while waiting
        return decide(latest, owner: owner, demand: demand)
    }

    /// Ends a request: releases its slot and holds, charges what it really cost,
    /// and hands the slot to the next queued request that fits.
    func settle(_ key: KeyEntry, owner: Owner?, demand: KeyDemand, cost: Money, tokens: Int64) {
        let now = clock.now()
        let latest = currentKey(key.id)
        let wake: [(CheckedContinuation<Bool, Never>, Bool)] = state.withLock { limiter in
            var current = limiter.key(key.id)
            current.release(demand, cost: cost, tokens: tokens, now: now)
            limiter.keys[key.id] = current
            if let owner {
                var user = limiter.user(owner.user.id, now: now)
                user.charge(cost, releasing: demand.hold, now: now)
                limiter.users[owner.user.id] = user
            }
            if cost > demand.hold, key.policy.meters || owner?.meters == true { limiter.overrun += cost - demand.hold }
            var wake: [(CheckedContinuation<Bool, Never>, Bool)] = []
            let policyKey = latest ?? key
            queue: while let waiter = limiter.keys[key.id]?.waiters.first {
                guard policyKey.enabled else {
                    wake.append((limiter.keys[key.id]!.waiters.removeFirst().continuation, false))
                    continue
                }
                switch limiter.tryCommit(policyKey, owner: waiter.owner, demand: waiter.demand, now: now) {
                case nil:
                    wake.append((limiter.keys[key.id]!.waiters.removeFirst().continuation, true))
                case .concurrency?:
                    break queue
                default:
                    // A budget or the window blocks it: it decides again and hears why.
                    wake.append((limiter.keys[key.id]!.waiters.removeFirst().continuation, false))
                }
            }
            return wake
        }
        for (continuation, granted) in wake { continuation.resume(returning: granted) }
    }

    /// Leases dropped without being settled (each one a bug in the code that held it).
    public var droppedLeases: Int { dropped.load(ordering: .relaxed) }
    private let dropped = Atomic<Int>(0)

    func countDroppedLease() { dropped.add(1, ordering: .relaxed) }

    /// Money charged beyond what was held (the estimate was too low).
    public var overrun: Money { state.withLock { $0.overrun } }

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

    /// What remains of a user's tightest budget (user balance or subscription
    /// window), nil when none is set.
    public func remaining(of owner: Owner) -> Money? {
        let now = clock.now()
        return state.withLock { limiter in
            var user = limiter.user(owner.user.id, now: now)
            user.periods.advance(now)
            limiter.users[owner.user.id] = user
            return user.remaining(owner)
        }
    }
}

/// A key's spending before this process started.
public struct KeyBaseline: Sendable, Equatable {
    public var spent: Money
    public var tokens: Int64
    /// Today's cost (UTC) so far.
    public var today: Money
    /// The start of the UTC day `today` belongs to (its week and month are this day's).
    public var day: Date
    /// This ISO week's and this month's cost so far.
    public var week: Money
    public var month: Money

    public init(spent: Money, tokens: Int64, today: Money, day: Date, week: Money = .zero, month: Money = .zero) {
        self.spent = spent
        self.tokens = tokens
        self.today = today
        self.day = day
        self.week = week
        self.month = month
    }
}

/// A key's live numbers.
public struct KeyUsage: Sendable, Equatable {
    public var inFlight: Int
    public var waiting: Int
    public var windowRequests: Int
    public var windowTokens: Int64
    public var windowCost: Money
    /// Seconds until the oldest entry leaves the window (0 when empty).
    public var windowResetSeconds: Int
    public var today: Money
    /// This ISO week's and this month's cost (UTC).
    public var week: Money
    public var month: Money
    public var held: Money
    public var spent: Money
    public var tokens: Int64
    /// What the balance still covers (balance − spent − held); nil without a balance.
    public var balanceRemaining: Money?
}

extension KeyLimiter.LimiterState {
    mutating func key(_ id: Int64) -> KeyState {
        if let existing = keys[id] { return existing }
        return KeyState(baseline: baselines.removeValue(forKey: id))
    }

    mutating func user(_ id: Int64, now: Date) -> UserState {
        if let existing = users[id] { return existing }
        return UserState(baseline: userBaselines.removeValue(forKey: id), now: now)
    }

    /// The whole admission in one step: the key's window, slot and budgets, then
    /// its owner's balance and subscription; commits all or nothing.
    mutating func tryCommit(_ key: KeyEntry, owner: Owner?, demand: KeyDemand, now: Date) -> KeyRefusal? {
        var current = self.key(key.id)
        defer { keys[key.id] = current }
        if let refusal = current.refusal(key.policy, demand: demand, now: now) { return refusal }
        if let owner {
            var user = self.user(owner.user.id, now: now)
            defer { users[owner.user.id] = user }
            if let refusal = user.refusal(owner, hold: demand.hold, now: now) { return refusal }
            user.held += demand.hold
        }
        current.commit(key.policy, demand: demand, now: now)
        return nil
    }
}
