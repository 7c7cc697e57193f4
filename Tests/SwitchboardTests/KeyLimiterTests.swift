import Foundation
import Policy
import SwitchboardCore
import SwitchboardTesting
import Testing

/// The key limiter's decisions on a mock clock.
@Suite struct KeyLimiterTests {
    let clock = MockClock(start: Date(timeIntervalSince1970: 1_800_000_000))  // 08:00 UTC

    func key(_ change: (inout KeyPolicy) -> Void) -> KeyEntry {
        var policy = KeyPolicy()
        change(&policy)
        return KeyEntry(id: 1, name: "k", enabled: true, expiresAt: nil, policy: policy)
    }

    func admitted(_ admission: KeyLimiter.Admission) -> KeyLease? {
        if case .admitted(let lease) = admission { return lease }
        return nil
    }

    @Test func aRefusedRequestConsumesNothing() async {
        let limiter = KeyLimiter(clock: clock)
        let key = key {
            $0.rateLimit = .init(windowMinutes: 1, requests: 2)
            $0.balance = Money(picos: 100)
        }
        let tooDear = await limiter.admit(key, demand: KeyDemand(hold: Money(picos: 101), tokens: 0))
        #expect(admitted(tooDear) == nil)
        // The refused request took no window entry: two fit.
        let a = admitted(await limiter.admit(key, demand: KeyDemand(hold: Money(picos: 50), tokens: 0)))
        let b = admitted(await limiter.admit(key, demand: KeyDemand(hold: Money(picos: 50), tokens: 0)))
        #expect(a != nil && b != nil)
        a?.settle(cost: Money(picos: 10), tokens: 5)
        b?.settle(cost: Money(picos: 10), tokens: 5)
        #expect(limiter.usage(of: key).balanceRemaining == Money(picos: 80))
    }

    /// The window's sums are kept as usage comes and leaves (not added up per
    /// request): they must equal a count of what settled in the last minute.
    @Test func theWindowsSumsFollowUsageAsItComesAndLeaves() async {
        let limiter = KeyLimiter(clock: clock)
        let key = key { $0.rateLimit = .init(windowMinutes: 1, requests: 10_000, tokens: 1_000_000) }
        var settled: [(at: Date, tokens: Int64, cost: Money)] = []
        for step in 0..<300 {
            let tokens = Int64(step % 7 + 1)
            let cost = Money(picos: Int64(step % 5) * 3)
            admitted(await limiter.admit(key, demand: KeyDemand(hold: .zero, tokens: 0)))?.settle(cost: cost, tokens: tokens)
            settled.append((clock.now(), tokens, cost))
            clock.advance(by: .milliseconds(700))
            let inWindow = settled.filter { $0.at > clock.now().addingTimeInterval(-60) }
            let usage = limiter.usage(of: key)
            #expect(usage.windowTokens == inWindow.reduce(0) { $0 + $1.tokens })
            #expect(usage.windowCost == inWindow.reduce(.zero) { $0 + $1.cost })
            #expect(usage.windowRequests == inWindow.count)
        }
    }

    @Test func aSaturatedWindowSumIsExactAgainOnceItsCauseLeaves() async {
        let limiter = KeyLimiter(clock: clock)
        let key = key { $0.rateLimit = .init(windowMinutes: 1) }
        admitted(await limiter.admit(key, demand: KeyDemand(hold: .zero, tokens: 0)))?.settle(cost: .max, tokens: .max)
        clock.advance(by: .seconds(30))
        admitted(await limiter.admit(key, demand: KeyDemand(hold: .zero, tokens: 0)))?.settle(cost: Money(picos: 7), tokens: 5)
        #expect(limiter.usage(of: key).windowTokens == .max && limiter.usage(of: key).windowCost == .max)
        clock.advance(by: .seconds(31))
        #expect(limiter.usage(of: key).windowTokens == 5 && limiter.usage(of: key).windowCost == Money(picos: 7))
    }

    @Test func dailyCostResetsAtUTCMidnightAndOverrunsAreCounted() async {
        let limiter = KeyLimiter(clock: clock)
        let key = key { $0.dailyCost = Money(picos: 100) }
        admitted(await limiter.admit(key, demand: KeyDemand(hold: Money(picos: 60), tokens: 0)))?.settle(cost: Money(picos: 90), tokens: 0)
        #expect(limiter.overrun == Money(picos: 30), "charged the real cost, and the excess over the hold is counted")
        guard case .refused(.quotaExhausted("daily_cost")) = await limiter.admit(key, demand: KeyDemand(hold: Money(picos: 20), tokens: 0)) else {
            Issue.record("expected the daily limit")
            return
        }
        clock.advance(by: .seconds(16 * 3600))  // past midnight UTC
        #expect(admitted(await limiter.admit(key, demand: KeyDemand(hold: Money(picos: 20), tokens: 0))) != nil)
    }

