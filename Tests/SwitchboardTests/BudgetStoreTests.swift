import Engine
import Foundation
import Policy
import Storage
import SwitchboardCore
import Testing

/// What the new budget shapes keep in the store, and what a restart reads back:
/// a budget period's spending, each model's, a usage reset's offsets, a user's
/// limits and a group's multipliers per model.
@Suite struct BudgetStoreTests {
    func row(_ id: String, at time: Date, key: Int64, model: String, cost: Int64, user: String? = "team") -> LedgerRow {
        LedgerRow(
            requestID: id, createdAt: time, keyID: key, keyName: "k", dialect: "openai_chat", model: model, status: 200, outcome: .ok,
            usage: TokenUsage(inputUncached: 10, cacheRead: 0, cacheWrite5m: 0, cacheWrite1h: 0, output: 5, reasoning: 0),
            cost: Money(picos: cost), priced: true, latencyMs: 40, attempts: 1, userName: user)
    }

    @Test func aRestartReadsTheBudgetPeriodEachModelAndAResetFromTheRollups() async throws {
        try await withStore { store, _ in
            let now = Date(timeIntervalSince1970: 1_800_000_000 + 1800)  // Friday 2027-01-15 08:30 UTC
            var policy = try KeySettings.apply(
                [
                    "budget_usd": .number(1), "budget_duration": .string("2d"),
                    "model_budgets": .object(["claude-opus-*": .object(["daily_usd": .string("0.5")])]),
                ], to: KeyPolicy(), now: Date(timeIntervalSince1970: 1_799_920_800)  // set Thursday 10:00
            ).policy
            #expect(policy.budgetPeriod(at: now)?.start == Date(timeIntervalSince1970: 1_799_920_800))
            let key = try await store.insertKey(
                KeyInput(name: "k", hash: "hash-k", prefix: "sk-sb-", lastFour: "0000", source: "test", policy: policy))
            _ = try await store.upsertUser(UserEntry(id: 0, name: "team"), setBalance: true)
            try await store.appendLedger([
                row("before-period", at: Date(timeIntervalSince1970: 1_799_917_200), key: key.id, model: "claude-opus-4-5", cost: 1),  // Thu 09:00
                row("in-period", at: Date(timeIntervalSince1970: 1_799_924_400), key: key.id, model: "gpt-4o", cost: 10),  // Thu 11:00
                row("this-hour-a", at: now.addingTimeInterval(-600), key: key.id, model: "claude-opus-4-5", cost: 100),
                row("this-hour-b", at: now.addingTimeInterval(-60), key: key.id, model: "claude-opus-4-1", cost: 1000),
            ])
            var baseline = try #require(try await store.keyBaselines(now: now)[key.id])
            #expect(baseline.budget?.start == Date(timeIntervalSince1970: 1_799_920_800) && baseline.budget?.spent == Money(picos: 1110))
            #expect(baseline.hour == Money(picos: 1100) && baseline.hourStart == Date(timeIntervalSince1970: 1_800_000_000))
            #expect(baseline.models["claude-opus-4-5"]?.day == Money(picos: 100) && baseline.models["claude-opus-4-5"]?.week == Money(picos: 101))
            #expect(baseline.models["claude-opus-4-1"]?.day == Money(picos: 1000) && baseline.models["gpt-4o"]?.day == .zero)
            #expect(try await store.userBaselines(now: now)["team"]?.models["claude-opus-4-1"]?.month == Money(picos: 1000))

            // A reset of today's cost and the tokens: a restart subtracts what came before it.
            policy.usageReset = UsageReset.next(
                after: nil, parts: [.daily, .tokens], at: now, tokens: baseline.tokens, day: baseline.today, dayStart: Periods.dayStart(of: now))
            _ = try await store.updateKey(name: "k", policy: policy, enabled: true, expiresAt: nil, keepStoredBalance: true)
            try await store.appendLedger([row("after-reset", at: now.addingTimeInterval(60), key: key.id, model: "gpt-4o", cost: 7)])
            baseline = try #require(try await store.keyBaselines(now: now.addingTimeInterval(120))[key.id])
            #expect(baseline.today == Money(picos: 7) && baseline.tokens == 15 && baseline.resetAt == policy.usageReset?.atMilliseconds)
            #expect(baseline.spent == Money(picos: 1118), "a reset leaves lifetime spending (and so a balance) alone")
        }
    }

