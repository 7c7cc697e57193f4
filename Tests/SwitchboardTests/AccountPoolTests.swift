import Foundation
import Policy
import SwitchboardCore
import SwitchboardTesting
import Testing

/// The pool's decisions, driven by a mock clock: no sockets, no sleeping.
@Suite struct AccountPoolTests {
    let clock = MockClock()

    func account(
        _ id: Int64, priority: Int = 0, enabled: Bool = true, limits: AccountLimits = .init(), generation: Int64 = 0
    ) -> AccountEntry {
        AccountEntry(
            id: id, name: "acct-\(id)", provider: .openai, baseURL: "http://127.0.0.1:1", secret: "s", models: ["m"],
            priority: priority, enabled: enabled, limits: limits, generation: generation)
    }

    func pool(_ change: (inout PoolSettings) -> Void = { _ in }) -> AccountPool {
        var settings = PoolSettings()
        change(&settings)
        return AccountPool(settings: settings, clock: clock)
    }

    /// Picks and returns the account id, or nil with the reasons.
    func pick(_ pool: AccountPool, _ accounts: [AccountEntry], tried: Set<Int64> = [], session: String? = nil)
        -> (AccountLease?, [AccountPool.Skipped])
    {
        switch pool.pick(from: accounts, excluding: tried, session: session) {
        case .lease(let lease, let skipped): return (lease, skipped)
        case .none(let skipped): return (nil, skipped)
        }
    }

    @Test func weightsShareTrafficAmongAccountsOfEqualPriority() {
        let pool = pool()
        var heavy = account(1)
        heavy.weight = 3
        let accounts = [heavy, account(2), account(3, priority: 1)]
        var served: [Int64: Int] = [:]
        // Some requests overlap (two in flight at a time), as they do under load.
        var open: [AccountLease] = []
        for _ in 0..<1000 {
            let lease = pick(pool, accounts).0!
            served[lease.account.id, default: 0] += 1
            open.append(lease)
            if open.count == 2 { open.removeFirst().finish(.served(tokens: 1)) }
        }
        for lease in open { lease.finish(.served(tokens: 1)) }
        let share = Double(served[1] ?? 0) / 1000
        #expect(abs(share - 0.75) <= 0.05, "a 3:1 split lands within 5 points (\(served))")
        #expect(served[3] == nil, "a lower priority is not touched while the first ones are usable")
    }

    @Test func anAccountBackFromACooldownDoesNotTakeEverythingUntilItCatchesUp() {
        let pool = pool()
        let accounts = [account(1), account(2)]
        for _ in 0..<100 { pick(pool, [accounts[0]]).0!.finish(.served(tokens: 1)) }  // account 2 unusable meanwhile
        var served: [Int64: Int] = [:]
        for _ in 0..<10 {
            let lease = pick(pool, accounts).0!
            served[lease.account.id, default: 0] += 1
            lease.finish(.served(tokens: 1))
        }
        #expect(served[1] == 5 && served[2] == 5, "\(served)")
    }

    @Test func priorityThenLoadThenLeastRecentlyUsed() {
        let pool = pool()
        let accounts = [account(1, priority: 1), account(2, priority: 0), account(3, priority: 0)]
        let first = pick(pool, accounts).0!
        #expect(first.account.id == 2)  // priority 0 beats 1; ties go to the older account
        let second = pick(pool, accounts).0!
        #expect(second.account.id == 3)  // 2 is busy: less loaded first
        second.finish(.served(tokens: 1))
        first.finish(.served(tokens: 1))
        clock.advance(by: .seconds(1))
        let third = pick(pool, accounts).0!
        #expect(third.account.id == 2)  // both idle: least recently used (2 was picked first)
    }

    @Test func rateLimitHonoursTheHintAndRecoversTheMomentItEnds() throws {
        let pool = pool()
        let accounts = [account(1)]
        let lease = try #require(pick(pool, accounts).0)
        lease.finish(.failed(.rateLimited, retryAfter: .seconds(12), detail: "upstream answered 429"))
        let (none, skipped) = pick(pool, accounts)
        #expect(none == nil)
        #expect(skipped.first?.reason == .coolingDown(until: clock.now().addingTimeInterval(12), cause: .rateLimited))
        clock.advance(by: .milliseconds(11_999))
        #expect(pick(pool, accounts).0 == nil)
        clock.advance(by: .milliseconds(1))
        #expect(pick(pool, accounts).0?.account.id == 1)
    }

