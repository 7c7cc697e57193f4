import SwitchboardCore
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The live side of the upstream accounts: who is busy, cooling down, capped or
/// unhealthy, which session sits on which account. It decides, the engine acts:
/// `pick` hands out a lease on the best usable account, `finish` takes the
/// attempt's outcome back and applies cooldowns and health marks.
///
/// Static facts (models, priority, limits, enabled) come with each call in the
/// `AccountEntry`s of the current snapshot; only what changes per request lives here.
public final class AccountPool: Sendable {
    public let settings: PoolSettings
    /// The clock every decision reads; a mock one in tests.
    public let clock: any GatewayClock
    private let state = Mutex(PoolState())

    struct PoolState: Sendable {
        var accounts: [Int64: AccountState] = [:]
        var sessions: [String: SessionBinding] = [:]
        var nextWaiterID: UInt64 = 0
    }

    /// A session's account and when the binding ends, as replicas exchange them.
    public struct SessionPlacement: Sendable, Equatable {
        public var session: String
        public var accountID: Int64
        public var expiresAt: Date

        public init(session: String, accountID: Int64, expiresAt: Date) {
            self.session = session
            self.accountID = accountID
            self.expiresAt = expiresAt
        }
    }

    struct SessionBinding: Sendable {
        var accountID: Int64
        var expiresAt: Date
    }

    /// Creates an empty pool.
    public init(settings: PoolSettings = .init(), clock: any GatewayClock = SystemClock()) {
        self.settings = settings
        self.clock = clock
    }

    /// The outcome of a pick.
    public enum Pick: Sendable {
        /// A slot on this account; every skipped account and why, in candidate order.
        case lease(AccountLease, skipped: [Skipped])
        /// No candidate can take the request now; each one and why.
        case none(skipped: [Skipped])
    }

    /// An account passed over, and why.
    public struct Skipped: Sendable, Equatable {
        public var account: AccountEntry
        public var reason: SkipReason

        public init(account: AccountEntry, reason: SkipReason) {
            self.account = account
            self.reason = reason
        }
    }

    /// Chooses an account among `candidates` and takes a slot on it: the
    /// session's account when it is usable, else by priority, then the stride
    /// pass (so equal-priority accounts share traffic in proportion to their
    /// weights, in turn), then load per unit of weight, then least recently used.
    /// Accounts in `tried` are never chosen again.
    public func pick(
        from candidates: [AccountEntry], excluding tried: Set<Int64> = [], session: String? = nil, prefix: String? = nil,
        lane: AccountLane = .generation
    ) -> Pick {
        let now = clock.now()
        let outcome: (AccountEntry?, [Skipped], AccountChoice) = state.withLock { pool in
            var usable: [(entry: AccountEntry, load: Double, pass: Double?, lastUsed: Date)] = []
            var skipped: [Skipped] = []
            for entry in candidates {
                if tried.contains(entry.id) {
                    skipped.append(Skipped(account: entry, reason: .alreadyTried))
                    continue
                }
                var account = pool.account(entry)
                if let reason = account.skipReason(entry, now: now, lane: lane) {
                    skipped.append(Skipped(account: entry, reason: reason))
                } else {
                    usable.append((entry, Double(account.inFlight) / Double(max(1, entry.weight)), account.pass, account.lastUsed ?? .distantPast))
                }
                pool.accounts[entry.id] = account
            }
            var chosen: AccountEntry?
            var choice = AccountChoice.session
            var chosenPass: Double?
            if let session, let binding = pool.sessions[session], binding.expiresAt > now {
                chosen = usable.first { $0.entry.id == binding.accountID }?.entry
            }
            // A session new here whose prompt starts as a recent one's: where that prompt's cache is warm.
            if chosen == nil, session.map({ pool.sessions[$0] == nil }) ?? true, let prefix, let binding = pool.sessions[prefix],
                binding.expiresAt > now
            {
                chosen = usable.first { $0.entry.id == binding.accountID }?.entry
                if chosen != nil { choice = .prefix }
            }
            if chosen == nil {
                choice = .ranked
                // Accounts in steady use stay within one step of each other; one that is new, or back from a
                // cooldown far behind, starts one step behind the leader instead of taking everything until it catches up.
                let floor = (usable.compactMap(\.pass).max() ?? 0) - 1
                func pass(_ candidate: (entry: AccountEntry, load: Double, pass: Double?, lastUsed: Date)) -> Double {
                    max(candidate.pass ?? floor, floor)
                }
                let best = usable.min { a, b in
                    (a.entry.priority, pass(a), a.load, a.lastUsed, a.entry.id) < (b.entry.priority, pass(b), b.load, b.lastUsed, b.entry.id)
                }
                chosen = best?.entry
                chosenPass = best.map(pass)
            }
            guard let chosen else { return (nil, skipped, choice) }
            var account = pool.account(chosen)
            if let chosenPass { account.pass = chosenPass }
            account.grant(chosen, now: now)
            pool.accounts[chosen.id] = account
            if let session { pool.bind(session, to: chosen.id, now: now, settings: settings) }
            if let prefix { pool.bind(prefix, to: chosen.id, now: now, settings: settings) }
            return (chosen, skipped, choice)
        }
        guard let chosen = outcome.0 else { return .none(skipped: outcome.1) }
        return .lease(AccountLease(account: chosen, lane: lane, choice: outcome.2, pool: self), skipped: outcome.1)
    }

