import Foundation
import Policy
import SwitchboardCore
import Testing

@testable import Engine
@testable import Storage

/// The limits replicas share through `shared_meters`, with two "replicas"
/// (two `SharedKeyLimits`, each on its own connection pool) on one PostgreSQL
/// database: what one holds the other sees, at once.
@Suite struct SharedMeterTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000 + 1800)  // Friday 2027-01-15 08:30 UTC

    func dollars(_ cents: Int64) -> Money { Money(picos: cents * 10_000_000_000) }

    /// Two replicas' limits on one fresh PostgreSQL database (skipped without a server).
    func withReplicas(_ body: (SQLStore, SharedKeyLimits, SharedKeyLimits) async throws -> Void) async throws {
        try await withStore(engines: [.postgres]) { store, location in
            let other = try await openStore(location)
            let first = try #require(SharedKeyLimits(store: store, leaseTTL: .seconds(30)))
            let second = try #require(SharedKeyLimits(store: other, leaseTTL: .seconds(30)))
            do {
                try await body(try #require(store as? SQLStore), first, second)
            } catch {
                try? await other.close()
                throw error
            }
            try await other.close()
        }
    }

    func demand(_ id: String, key: KeyEntry, owner: Owner? = nil, hold: Money, tokens: Int64 = 0, model: String = "gpt-4o") -> SharedDemand {
        var demand = SharedDemand(
            requestID: id, keyID: key.id, concurrency: nil, balance: nil, hold: hold, windowRequests: nil, windowMilliseconds: 60_000)
        demand.meters = Gateway.sharedMeters(for: key, owner: owner, demand: KeyDemand(hold: hold, tokens: tokens, model: model), now: now)
        return demand
    }

    func ledgerRow(_ id: String, at time: Date, key: Int64, model: String = "gpt-4o", cost: Money) -> LedgerRow {
        LedgerRow(
            requestID: id, createdAt: time, keyID: key, keyName: "k", dialect: "openai_chat", model: model, status: 200, outcome: .ok,
            usage: TokenUsage(inputUncached: 10, output: 5), cost: cost, priced: true, latencyMs: 10, attempts: 1)
    }

    func settlement(_ demand: SharedDemand, cost: Money, tokens: Int64 = 0) -> SharedKeyLimits.Settlement {
        SharedKeyLimits.Settlement(requestID: demand.requestID, keyID: demand.keyID, cost: cost, tokens: tokens, meters: demand.meters.map(\.use))
    }

    func refusal(_ verdict: SharedVerdict) -> KeyRefusal? {
        if case .meter(let meter, _) = verdict { return meter.refusal }
        return nil
    }

    @Test func aDailyCostIsHeldAcrossReplicasAndCountsTheDayBeforeTheLimit() async throws {
        try await withReplicas { store, first, second in
            // $0.40 spent this morning, before the limit was set: the day's meter starts from it.
            try await store.appendLedger([ledgerRow("earlier", at: now.addingTimeInterval(-3600), key: 7, cost: dollars(40))])
            var policy = KeyPolicy()
            policy.dailyCost = dollars(100)
            let key = KeyEntry(id: 7, name: "k", enabled: true, expiresAt: nil, policy: policy)
            let a = demand("a", key: key, hold: dollars(25))
            let b = demand("b", key: key, hold: dollars(25))
            #expect(try await first.admit(a, now: now) == .admitted)
            #expect(try await second.admit(b, now: now) == .admitted)
            // 40 spent + 50 held + 25 > 100, whichever replica asks.
            #expect(refusal(try await first.admit(demand("c", key: key, hold: dollars(25)), now: now)) == .quotaExhausted("daily_cost"))
            #expect(refusal(try await second.admit(demand("d", key: key, hold: dollars(25)), now: now)) == .quotaExhausted("daily_cost"))
            // One settles for 5 cents: 45 spent + 25 held + 25 fits.
            try await first.settle([settlement(a, cost: dollars(5))], now: now)
            #expect(try await second.admit(demand("e", key: key, hold: dollars(25)), now: now) == .admitted)
            let row = try #require(try await store.query("SELECT used, held FROM shared_meters WHERE name LIKE 'k7.day.%'", []).first)
            #expect(row.int("used") == dollars(45).picos && row.int("held") == dollars(50).picos)
        }
    }

    @Test func aTokenWindowAndTheLifetimeTokenLimitCountWhatSettled() async throws {
        try await withReplicas { store, first, second in
            var policy = KeyPolicy()
            policy.rateLimit = KeyPolicy.RateLimit(windowMinutes: 1, tokens: 1_000)
            policy.tokenLimit = 5_000
            let key = KeyEntry(id: 8, name: "k", enabled: true, expiresAt: nil, policy: policy)
            let a = demand("a", key: key, hold: .zero, tokens: 800)
            #expect(try await first.admit(a, now: now) == .admitted)
            try await first.settle([settlement(a, cost: .zero, tokens: 1_000)], now: now)
            // The window is full on the other replica too, until the entry leaves it.
            let verdict = try await second.admit(demand("b", key: key, hold: .zero, tokens: 800), now: now)
            guard case .meter(let meter, let oldest) = verdict, case .rateLimited(_, "tokens") = meter.refusal else {
                Issue.record("not refused by the token window: \(verdict)")
                return
            }
            #expect(oldest != nil)
            // A minute on, the window has room; the lifetime limit counts 1,000 used + 4,200 asked > 5,000.
            let later = now.addingTimeInterval(61)
            var big = demand("c", key: key, hold: .zero, tokens: 4_200)
            big.meters = Gateway.sharedMeters(for: key, owner: nil, demand: KeyDemand(hold: .zero, tokens: 4_200, model: "gpt-4o"), now: later)
            #expect(refusal(try await second.admit(big, now: later)) == .quotaExhausted("token_limit"))
            let used = try await store.query("SELECT used FROM shared_meters WHERE name = 'k8.tokens'", []).first?.int("used")
            #expect(used == 1_000)
        }
    }

    @Test func aUsersSlotsAndSubscriptionAreSharedByItsKeysAndReplicas() async throws {
        try await withReplicas { store, first, second in
            var user = UserEntry(id: 3, name: "ada")
            user.limits.concurrency = 1
            let group = GroupEntry(id: 1, name: "team", multiplierPPM: 1_000_000, daily: dollars(30))
            let owner = Owner(user: user, group: group)
            let laptop = KeyEntry(id: 11, name: "laptop", enabled: true, expiresAt: nil)
            let server = KeyEntry(id: 12, name: "server", enabled: true, expiresAt: nil)
            let a = demand("a", key: laptop, owner: owner, hold: dollars(20))
            #expect(try await first.admit(a, now: now) == .admitted)
            #expect(refusal(try await second.admit(demand("b", key: server, owner: owner, hold: dollars(1)), now: now)) == .userConcurrency)
            try await first.settle([settlement(a, cost: dollars(20))], now: now)
            // The slot is back; the subscription's day has 10 cents left.
            #expect(
                refusal(try await second.admit(demand("c", key: server, owner: owner, hold: dollars(11)), now: now))
                    == .quotaExhausted("subscription_daily"))
            #expect(try await second.admit(demand("d", key: server, owner: owner, hold: dollars(10)), now: now) == .admitted)
            #expect(try await store.query("SELECT COUNT(*) AS n FROM shared_meter_holds", []).first?.int("n") == 2)
        }
    }

    @Test func aDeadReplicasMeterHoldsGoBackWhenItsLeaseExpires() async throws {
        try await withReplicas { store, first, second in
            var policy = KeyPolicy()
            policy.monthlyCost = dollars(10)
            let key = KeyEntry(id: 9, name: "k", enabled: true, expiresAt: nil, policy: policy)
            #expect(try await first.admit(demand("a", key: key, hold: dollars(10)), now: now) == .admitted)
            #expect(refusal(try await second.admit(demand("b", key: key, hold: dollars(1)), now: now)) == .quotaExhausted("monthly_cost"))
            // The first replica stops renewing; once its lease expires, any replica's sweep frees its hold.
            #expect(try await second.sweep(now: now.addingTimeInterval(31)) == 1)
            #expect(try await second.admit(demand("c", key: key, hold: dollars(10)), now: now.addingTimeInterval(31)) == .admitted)
            let held = try await store.query("SELECT held FROM shared_meters WHERE name LIKE 'k9.month.%'", []).first?.int("held")
            #expect(held == dollars(10).picos)
        }
    }

    @Test func aModelBudgetCountsOnlyItsModelsFromTheirRollups() async throws {
        try await withReplicas { store, first, second in
            try await store.appendLedger([
                ledgerRow("opus", at: now.addingTimeInterval(-600), key: 5, model: "claude-opus-4-5", cost: dollars(40)),
                ledgerRow("gpt", at: now.addingTimeInterval(-600), key: 5, cost: dollars(90)),
            ])
            var policy = KeyPolicy()
            policy.modelBudgets = [ModelBudget(pattern: "claude-opus-*", daily: dollars(50))]
            let key = KeyEntry(id: 5, name: "k", enabled: true, expiresAt: nil, policy: policy)
            // 40 cents of Opus today: 20 more does not fit, on either replica; another model has no meter.
            #expect(
                refusal(try await first.admit(demand("a", key: key, hold: dollars(20), model: "claude-opus-4-1"), now: now))
                    == .modelBudget(ModelBudgetRefusal(owner: "key", pattern: "claude-opus-*", period: "daily")))
            #expect(try await second.admit(demand("b", key: key, hold: dollars(10), model: "claude-opus-4-1"), now: now) == .admitted)
            #expect(demand("c", key: key, hold: dollars(20), model: "gpt-4o").meters.isEmpty)
        }
    }

    @Test func aSettlementHeardTwiceCountsOnceAndASweptLeaseIsChargedWhatTheLedgerHolds() async throws {
        try await withReplicas { store, first, second in
            var policy = KeyPolicy()
            policy.dailyCost = dollars(100)
            let key = KeyEntry(id: 4, name: "k", enabled: true, expiresAt: nil, policy: policy)
            // A settlement whose commit was not heard is sent again: its cost is not counted twice.
            let a = demand("a", key: key, hold: dollars(10))
            #expect(try await first.admit(a, now: now) == .admitted)
            try await first.settle([settlement(a, cost: dollars(3))], now: now)
            try await first.settle([settlement(a, cost: dollars(3))], now: now)
            // A replica wrote b's row and died before settling it: the sweep charges the row's cost.
            let b = demand("b", key: key, hold: dollars(10))
            #expect(try await first.admit(b, now: now) == .admitted)
            try await store.appendLedger([ledgerRow("b", at: now, key: 4, cost: dollars(7))])
            #expect(try await second.sweep(now: now.addingTimeInterval(31)) == 1)
            let row = try #require(try await store.query("SELECT used, held FROM shared_meters WHERE name LIKE 'k4.day.%'", []).first)
            #expect(row.int("used") == dollars(10).picos && row.int("held") == 0)
            #expect(try await store.query("SELECT in_flight FROM shared_keys WHERE key_id = 4", []).first?.int("in_flight") == 0)
        }
    }

    @Test func aUsageResetOfTheWindowStartsTheSharedRequestWindowAgain() async throws {
        try await withReplicas { _, first, second in
            var window = SharedDemand(
                requestID: "a", keyID: 3, concurrency: nil, balance: nil, hold: .zero, windowRequests: 1, windowMilliseconds: 60_000)
            #expect(try await first.admit(window, now: now) == .admitted)
            window.requestID = "b"
            guard case .rateLimited = try await second.admit(window, now: now.addingTimeInterval(1)) else {
                Issue.record("the window's one request was not counted across replicas")
                return
            }
            // Reset a second later: the request before it no longer counts, on either replica.
            window.windowFloor = now.addingTimeInterval(1).millisecondsSince1970
            #expect(try await second.admit(window, now: now.addingTimeInterval(2)) == .admitted)
        }
    }
}
