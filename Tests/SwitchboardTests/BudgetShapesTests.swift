import Foundation
import Policy
import SwitchboardCore
import SwitchboardTesting
import Synchronization
import Testing

/// Budgets beyond the day: a budget period with its own schedule, caps per
/// model on keys and users, a user's concurrency across its keys, usage resets
/// and a group's multipliers per model, each decided by the limiter on a mock clock.
@Suite struct BudgetShapesTests {
    let clock = MockClock(start: Date(timeIntervalSince1970: 1_800_000_000))  // Friday 2027-01-15 08:00 UTC

    func key(id: Int64 = 1, _ change: (inout KeyPolicy) -> Void) -> KeyEntry {
        var policy = KeyPolicy()
        change(&policy)
        return KeyEntry(id: id, name: "k\(id)", enabled: true, expiresAt: nil, policy: policy)
    }

    func demand(_ picos: Int64, _ model: String = "gpt-4o") -> KeyDemand { KeyDemand(hold: Money(picos: picos), tokens: 0, model: model) }

    func lease(_ admission: KeyLimiter.Admission) -> KeyLease? {
        if case .admitted(let lease) = admission { return lease }
        return nil
    }

    func refusal(_ admission: KeyLimiter.Admission) -> KeyRefusal? {
        if case .refused(let refusal) = admission { return refusal }
        return nil
    }

