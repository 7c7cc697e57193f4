import SwitchboardCore
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What a request asks of its key before it may run.
public struct KeyDemand: Sendable, Equatable {
    /// The most the request can cost (input estimate plus `max_tokens` at the
    /// output price), held against every money budget until it settles.
    public var hold: Money
    /// The most tokens it can use, held against the lifetime token limit.
    public var tokens: Int64
    /// The model the client asked for, whose model budgets the hold counts against.
    public var model: String

    public init(hold: Money, tokens: Int64, model: String = "") {
        self.hold = hold
        self.tokens = tokens
        self.model = model
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
    /// A model budget of the key or its user cannot cover the request's hold.
    case modelBudget(ModelBudgetRefusal)
    /// The key's user has every concurrency slot taken (and its queue is full).
    case userConcurrency
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
    /// A user and its group as the current snapshot has them (by the user's id):
    /// the user's queue admits under today's limits too.
    let currentOwner: @Sendable (Int64) -> Owner?

    /// Creates an empty limiter.
    public init(
        clock: any GatewayClock = SystemClock(), currentKey: @escaping @Sendable (Int64) -> KeyEntry? = { _ in nil },
        currentOwner: @escaping @Sendable (Int64) -> Owner? = { _ in nil }
    ) {
        self.clock = clock
        self.currentKey = currentKey
        self.currentOwner = currentOwner
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
    /// `waitTimeout` when the key (or its user) allows a queue.
    public func admit(_ key: KeyEntry, owner: Owner? = nil, demand: KeyDemand, waitTimeout: Duration = .seconds(30)) async -> Admission {
        let first = decide(key, owner: owner, demand: demand)
        guard mayQueue(key, owner: owner, after: first) else { return first }
        return await wait(key, owner: owner, demand: demand, timeout: waitTimeout)
    }

    /// Whether a refusal is only a full set of slots, of a key or user that allows a queue.
    public func mayQueue(_ key: KeyEntry, owner: Owner?, after admission: Admission) -> Bool {
        guard case .refused(let refusal) = admission else { return false }
        return Self.queueRoom(refusal, key: key, owner: owner) > 0
    }

    /// How many may queue behind the slots that refused: the key's `max_waiting`
    /// for its own slots, the user's for the user's; none for anything else.
    static func queueRoom(_ refusal: KeyRefusal, key: KeyEntry, owner: Owner?) -> Int {
        switch refusal {
        case .concurrency: return key.policy.maxWaiting ?? 0
        case .userConcurrency: return owner?.user.limits.maxWaiting ?? 0
        default: return 0
        }
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

    /// Waits in the key's queue (or its user's, for the user's slots); a
    /// settling request hands its slot over (true), or wakes the waiter to
    /// queue again or hear why it is refused when something else blocks it.
    private func queue(_ key: KeyEntry, owner: Owner?, demand: KeyDemand) async -> Admission? {
        var key = key
        while true {
            let id = state.withLock { limiter -> UInt64 in
                limiter.nextWaiterID += 1
                return limiter.nextWaiterID
            }
            let waiting = key
            var refusal: KeyRefusal?
            let granted = await QueuedWait.park(
                enqueue: { continuation in
                    let now = clock.now()
                    return state.withLock { limiter -> Bool? in
                        if Task.isCancelled { return false }
                        guard let refused = limiter.tryCommit(waiting, owner: owner, demand: demand, now: now) else { return true }
                        let waiter = KeyState.Waiter(id: id, key: waiting, owner: owner, demand: demand, continuation: continuation)
                        if limiter.enqueue(waiter, refused: refused) { return nil }
                        refusal = refused
                        return false
                    }
                },
                dequeue: {
                    state.withLock { $0.dequeue(id, key: waiting.id, user: owner?.user.id) }
                })
            if granted { return .admitted(KeyLease(key: key, owner: owner, demand: demand, limiter: self)) }
            if Task.isCancelled { return nil }
            if let refusal { return .refused(refusal) }
            key = currentKey(key.id) ?? key
            guard key.enabled else { return .refused(.concurrency) }  // disabled or revoked while waiting
        }
    }

    /// Ends a request: releases its slot and holds, charges what it really cost,
    /// and hands the freed slots (the key's, the user's) to queued requests that fit.
    func settle(_ key: KeyEntry, owner: Owner?, demand: KeyDemand, cost: Money, tokens: Int64) {
        let now = clock.now()
        let latest = currentKey(key.id)
        let wake: [(CheckedContinuation<Bool, Never>, Bool)] = state.withLock { limiter in
            var current = limiter.key(key.id)
            current.release((latest ?? key).policy, demand, cost: cost, tokens: tokens, now: now)
            limiter.keys[key.id] = current
            if let owner {
                var user = limiter.user(owner.user.id, now: now)
                user.release(demand, cost: cost, now: now)
                limiter.users[owner.user.id] = user
            }
            if cost > demand.hold, key.policy.meters || owner?.meters == true { limiter.overrun += cost - demand.hold }
            var wake = limiter.handOver(.key(key.id), slot: .concurrency, now: now, currentKey: currentKey, currentOwner: currentOwner)
            if let owner {
                wake += limiter.handOver(.user(owner.user.id), slot: .userConcurrency, now: now, currentKey: currentKey, currentOwner: currentOwner)
            }
            return wake
        }
        for (continuation, granted) in wake { continuation.resume(returning: granted) }
    }

    /// Starts a key's usage again (`reset_usage`) in the same step that reads
    /// what it had counted, and returns the reset to store: the stored one tells
    /// a restart (and any other process) where its counters start.
    public func resetUsage(_ key: KeyEntry, parts: Set<UsagePart>) -> UsageReset {
        let now = clock.now()
        return state.withLock { limiter in
            var current = limiter.key(key.id)
            current.advance(key.policy, now: now)
            let reset = UsageReset.next(
                after: key.policy.usageReset, parts: parts, at: now, tokens: current.tokens, day: current.periods.day,
                dayStart: current.periods.starts.day)
            current.apply(reset)
            limiter.keys[key.id] = current
            return reset
        }
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

    /// A user's requests in flight across its keys, and those queued for its slots.
    public func slots(of user: UserEntry) -> (inFlight: Int, waiting: Int) {
        state.withLock { limiter in
            guard let state = limiter.users[user.id] else { return (0, 0) }
            return (state.inFlight, state.waiters.count)
        }
    }

    /// A user's cost per model in the current day, week and month (for model budget alerts).
    public func models(of user: UserEntry) -> [String: PeriodTotals] {
        let now = clock.now()
        return state.withLock { limiter in
            guard var state = limiter.users[user.id] else { return [:] }
            let models = state.models.current(now: now)
            limiter.users[user.id] = state
            return models
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

    /// The current hour's cost, and the hour.
    public var hour: Money = .zero
    public var hourStart: Date = .distantPast
    /// The current budget period's start and cost, for a key with `budget_duration`.
    public var budget: (start: Date, spent: Money)?
    /// Each model's cost in the current day, week and month.
    public var models: [String: PeriodTotals] = [:]
    /// The usage reset these numbers already account for.
    public var resetAt: Int64?

    public init(spent: Money, tokens: Int64, today: Money, day: Date, week: Money = .zero, month: Money = .zero) {
        self.spent = spent
        self.tokens = tokens
        self.today = today
        self.day = day
        self.week = week
        self.month = month
    }

    public static func == (a: KeyBaseline, b: KeyBaseline) -> Bool {
        a.spent == b.spent && a.tokens == b.tokens && a.today == b.today && a.day == b.day && a.week == b.week && a.month == b.month
            && a.hour == b.hour && a.hourStart == b.hourStart && a.budget?.start == b.budget?.start && a.budget?.spent == b.budget?.spent
            && a.models == b.models && a.resetAt == b.resetAt
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
    /// What the budget period has spent (`budget_usd`), nil without a budget.
    public var budgetSpent: Money?
    /// When the budget period ends, for a budget with a duration.
    public var budgetResetsAt: Date?
    /// Each model's cost in the current day, week and month.
    public var models: [String: PeriodTotals] = [:]
}

extension KeyLimiter.LimiterState {
    /// A key's state, taken out of the table: every caller puts it back
    /// (`keys[id] = state`) when done. Taken, not copied, so its lists are not
    /// shared with the table's copy: appending to a shared list copied all of
    /// it, a busy key's whole rate-limit window on every request.
    mutating func key(_ id: Int64) -> KeyState {
        keys.removeValue(forKey: id) ?? KeyState(baseline: baselines.removeValue(forKey: id))
    }

    /// A user's state, taken out of the table as `key(_:)` takes a key's.
    mutating func user(_ id: Int64, now: Date) -> UserState {
        users.removeValue(forKey: id) ?? UserState(baseline: userBaselines.removeValue(forKey: id), now: now)
    }

    /// The whole admission in one step: the key's window, slot and budgets, then
    /// its owner's slot, balance, subscription and model budgets; commits all or nothing.
    mutating func tryCommit(_ key: KeyEntry, owner: Owner?, demand: KeyDemand, now: Date) -> KeyRefusal? {
        var current = self.key(key.id)
        defer { keys[key.id] = current }
        if let refusal = current.refusal(key.policy, demand: demand, now: now) { return refusal }
        if let owner {
            var user = self.user(owner.user.id, now: now)
            defer { users[owner.user.id] = user }
            if let refusal = user.refusal(owner, demand: demand, now: now) { return refusal }
            user.commit(demand, now: now)
        }
        current.commit(key.policy, demand: demand, now: now)
        return nil
    }

    /// Queues a waiter behind the slots that refused it, when their queue has room.
    mutating func enqueue(_ waiter: KeyState.Waiter, refused: KeyRefusal) -> Bool {
        let room = KeyLimiter.queueRoom(refused, key: waiter.key, owner: waiter.owner)
        switch refused {
        case .concurrency where (keys[waiter.key.id]?.waiters.count ?? 0) < room:
            keys[waiter.key.id]!.waiters.append(waiter)
        case .userConcurrency where (waiter.owner.flatMap { users[$0.user.id] }?.waiters.count ?? 0) < room:
            users[waiter.owner!.user.id]!.waiters.append(waiter)
        default:
            return false
        }
        return true
    }

    /// Takes a waiter out of whichever queue holds it (cancelled or timed out).
    mutating func dequeue(_ id: UInt64, key: Int64, user: Int64?) -> CheckedContinuation<Bool, Never>? {
        if let index = keys[key]?.waiters.firstIndex(where: { $0.id == id }) { return keys[key]!.waiters.remove(at: index).continuation }
        if let user, let index = users[user]?.waiters.firstIndex(where: { $0.id == id }) {
            return users[user]!.waiters.remove(at: index).continuation
        }
        return nil
    }

    /// Admits the queue's waiters in order while the freed slot lets them in:
    /// each admitted is woken granted; one blocked by anything but this queue's
    /// slot is woken to queue again elsewhere or hear why it is refused.
    mutating func handOver(
        _ queue: Queue, slot: KeyRefusal, now: Date, currentKey: (Int64) -> KeyEntry?, currentOwner: (Int64) -> Owner?
    ) -> [(CheckedContinuation<Bool, Never>, Bool)] {
        var wake: [(CheckedContinuation<Bool, Never>, Bool)] = []
        while let waiter = firstWaiter(queue) {
            let key = currentKey(waiter.key.id) ?? waiter.key
            guard key.enabled else {
                wake.append((removeFirstWaiter(queue).continuation, false))
                continue
            }
            // The owner as it is now (its concurrency may have changed), priced as the waiter was.
            let owner = waiter.owner.map { queued in currentOwner(queued.user.id)?.pricing(waiter.demand.model) ?? queued }
            let refusal = tryCommit(key, owner: owner, demand: waiter.demand, now: now)
            if refusal == slot { break }
            wake.append((removeFirstWaiter(queue).continuation, refusal == nil))
        }
        return wake
    }

    /// A queue of waiters: a key's or a user's. (A key path such as
    /// `\.keys[id]` would say the same, but is built at run time on every
    /// settlement: a measurable share of a request's CPU.)
    enum Queue {
        case key(Int64)
        case user(Int64)
    }

    func firstWaiter(_ queue: Queue) -> KeyState.Waiter? {
        switch queue {
        case .key(let id): return keys[id]?.waiters.first
        case .user(let id): return users[id]?.waiters.first
        }
    }

    /// Removes and returns the first waiter of a queue that has one.
    mutating func removeFirstWaiter(_ queue: Queue) -> KeyState.Waiter {
        switch queue {
        case .key(let id): return keys[id]!.waiters.removeFirst()
        case .user(let id): return users[id]!.waiters.removeFirst()
        }
    }
}