    /// Puts a session on an account after the fact: an answer whose id later
    /// requests will name (a Responses `previous_response_id`) stays with the
    /// account that holds it.
    public func remember(session: String, on accountID: Int64) {
        let now = clock.now()
        state.withLock { $0.bind(session, to: accountID, now: now, settings: settings) }
    }

    /// Waits for a slot on a full account, up to its `wait_timeout`; nil when the
    /// queue is full, the wait times out, the task is cancelled, or the account
    /// stops being usable while waiting.
    public func waitForSlot(on account: AccountEntry, session: String? = nil, lane: AccountLane = .generation) async -> AccountLease? {
        await clock.withTimeout(account.limits.waitTimeout) { await self.queue(on: account, session: session, lane: lane) }
    }

    private func queue(on account: AccountEntry, session: String?, lane: AccountLane) async -> AccountLease? {
        let id = state.withLock { pool -> UInt64 in
            pool.nextWaiterID += 1
            return pool.nextWaiterID
        }
        let granted = await QueuedWait.park(
            enqueue: { continuation in
                let now = clock.now()
                return state.withLock { pool -> Bool? in
                    if Task.isCancelled { return false }
                    var current = pool.account(account)
                    defer { pool.accounts[account.id] = current }
                    switch current.skipReason(account, now: now, lane: lane) {
                    case nil:
                        current.grant(account, now: now)
                        return true
                    case .full(canWait: true):
                        current.waiters.append(.init(id: id, continuation: continuation))
                        return nil
                    default:
                        return false
                    }
                }
            },
            dequeue: {
                state.withLock { pool -> CheckedContinuation<Bool, Never>? in
                    guard let index = pool.accounts[account.id]?.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                    return pool.accounts[account.id]!.waiters.remove(at: index).continuation
                }
            })
        guard granted else { return nil }
        if let session { state.withLock { $0.bind(session, to: account.id, now: clock.now(), settings: settings) } }
        return AccountLease(account: account, lane: lane, choice: .waited, pool: self)
    }

    /// Leases dropped without being finished (each one a bug in the code that held it).
    public var droppedLeases: Int { dropped.load(ordering: .relaxed) }
    private let dropped = Atomic<Int>(0)

    func countDroppedLease() { dropped.add(1, ordering: .relaxed) }