    /// Runs 200 requests at once, each holding and then spending `picos`; returns how many were admitted.
    func twoHundred(_ limiter: KeyLimiter, keys: [KeyEntry], owner: Owner? = nil, picos: Int64, model: String = "gpt-4o") async -> Int {
        await withTaskGroup(of: Bool.self) { group in
            for index in 0..<200 {
                let key = keys[index % keys.count]
                group.addTask {
                    guard case .admitted(let lease) = await limiter.admit(key, owner: owner, demand: demand(picos, model)) else { return false }
                    await Task.yield()
                    lease.settle(cost: Money(picos: picos), tokens: 0)
                    return true
                }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
    }

    @Test func aBudgetWithADurationHoldsExactlyUnderConcurrencyAndResetsOnSchedule() async {
        let limiter = KeyLimiter(clock: clock)
        var budgeted = key {
            $0.budget = Money(picos: 100_000)
            $0.budgetDurationHours = 72
        }
        budgeted.policy.anchorBudget(previous: nil, now: clock.now().addingTimeInterval(-3600))  // set at 07:xx: periods start 07:00
        #expect(await twoHundred(limiter, keys: [budgeted], picos: 1_000) == 100)
        #expect(limiter.usage(of: budgeted).budgetSpent == Money(picos: 100_000))
        #expect(refusal(await limiter.admit(budgeted, demand: demand(1))) == .quotaExhausted("budget"))
        clock.advance(by: .seconds(70 * 3600))  // 06:00 three days on: still the first period
        #expect(refusal(await limiter.admit(budgeted, demand: demand(1))) == .quotaExhausted("budget"))
        #expect(limiter.usage(of: budgeted).budgetResetsAt == Date(timeIntervalSince1970: 1_800_000_000 - 3600 + 72 * 3600))
        clock.advance(by: .seconds(3600))  // 07:00: the next period
        #expect(lease(await limiter.admit(budgeted, demand: demand(100_000))) != nil)
    }

    @Test func aBudgetSetOnALiveKeyCountsWhatTheHourHasSpentAlready() async {
        let limiter = KeyLimiter(clock: clock)
        clock.advance(by: .seconds(600))  // 08:10
        lease(await limiter.admit(key { _ in }, demand: demand(0)))?.settle(cost: Money(picos: 500), tokens: 0)
        clock.advance(by: .seconds(600))  // 08:20: an admin sets a daily budget of 1,000
        let budgeted = key {
            $0.budget = Money(picos: 1_000)
            $0.budgetDurationHours = 24
            $0.anchorBudget(previous: nil, now: Date(timeIntervalSince1970: 1_800_001_200))
        }
        #expect(refusal(await limiter.admit(budgeted, demand: demand(501))) == .quotaExhausted("budget"), "the 500 spent at 08:10 counts")
        #expect(lease(await limiter.admit(budgeted, demand: demand(500))) != nil)
    }

    @Test func aBudgetWithoutADurationCapsTheKeysLifetimeSpending() async {
        let limiter = KeyLimiter(clock: clock)
        limiter.restore([1: KeyBaseline(spent: Money(picos: 900), tokens: 0, today: .zero, day: .distantPast)])
        let budgeted = key { $0.budget = Money(picos: 1_000) }
        #expect(refusal(await limiter.admit(budgeted, demand: demand(101))) == .quotaExhausted("budget"))
        #expect(lease(await limiter.admit(budgeted, demand: demand(100))) != nil)
    }

    @Test func aModelBudgetCapsEveryModelItsGlobMatchesExactlyUnderConcurrency() async {
        let limiter = KeyLimiter(clock: clock)
        let capped = key { $0.modelBudgets = [ModelBudget(pattern: "claude-opus-*", daily: Money(picos: 100_000))] }
        // Half the cap went to one opus model before a restart; the rest goes to another under 200 concurrent requests.
        var baseline = KeyBaseline(spent: .zero, tokens: 0, today: .zero, day: Periods.dayStart(of: clock.now()))
        baseline.models = [
            "claude-opus-4-1": PeriodTotals(starts: Periods.starts(of: clock.now()), day: Money(picos: 50_000), week: .zero, month: .zero)
        ]
        limiter.restore([1: baseline])
        #expect(await twoHundred(limiter, keys: [capped], picos: 1_000, model: "claude-opus-4-5") == 50)
        #expect(await twoHundred(limiter, keys: [capped], picos: 1_000, model: "claude-sonnet-4-5") == 200, "other models are not capped")
        guard case .modelBudget(let refused)? = refusal(await limiter.admit(capped, demand: demand(1, "claude-opus-4-1"))) else {
            Issue.record("expected the model budget")
            return
        }
        #expect(refused == ModelBudgetRefusal(owner: "key", pattern: "claude-opus-*", period: "daily"))
        #expect(limiter.usage(of: capped).models["claude-opus-4-5"]?.day == Money(picos: 50_000))
        clock.advance(by: .seconds(16 * 3600))  // midnight UTC: a new day
        #expect(lease(await limiter.admit(capped, demand: demand(100_000, "claude-opus-4-1"))) != nil)
    }

    @Test func aUsersModelBudgetCoversAllItsKeysTogether() async {
        let limiter = KeyLimiter(clock: clock)
        var user = UserEntry(id: 7, name: "team")
        user.limits.modelBudgets = [ModelBudget(pattern: "gpt-5*", weekly: Money(picos: 60_000))]
        let owner = Owner(user: user, group: nil)
        let keys = (1...4).map { id in key(id: Int64(id)) { $0.user = "team" } }
        #expect(await twoHundred(limiter, keys: keys, owner: owner, picos: 1_000, model: "gpt-5-mini") == 60)
        guard case .modelBudget(let refused)? = refusal(await limiter.admit(keys[0], owner: owner, demand: demand(1, "gpt-5"))) else {
            Issue.record("expected the user's model budget")
            return
        }
        #expect(refused.owner == "user" && refused.period == "weekly")
    }

    @Test func aUsersConcurrencyHoldsAcrossItsKeysAndItsQueueHandsSlotsOver() async throws {
        let limiter = KeyLimiter(clock: clock)
        var user = UserEntry(id: 7, name: "team")
        user.limits = UserLimits(concurrency: 2, maxWaiting: 1)
        let owner = Owner(user: user, group: nil)
        let a = key(id: 1) { $0.user = "team" }
        let b = key(id: 2) { $0.user = "team" }
        let first = try #require(lease(await limiter.admit(a, owner: owner, demand: demand(0))))
        let second = try #require(lease(await limiter.admit(b, owner: owner, demand: demand(0))))
        async let third = limiter.admit(b, owner: owner, demand: demand(0), waitTimeout: .seconds(600))
        while limiter.slots(of: user).waiting == 0 { await Task.yield() }
        #expect(refusal(await limiter.admit(a, owner: owner, demand: demand(0))) == .userConcurrency, "the user's queue holds one")
        first.settle(cost: .zero, tokens: 0)
        let handed = try #require(lease(await third))
        #expect(limiter.slots(of: user) == (2, 0))
        second.settle(cost: .zero, tokens: 0)
        handed.settle(cost: .zero, tokens: 0)
        #expect(limiter.slots(of: user) == (0, 0))
    }

    @Test func twoHundredRequestsOverFourKeysNeverPassTheUsersConcurrency() async {
        let limiter = KeyLimiter(clock: clock)
        var user = UserEntry(id: 7, name: "team")
        user.limits = UserLimits(concurrency: 5, maxWaiting: 200)
        let owner = Owner(user: user, group: nil)
        let keys = (1...4).map { id in key(id: Int64(id)) { $0.user = "team" } }
        let peak = Peak()
        let admitted = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<200 {
                group.addTask {
                    guard
                        case .admitted(let lease) = await limiter.admit(keys[index % 4], owner: owner, demand: demand(0), waitTimeout: .seconds(600))
                    else { return false }
                    peak.enter()
                    await Task.yield()
                    peak.leave()
                    lease.settle(cost: .zero, tokens: 0)
                    return true
                }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(admitted == 200, "every request waited its turn in the user's queue")
        #expect(peak.most <= 5)
        #expect(limiter.slots(of: user) == (0, 0))
    }

    @Test func aUsageResetStartsTheChosenCountersAgainOnceAndLeavesTheOthers() async throws {
        let limiter = KeyLimiter(clock: clock)
        var limited = key {
            $0.dailyCost = Money(picos: 1_000)
            $0.tokenLimit = 100
            $0.rateLimit = .init(windowMinutes: 60, requests: 1)
        }
        lease(await limiter.admit(limited, demand: KeyDemand(hold: Money(picos: 1_000), tokens: 100)))?.settle(
            cost: Money(picos: 1_000), tokens: 100)
        #expect(refusal(await limiter.admit(limited, demand: demand(1))) != nil)
        let reset = limiter.resetUsage(limited, parts: [.daily, .tokens])
        #expect(reset.tokens == 100 && reset.day == Money(picos: 1_000) && reset.parts == [.daily, .tokens])
        // The window was not reset: its one request still counts.
        guard case .rateLimited? = refusal(await limiter.admit(limited, demand: demand(1))) else {
            Issue.record("expected the window")
            return
        }
        // The stored reset reaches the limiter with the key's policy: applied once, not again.
        limited.policy.usageReset = reset
        clock.advance(by: .seconds(3600))
        let next = try #require(lease(await limiter.admit(limited, demand: KeyDemand(hold: Money(picos: 600), tokens: 60))))
        next.settle(cost: Money(picos: 600), tokens: 60)
        #expect(limiter.usage(of: limited).today == Money(picos: 600) && limiter.usage(of: limited).tokens == 60)
        // A second reset adds to the offsets a restart subtracts.
        let again = limiter.resetUsage(limited, parts: [.tokens])
        #expect(again.tokens == 160 && again.day == Money(picos: 1_000))
        #expect(again.tokens(fromTotal: 170) == 10)
        #expect(again.day(Money(picos: 1_700), dayStart: Periods.dayStart(of: clock.now())) == Money(picos: 700))
    }

    @Test func aUsageResetMadeByAnotherProcessIsAppliedWhenItsPolicyArrives() async {
        let limiter = KeyLimiter(clock: clock)
        var limited = key { $0.tokenLimit = 100 }
        lease(await limiter.admit(limited, demand: KeyDemand(hold: .zero, tokens: 100)))?.settle(cost: .zero, tokens: 100)
        #expect(refusal(await limiter.admit(limited, demand: KeyDemand(hold: .zero, tokens: 1))) == .quotaExhausted("token_limit"))
        let before = limited
        limited.policy.usageReset = UsageReset.next(
            after: nil, parts: [.tokens], at: clock.now(), tokens: 100, day: .zero, dayStart: Periods.dayStart(of: clock.now()))
        lease(await limiter.admit(limited, demand: KeyDemand(hold: .zero, tokens: 60)))?.settle(cost: .zero, tokens: 60)
        // A request still holding the key as it was before the reset does not start the count again.
        #expect(refusal(await limiter.admit(before, demand: KeyDemand(hold: .zero, tokens: 41))) == .quotaExhausted("token_limit"))
        #expect(limiter.usage(of: limited).tokens == 60)
    }

    @Test func aUsersQueueAdmitsUnderTheUsersLimitsAsTheyAreNow() async throws {
        let current = Mutex(UserEntry(id: 7, name: "team"))
        current.withLock { $0.limits = UserLimits(concurrency: 3, maxWaiting: 5) }
        let limiter = KeyLimiter(clock: clock, currentOwner: { id in current.withLock { Owner(user: $0, group: nil) } })
        let owner = current.withLock { Owner(user: $0, group: nil) }
        let keyed = key { $0.user = "team" }
        var leases: [KeyLease] = []
        for _ in 0..<3 { leases.append(try #require(lease(await limiter.admit(keyed, owner: owner, demand: demand(0))))) }
        async let fourth = limiter.admit(keyed, owner: owner, demand: demand(0), waitTimeout: .seconds(600))
        while limiter.slots(of: owner.user).waiting == 0 { await Task.yield() }
        current.withLock { $0.limits.concurrency = 1 }  // an admin lowers it while one waits
        leases.removeLast().settle(cost: .zero, tokens: 0)
        #expect(limiter.slots(of: owner.user) == (2, 1), "two in flight are already over the new limit: the waiter stays queued")
        for held in leases { held.settle(cost: .zero, tokens: 0) }
        let admitted = try #require(lease(await fourth))
        #expect(limiter.slots(of: owner.user) == (1, 0))
        admitted.settle(cost: .zero, tokens: 0)
    }

    @Test func aBudgetPeriodHasAStartBeforeItsAnchorToo() {
        var policy = KeyPolicy()
        policy.budget = Money(picos: 1)
        policy.budgetDurationHours = 24
        policy.anchorBudget(previous: nil, now: clock.now())  // 08:00
        let earlier = clock.now().addingTimeInterval(-30 * 3600)  // the day before, 02:00
        #expect(policy.budgetPeriod(at: earlier)?.start == clock.now().addingTimeInterval(-48 * 3600))
        policy.budgetAnchorHour = .min
        #expect(policy.budgetPeriod(at: earlier) == nil && policy.problem != nil, "a stored anchor out of range is refused, never computed with")
    }

    @Test func aGroupsMultiplierForAModelGlobWinsByTheLongestMatch() {
        var group = GroupEntry(id: 1, name: "resellers", multiplierPPM: 1_200_000)
        group.modelMultipliers = ["claude-*": 1_500_000, "claude-opus-*": 2_000_000, "claude-opus-4-1": 900_000]
        #expect(group.multiplierPPM(for: "gpt-4o") == 1_200_000)
        #expect(group.multiplierPPM(for: "claude-sonnet-4-5") == 1_500_000)
        #expect(group.multiplierPPM(for: "claude-opus-4-5") == 2_000_000)
        #expect(group.multiplierPPM(for: "claude-opus-4-1") == 900_000)
        let owner = Owner(user: UserEntry(id: 1, name: "u", group: "resellers"), group: group).pricing("claude-opus-4-5")
        #expect(owner.group?.charge(Money(picos: 1_000)) == Money(picos: 2_000))
    }
}

/// The most requests seen in flight at once.
final class Peak: Sendable {
    private let counts = Mutex((now: 0, most: 0))

    func enter() {
        counts.withLock {
            $0.now += 1
            $0.most = max($0.most, $0.now)
        }
    }

    func leave() { counts.withLock { $0.now -= 1 } }

    var most: Int { counts.withLock { $0.most } }
}