    @Test func rateLimitWithoutHintLengthensThenCapsThenResetsOnSuccess() throws {
        let pool = pool {
            $0.rateLimitCooldown = .seconds(60)
            $0.rateLimitCooldownMax = .seconds(200)
        }
        let accounts = [account(1)]
        var waits: [TimeInterval] = []
        for _ in 0..<4 {
            let lease = try #require(pick(pool, accounts).0)
            lease.finish(.failed(.rateLimited, retryAfter: nil, detail: "429"))
            let status = pool.status(of: accounts)[0]
            let until = try #require(status.cooldownUntil)
            waits.append(until.timeIntervalSince(clock.now()))
            clock.advance(by: .seconds(Int64(until.timeIntervalSince(clock.now()))))
        }
        #expect(waits == [60, 120, 200, 200])
        try #require(pick(pool, accounts).0).finish(.served(tokens: 10))
        try #require(pick(pool, accounts).0).finish(.failed(.rateLimited, retryAfter: nil, detail: "429"))
        #expect(pool.status(of: accounts)[0].cooldownUntil == clock.now().addingTimeInterval(60))
    }

    @Test func aHintIsCappedSoNoAnswerLocksAnAccountOutForHours() throws {
        let pool = pool { $0.rateLimitCooldownMax = .seconds(600) }
        let accounts = [account(1)]
        try #require(pick(pool, accounts).0).finish(.failed(.rateLimited, retryAfter: .seconds(7200), detail: "429"))
        #expect(pool.status(of: accounts)[0].cooldownUntil == clock.now().addingTimeInterval(600))
    }

    @Test func overloadCoolsBrieflyAndApartFromTheLadder() throws {
        let pool = pool()
        let accounts = [account(1)]
        try #require(pick(pool, accounts).0).finish(.failed(.overloaded, retryAfter: .seconds(300), detail: "529"))
        #expect(pool.status(of: accounts)[0].cooldownUntil == clock.now().addingTimeInterval(10))
        #expect(pool.status(of: accounts)[0].cooldownCause == "overloaded")
        clock.advance(by: .seconds(10))
        try #require(pick(pool, accounts).0).finish(.failed(.rateLimited, retryAfter: nil, detail: "429"))
        // The overload did not advance the 429 ladder: the first hintless 429 cools for the base time.
        #expect(pool.status(of: accounts)[0].cooldownUntil == clock.now().addingTimeInterval(60))
    }

    @Test func credentialFailureMarksUnhealthyUntilReEnabled() throws {
        let pool = pool()
        var accounts = [account(1, generation: 0)]
        try #require(pick(pool, accounts).0).finish(.failed(.credential, retryAfter: nil, detail: "upstream answered 401"))
        clock.advance(by: .seconds(86_400))
        let (none, skipped) = pick(pool, accounts)
        #expect(none == nil)
        #expect(skipped.first?.reason == .unhealthy("upstream answered 401"))
        #expect(pool.status(of: accounts)[0].state == "unhealthy")
        // An admin enables it again: the snapshot carries a new generation.
        accounts[0].generation = 1
        #expect(pick(pool, accounts).0?.account.id == 1)
    }

    @Test func enablingClearsACooldownAtOnce() throws {
        let pool = pool()
        var accounts = [account(1)]
        try #require(pick(pool, accounts).0).finish(.failed(.rateLimited, retryAfter: .seconds(300), detail: "429"))
        #expect(pick(pool, accounts).0 == nil)
        accounts[0].generation += 1
        #expect(pick(pool, accounts).0 != nil)
    }

    @Test func transientFailuresCoolOnlyAfterNInTheWindow() throws {
        let pool = pool {
            $0.transientFailures = 3
            $0.transientWindow = .seconds(60)
            $0.transientCooldown = .seconds(30)
        }
        let accounts = [account(1)]
        for _ in 0..<2 {
            try #require(pick(pool, accounts).0).finish(.failed(.transient, retryAfter: nil, detail: "connect_failed"))
        }
        clock.advance(by: .seconds(61))  // the first two leave the window
        try #require(pick(pool, accounts).0).finish(.failed(.transient, retryAfter: nil, detail: "connect_failed"))
        #expect(pool.status(of: accounts)[0].cooldownUntil == nil)
        try #require(pick(pool, accounts).0).finish(.failed(.transient, retryAfter: nil, detail: "connect_failed"))
        try #require(pick(pool, accounts).0).finish(.failed(.transient, retryAfter: nil, detail: "connect_failed"))
        #expect(pool.status(of: accounts)[0].cooldownUntil == clock.now().addingTimeInterval(30))
        #expect(pool.status(of: accounts)[0].cooldownCause == "transient_failures")
    }