    @Test func aUsersLimitsAndAGroupsMultipliersRoundTripAndMoveTheRevision() async throws {
        try await withStore { store, _ in
            var group = try GroupSettings.apply(
                ["multiplier": .number(1.2), "price_multiplier": .object(["claude-opus-*": .string("2"), "GPT-5*": .number(0.5)])],
                to: GroupEntry(id: 0, name: "resellers"))
            group = try await store.upsertGroup(group)
            #expect(group.modelMultipliers == ["claude-opus-*": 2_000_000, "GPT-5*": 500_000] && group.unreadable == nil)
            let user = try UserSettings.apply(
                [
                    "group": .string("resellers"), "concurrency": .number(3), "max_waiting": .string("10"),
                    "model_budgets": .object(["gpt-5*": .object(["monthly_usd": .number(25)])]),
                ], to: UserEntry(id: 0, name: "team"))
            _ = try await store.upsertUser(user, setBalance: true)
            let revision = try await store.revision()
            var saved = try #require(try await store.listUsers().first)
            #expect(
                saved.limits
                    == UserLimits(concurrency: 3, maxWaiting: 10, modelBudgets: [ModelBudget(pattern: "gpt-5*", monthly: Money(dollars: "25")!)]))
            saved.limits.concurrency = 4
            _ = try await store.upsertUser(saved, setBalance: false)
            #expect(try await store.revision() != revision, "a change to a user's limits reaches running servers")
            saved.addresses.allow = [CIDR("10.0.0.0/8")!]
            let before = try await store.revision()
            _ = try await store.upsertUser(saved, setBalance: false)
            #expect(try await store.revision() != before, "so does a change to its address rules")
        }
    }

    @Test func settingsThatCannotBeEnforcedAreRefusedWithTheirName() {
        func refused(_ json: [String: JSONValue]) -> String? {
            do {
                _ = try KeySettings.apply(json, to: KeyPolicy())
                return nil
            } catch { return error.description }
        }
        #expect(refused(["budget_duration": .string("30d")])?.contains("budget_duration needs budget_usd") == true)
        #expect(refused(["budget_usd": .number(5), "budget_duration": .string("90m")])?.contains("whole hours") == true)
        #expect(refused(["budget_usd": .number(5), "budget_duration": .string("3651d")])?.contains("whole hours") == true)
        #expect(refused(["model_budgets": .object(["claude-*": .object([:])])])?.contains("sets no cap") == true)
        #expect(refused(["model_budgets": .object(["claude-*": .object(["hourly_usd": .number(1)])])])?.contains("unknown field hourly_usd") == true)
        #expect(refused(["model_budgets": .object(["claude-*": .object(["daily_usd": .number(-1)])])]) != nil)
        #expect(throws: AdminError.self) {
            try GroupSettings.apply(["price_multiplier": .object(["x": .number(0)])], to: GroupEntry(id: 0, name: "g"))
        }
        #expect(throws: AdminError.self) { try UserSettings.apply(["concurrency": .number(0)], to: UserEntry(id: 0, name: "u")) }
    }

    @Test func aBudgetPeriodKeepsItsAnchorWhileItsDurationStays() throws {
        let thursday = Date(timeIntervalSince1970: 1_799_920_800)
        let first = try KeySettings.apply(["budget_usd": .number(1), "budget_duration": .string("7d")], to: KeyPolicy(), now: thursday).policy
        let later = thursday.addingTimeInterval(3 * 86400)
        let raised = try KeySettings.apply(["budget_usd": .number(2)], to: first, now: later).policy
        #expect(raised.budgetAnchorHour == first.budgetAnchorHour, "a new amount keeps the schedule")
        let changed = try KeySettings.apply(["budget_duration": .string("30d")], to: raised, now: later).policy
        #expect(changed.budgetPeriod(at: later)?.start == later, "a new duration starts its first period now")
    }
}