    /// Takes back a slot with what happened on it. Called once per lease, by the lease.
    func finish(_ account: AccountEntry, _ outcome: AttemptOutcome, lane: AccountLane) {
        let now = clock.now()
        let wake: [(CheckedContinuation<Bool, Never>, Bool)] = state.withLock { pool in
            var current = pool.account(account)
            current.inFlight = max(0, current.inFlight - 1)
            if lane == .counting, case .failed(let failureClass, let hint, let detail) = outcome,
                [.rateLimited, .overloaded, .notFound].contains(failureClass)
            {
                // A counting call's limits are not the generations', and a provider
                // without a counting endpoint (404) still generates: rest only counting.
                current.totalFailures += 1
                current.lastError = detail
                current.lastErrorAt = now
                if failureClass == .rateLimited { current.lastRateLimitedAt = now }
                let wait =
                    failureClass == .notFound
                    ? settings.transientCooldown : min(hint ?? settings.rateLimitCooldown, settings.rateLimitCooldownMax)
                current.countCooldownUntil = now.addingTimeInterval(max(1, wait.seconds))
                current.countCooldownCause = failureClass == .notFound ? .notFound : failureClass == .overloaded ? .overloaded : .rateLimited
            } else {
                apply(outcome, to: &current, now: now)
            }
            var wake: [(CheckedContinuation<Bool, Never>, Bool)] = []
            // Hand freed slots to queued requests; if the account stopped being
            // usable for anything but load, let them go to try elsewhere.
            while !current.waiters.isEmpty {
                let reason = current.skipReason(account, now: now)
                if reason == nil {
                    current.grant(account, now: now)
                    wake.append((current.waiters.removeFirst().continuation, true))
                } else if case .full = reason {
                    break
                } else {
                    wake += current.waiters.map { ($0.continuation, false) }
                    current.waiters = []
                }
            }
            pool.accounts[account.id] = current
            return wake
        }
        for (continuation, granted) in wake { continuation.resume(returning: granted) }
    }

    private func apply(_ outcome: AttemptOutcome, to account: inout AccountState, now: Date) {
        switch outcome {
        case .served(let tokens):
            account.window.addTokens(tokens, at: now)
            account.totalTokens += tokens
            account.rateLimitStreak = 0
            account.transientTimes = []
        case .notBlamed(let tokens):
            account.window.addTokens(tokens, at: now)
            account.totalTokens += tokens
        case .failed(let failureClass, let hint, let detail):
            account.totalFailures += 1
            account.lastError = detail
            account.lastErrorAt = now
            switch failureClass {
            case .rateLimited:
                account.lastRateLimitedAt = now
                let wait: Duration
                if let hint {
                    wait = min(hint, settings.rateLimitCooldownMax)
                } else {
                    account.rateLimitStreak += 1
                    let factor = 1 << min(account.rateLimitStreak - 1, 20)
                    wait = min(settings.rateLimitCooldown * factor, settings.rateLimitCooldownMax)
                }
                account.coolDown(for: wait, cause: .rateLimited, now: now)
            case .overloaded:
                account.coolDown(
                    for: min(hint ?? settings.overloadCooldown, PoolSettings.overloadCooldownCap), cause: .overloaded, now: now)
            case .credential:
                account.unhealthy = detail
            case .transient, .notFound:
                let windowStart = now.addingTimeInterval(-settings.transientWindow.seconds)
                account.transientTimes = account.transientTimes.filter { $0 > windowStart } + [now]
                if account.transientTimes.count >= settings.transientFailures {
                    account.coolDown(
                        for: settings.transientCooldown, cause: failureClass == .notFound ? .notFound : .transientFailures, now: now)
                    account.transientTimes = []
                }
            case .callerFault:
                break
            }
        }
    }

    /// Clears an account's cooldown and health mark at once (an admin enabled it,
    /// or a health probe succeeded).
    public func clearTrouble(accountID: Int64) {
        state.withLock { $0.accounts[accountID]?.clearTrouble() }
    }

    /// Carries state saved by an earlier run over a restart: health marks,
    /// cooldowns and totals. A newer generation (an admin enabled the account
    /// meanwhile) drops the marks and cooldowns, as it would have live.
    public func restore(_ saved: [AccountStatus], accounts: [AccountEntry]) {
        let now = clock.now()
        state.withLock { pool in
            for entry in accounts {
                guard let old = saved.first(where: { $0.id == entry.id }), pool.accounts[entry.id] == nil else { continue }
                var restored = AccountState(generation: entry.generation)
                restored.totalRequests = old.totalRequests
                restored.totalTokens = old.totalTokens
                restored.totalFailures = old.totalFailures
                restored.lastUsed = old.lastUsed
                restored.lastError = old.lastError
                restored.lastErrorAt = old.lastErrorAt
                restored.lastRateLimitedAt = old.last429At
                if old.generation == entry.generation {
                    restored.unhealthy = old.healthMark
                    if let until = old.cooldownUntil, until > now {
                        restored.cooldownUntil = until
                        restored.cooldownCause = old.cooldownCause.flatMap(CooldownCause.init(rawValue:))
                    }
                }
                pool.accounts[entry.id] = restored
            }
        }
    }