    /// A 404 means the account's base URL or model is wrong: it cools like
    /// transient failures, under its own cause; on a counting call (a provider
    /// without a counting endpoint) it rests counting only, never generation.
    @Test func notFoundCoolsUnderItsOwnCauseAndACountingOneOnlyCounting() throws {
        let pool = pool {
            $0.transientFailures = 2
            $0.transientCooldown = .seconds(30)
        }
        let accounts = [account(1)]
        for _ in 0..<2 {
            try #require(pick(pool, accounts).0).finish(.failed(.notFound, retryAfter: nil, detail: "upstream answered 404"))
        }
        #expect(pool.status(of: accounts)[0].cooldownCause == "not_found")
        #expect(pick(pool, accounts).1.first?.reason == .coolingDown(until: clock.now().addingTimeInterval(30), cause: .notFound))

        let counted = [account(2)]
        guard case .lease(let lease, _) = pool.pick(from: counted, excluding: [], session: nil, lane: .counting) else {
            Issue.record("no lease for counting")
            return
        }
        lease.finish(.failed(.notFound, retryAfter: nil, detail: "upstream answered 404"))
        #expect(pick(pool, counted).0?.account.id == 2, "generation is not cooled by a counting 404")
        guard case .none(let skipped) = pool.pick(from: counted, excluding: [], session: nil, lane: .counting) else {
            Issue.record("counting was not rested")
            return
        }
        #expect(skipped.first?.reason == .coolingDown(until: clock.now().addingTimeInterval(30), cause: .notFound))
    }