    @Test func weeklyAndMonthlyCostsResetWithTheirUTCWeekAndMonth() async {
        let limiter = KeyLimiter(clock: clock)  // Friday 2027-01-15 08:00 UTC
        let key = key {
            $0.weeklyCost = Money(picos: 100)
            $0.monthlyCost = Money(picos: 150)
        }
        // Spent earlier this week and month before a restart: 60 of this week's 100, 90 of this month's 150.
        limiter.restore([
            1: KeyBaseline(
                spent: .zero, tokens: 0, today: .zero, day: Periods.dayStart(of: clock.now()), week: Money(picos: 60), month: Money(picos: 90))
        ])
        func admit(_ hold: Int64) async -> KeyLimiter.Admission { await limiter.admit(key, demand: KeyDemand(hold: Money(picos: hold), tokens: 0)) }
        guard case .refused(.quotaExhausted("weekly_cost")) = await admit(41) else {
            Issue.record("expected the weekly limit")
            return
        }
        admitted(await admit(40))?.settle(cost: Money(picos: 40), tokens: 0)
        #expect(limiter.usage(of: key).week == Money(picos: 100) && limiter.usage(of: key).month == Money(picos: 130))
        clock.advance(by: .seconds(1_800_230_400 - 1_800_000_000))  // Monday 2027-01-18 00:00: a new week, the same month
        #expect(limiter.usage(of: key).week == .zero && limiter.usage(of: key).month == Money(picos: 130))
        guard case .refused(.quotaExhausted("monthly_cost")) = await admit(21) else {
            Issue.record("expected the monthly limit")
            return
        }
        admitted(await admit(20))?.settle(cost: Money(picos: 20), tokens: 0)
        clock.advance(by: .seconds(1_801_440_000 - 1_800_230_400))  // 2027-02-01: a new month
        #expect(admitted(await admit(100)) != nil)
    }

    @Test func twoHundredConcurrentRequestsNeverPassAWeeklyCap() async {
        let limiter = KeyLimiter(clock: clock)
        let key = key { $0.weeklyCost = Money(picos: 100_000) }
        let admitted = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<200 {
                group.addTask {
                    guard case .admitted(let lease) = await limiter.admit(key, demand: KeyDemand(hold: Money(picos: 1_000), tokens: 0)) else {
                        return false
                    }
                    await Task.yield()
                    lease.settle(cost: Money(picos: 1_000), tokens: 0)
                    return true
                }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(admitted == 100 && limiter.usage(of: key).week == Money(picos: 100_000))
    }

    @Test func lifetimeTokensCountWhatWasSpentBeforeARestart() async {
        let limiter = KeyLimiter(clock: clock)
        limiter.restore([1: KeyBaseline(spent: .zero, tokens: 990, today: .zero, day: .distantPast)])
        let key = key { $0.tokenLimit = 1000 }
        guard case .refused(.quotaExhausted("token_limit")) = await limiter.admit(key, demand: KeyDemand(hold: Money(picos: 0), tokens: 11)) else {
            Issue.record("expected the token limit")
            return
        }
        #expect(admitted(await limiter.admit(key, demand: KeyDemand(hold: Money(picos: 0), tokens: 10))) != nil)
    }

    @Test func aQueuedRequestTakesTheSlotAFinishingOneFrees() async throws {
        let limiter = KeyLimiter(clock: clock)
        let key = key {
            $0.concurrency = 1
            $0.maxWaiting = 1
        }
        let first = try #require(admitted(await limiter.admit(key, demand: KeyDemand(hold: Money(picos: 0), tokens: 0))))
        async let second = limiter.admit(key, demand: KeyDemand(hold: Money(picos: 0), tokens: 0), waitTimeout: .seconds(30))
        while limiter.usage(of: key).waiting == 0 { await Task.yield() }
        // The queue holds one: another is refused at once.
        guard case .refused(.concurrency) = await limiter.admit(key, demand: KeyDemand(hold: Money(picos: 0), tokens: 0), waitTimeout: .seconds(30))
        else {
            Issue.record("expected a full queue")
            return
        }
        first.settle(cost: Money(picos: 0), tokens: 0)
        let lease = try #require(admitted(await second))
        #expect(limiter.usage(of: key).inFlight == 1)
        lease.settle(cost: Money(picos: 0), tokens: 0)
        #expect(limiter.usage(of: key).inFlight == 0)
    }

    @Test func globsMatchWholeNames() {
        #expect(Glob.matches("claude-*", "claude-sonnet-4-5"))
        #expect(!Glob.matches("claude-*", "gpt-4o"))
        #expect(Glob.matches("claude-cli/*", "claude-cli/2.0.1 (external, cli)"))
        #expect(Glob.matches("gpt-4o-mini", "gpt-4o-mini") && !Glob.matches("gpt-4o", "gpt-4o-mini"))
        #expect(Glob.matches("*-mini", "gpt-4o-mini") && Glob.matches("g?t-*", "gpt-4o"))
    }
}