    /// Sessions bound (or refreshed) since `watermark`: those whose expiry is
    /// later, as every bind sets the expiry a session TTL from its time.
    public func placements(after watermark: Date) -> [SessionPlacement] {
        state.withLock { pool in
            pool.sessions.compactMap { session, binding in
                binding.expiresAt > watermark ? SessionPlacement(session: session, accountID: binding.accountID, expiresAt: binding.expiresAt) : nil
            }
        }
    }

    /// Takes on sessions other replicas placed, where they are newer than
    /// what this pool holds, so a session keeps its account (and its warm
    /// prompt cache) whichever replica its next request reaches.
    public func adopt(_ placements: [SessionPlacement]) {
        let now = clock.now()
        state.withLock { pool in
            for placement in placements where placement.expiresAt > now {
                if let held = pool.sessions[placement.session], held.expiresAt >= placement.expiresAt { continue }
                pool.bind(placement.session, to: placement.accountID, now: now, settings: settings)
                pool.sessions[placement.session]?.expiresAt = placement.expiresAt
            }
        }
    }

    /// Takes on a cooldown another replica saw (a 429 there): kept only for
    /// the same generation of the account, and never shortening a longer one.
    public func adoptCooldown(accountID: Int64, generation: Int64, until: Date, cause: String?) {
        let now = clock.now()
        guard until > now else { return }
        state.withLock { pool in
            var current = pool.accounts[accountID] ?? AccountState(generation: generation)
            guard current.generation == generation else { return }
            if let existing = current.cooldownUntil, existing >= until { return }
            current.cooldownUntil = until
            current.cooldownCause = cause.flatMap(CooldownCause.init(rawValue:)) ?? .rateLimited
            pool.accounts[accountID] = current
        }
    }

    /// Marks an account unhealthy (a health probe failed on its credentials).
    public func markUnhealthy(accountID: Int64, reason: String) {
        state.withLock { $0.accounts[accountID]?.unhealthy = reason }
    }

    /// The live state of the given accounts, for admins.
    public func status(of accounts: [AccountEntry]) -> [AccountStatus] {
        let now = clock.now()
        return state.withLock { pool in
            accounts.map { entry in
                var current = pool.account(entry)
                let reason = current.skipReason(entry, now: now)
                pool.accounts[entry.id] = current
                return AccountStatus(entry: entry, state: current, reason: reason, now: now)
            }
        }
    }
}

extension AccountPool.PoolState {
    /// The state for an account, new or carried over; an account an admin
    /// re-enabled since (newer generation) starts with a clean slate.
    ///
    /// Taken out of the table, not copied: every caller puts it back
    /// (`accounts[id] = state`). A copy would share its lists (the per-second
    /// buckets, the request times) with the table's, and the first change to
    /// each would copy it whole.
    mutating func account(_ entry: AccountEntry) -> AccountState {
        guard var current = accounts.removeValue(forKey: entry.id) else { return AccountState(generation: entry.generation) }
        // Only a newer generation (an admin enabled it since) clears trouble; a
        // request that started before the enable carries an older entry.
        if entry.generation > current.generation {
            current.generation = entry.generation
            current.clearTrouble()
        }
        return current
    }

    /// Puts a session on an account, or refreshes its expiry.
    mutating func bind(_ session: String, to accountID: Int64, now: Date, settings: PoolSettings) {
        if sessions[session] == nil, sessions.count >= settings.maxSessions {
            sessions = sessions.filter { $0.value.expiresAt > now }
            if sessions.count >= settings.maxSessions {
                // Still full of live sessions: forget the half closest to expiry.
                let keep = sessions.sorted { $0.value.expiresAt > $1.value.expiresAt }.prefix(settings.maxSessions / 2)
                sessions = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
            }
        }
        sessions[session] = AccountPool.SessionBinding(
            accountID: accountID, expiresAt: now.addingTimeInterval(settings.sessionTTL.seconds))
    }
}