    @Test func callerFaultLeavesTheAccountAlone() throws {
        let pool = pool()
        let accounts = [account(1)]
        for _ in 0..<10 { try #require(pick(pool, accounts).0).finish(.notBlamed(tokens: 0)) }
        #expect(pool.status(of: accounts)[0].state == "ready")
        #expect(pool.status(of: accounts)[0].totalFailures == 0)
    }

    @Test func requestsPerMinuteCapIsExactOverASlidingWindow() throws {
        let pool = pool()
        let accounts = [account(1, limits: AccountLimits(maxRPM: 3))]
        for _ in 0..<3 {
            try #require(pick(pool, accounts).0).finish(.served(tokens: 1))
            clock.advance(by: .milliseconds(900))
        }
        let (none, skipped) = pick(pool, accounts)
        #expect(none == nil)
        guard case .requestCap(let until) = skipped.first?.reason else {
            Issue.record("expected an RPM cap, got \(String(describing: skipped.first?.reason))")
            return
        }
        #expect(abs(until.timeIntervalSince(clock.now()) - (60 - 2.7)) < 0.001)
        clock.advance(by: .milliseconds(57_299))
        #expect(pick(pool, accounts).0 == nil)
        clock.advance(by: .milliseconds(1))
        #expect(pick(pool, accounts).0 != nil)
    }

    @Test func tokensPerMinuteCapCountsFinishedRequests() throws {
        let pool = pool()
        let accounts = [account(1, limits: AccountLimits(maxTPM: 1000))]
        try #require(pick(pool, accounts).0).finish(.served(tokens: 999))
        try #require(pick(pool, accounts).0).finish(.served(tokens: 1))
        guard case .tokenCap = pick(pool, accounts).1.first?.reason else {
            Issue.record("expected a TPM cap")
            return
        }
        clock.advance(by: .seconds(60))
        #expect(pick(pool, accounts).0 != nil)
    }

    @Test func concurrencyCapSkipsAndFreesOnFinishOrDrop() throws {
        let pool = pool()
        let accounts = [account(1, limits: AccountLimits(maxConcurrency: 2)), account(2, priority: 5)]
        let a = try #require(pick(pool, accounts).0)
        var b = Optional(try #require(pick(pool, accounts).0))
        #expect(a.account.id == 1 && b?.account.id == 1)
        let (c, skipped) = pick(pool, accounts)
        #expect(c?.account.id == 2)  // 1 is full: the lower-priority account serves
        #expect(skipped.first?.reason == .full(canWait: false))
        b = nil  // a lease dropped without finishing (a client gone) still frees its slot
        _ = b
        #expect(pick(pool, accounts).0?.account.id == 1)
        a.finish(.served(tokens: 0))
        a.finish(.served(tokens: 0))  // a second finish changes nothing
        #expect(pool.status(of: accounts)[0].inFlight == 0)
    }

    @Test func stickySessionStaysUntilItsAccountIsUnusable() throws {
        let pool = pool { $0.sessionTTL = .seconds(3600) }
        let accounts = [account(1), account(2)]
        let first = try #require(pick(pool, accounts, session: "s1").0)
        #expect(first.account.id == 1)
        first.finish(.served(tokens: 1))
        let other = try #require(pick(pool, accounts).0)  // another conversation takes 2 (least recently used)
        #expect(other.account.id == 2)
        // Account 1 is now the busier and more recently used... yet the session stays on it.
        let held = try #require(pick(pool, accounts).0)
        #expect(held.account.id == 1)
        let again = try #require(pick(pool, accounts, session: "s1").0)
        #expect(again.account.id == 1)
        again.finish(.failed(.rateLimited, retryAfter: .seconds(30), detail: "429"))
        // 1 is cooling: the session moves to 2 and stays there.
        #expect(try #require(pick(pool, accounts, session: "s1").0).account.id == 2)
        clock.advance(by: .seconds(31))
        #expect(try #require(pick(pool, accounts, session: "s1").0).account.id == 2)
        // After the TTL without use, it is forgotten.
        clock.advance(by: .seconds(3601))
        held.finish(.served(tokens: 0))
        other.finish(.served(tokens: 0))
        #expect(try #require(pick(pool, accounts, session: "s1").0).account.id == 1)
    }

    @Test func neverTheSameAccountTwice() {
        let pool = pool()
        let accounts = [account(1), account(2)]
        let (none, skipped) = pick(pool, accounts, tried: [1, 2])
        #expect(none == nil)
        #expect(skipped.map(\.reason) == [.alreadyTried, .alreadyTried])
    }

    @Test func disabledAndBrokenSecretsAreSkippedWithReasons() {
        let pool = pool()
        var broken = account(2)
        broken.unusableReason = "secret unavailable: wrong master key"
        let (none, skipped) = pick(pool, [account(1, enabled: false), broken])
        #expect(none == nil)
        #expect(skipped.map(\.reason) == [.disabled, .unhealthy("secret unavailable: wrong master key")])
        #expect(skipped.allSatisfy { !$0.reason.isTemporary })
    }

    @Test func aQueuedRequestGetsTheNextFreeSlot() async throws {
        let pool = AccountPool(settings: .init(), clock: clock)
        let limited = account(1, limits: AccountLimits(maxConcurrency: 1, maxWaiting: 1, waitTimeout: .seconds(30)))
        let holder = try #require(pick(pool, [limited]).0)
        #expect(pick(pool, [limited]).1.first?.reason == .full(canWait: true))
        async let queued = pool.waitForSlot(on: limited)
        while pool.status(of: [limited])[0].waiting == 0 { await Task.yield() }
        // The queue holds one: a second waiter is refused at once.
        #expect(await pool.waitForSlot(on: limited) == nil)
        holder.finish(.served(tokens: 0))
        let lease = await queued
        #expect(lease?.account.id == 1)
        #expect(pool.status(of: [limited])[0].inFlight == 1)
        lease?.finish(.served(tokens: 0))
        #expect(pool.status(of: [limited])[0].inFlight == 0)
    }

    @Test func aQueuedRequestGivesUpAfterItsTimeoutAndLeavesNoTrace() async throws {
        let pool = AccountPool(settings: .init(), clock: clock)
        let limited = account(1, limits: AccountLimits(maxConcurrency: 1, maxWaiting: 4, waitTimeout: .milliseconds(50)))
        let holder = try #require(pick(pool, [limited]).0)
        async let waited = pool.waitForSlot(on: limited)
        while clock.sleeperCount == 0 { await Task.yield() }
        clock.advance(by: .milliseconds(50))
        #expect(await waited == nil)
        #expect(pool.status(of: [limited])[0].waiting == 0)
        holder.finish(.served(tokens: 0))
        #expect(pool.status(of: [limited])[0].inFlight == 0)
    }

    @Test func aRequestFromBeforeAnEnableDoesNotWipeANewerMark() throws {
        let pool = pool()
        let old = [account(1, generation: 1)]
        let stale = try #require(pick(pool, old).0)  // a long stream, started on generation 1
        let renewed = [account(1, generation: 2)]  // an admin enabled the account meanwhile
        try #require(pick(pool, renewed).0).finish(.failed(.credential, retryAfter: nil, detail: "upstream answered 401"))
        stale.finish(.served(tokens: 5))
        #expect(pool.status(of: renewed)[0].state == "unhealthy", "the old request's entry must not reset the account")
    }
}
