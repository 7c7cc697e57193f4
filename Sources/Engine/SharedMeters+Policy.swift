import Policy
import Storage
import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension Gateway {
    /// The shared meters a request on `key` must pass besides the key's own
    /// row and its user's balance: every limit of the key and its owner that
    /// counts over a period, a window or a lifetime, in the order the local
    /// limiter explains a refusal. Each meter's name carries its owner, what
    /// it counts and its period (and the key's last usage reset, for what a
    /// reset starts again), so every replica names the same meter alike.
    static func sharedMeters(for key: KeyEntry, owner: Owner?, demand: KeyDemand, now: Date) -> [SharedMeter] {
        let policy = key.policy
        let hold = max(demand.hold.picos, 0)
        let starts = Periods.starts(of: now)
        let reset = policy.usageReset
        // A usage reset starts again only what it reset: a window's meters are named for the last reset of the
        // window, the lifetime tokens for what resets took off them, today's cost for what a reset took off today.
        let windowTag = reset.flatMap { $0.parts.contains(.window) ? ".r\($0.atMilliseconds)" : nil } ?? ""
        let tokensTag = reset.flatMap { $0.tokens > 0 ? ".o\($0.tokens)" : nil } ?? ""
        let k = "k\(key.id)"
        var meters: [SharedMeter] = []
        if let rate = policy.rateLimit {
            let window = Int64(rate.windowMinutes).saturatingMultiply(60_000)
            if let cap = rate.tokens {
                meters.append(
                    SharedMeter(
                        name: "\(k).window-tokens.\(window)\(windowTag)", cap: cap, need: 1, hold: 0, unit: .tokens, windowMilliseconds: window,
                        refusal: .rateLimited(until: now, what: "tokens")))
            }
            if let cap = rate.cost {
                meters.append(
                    SharedMeter(
                        name: "\(k).window-cost.\(window)\(windowTag)", cap: cap.picos, need: hold, hold: hold, windowMilliseconds: window,
                        refusal: .rateLimited(until: now, what: "cost")))
            }
        }
        if let limit = policy.tokenLimit {
            meters.append(
                SharedMeter(
                    name: "\(k).tokens\(tokensTag)", cap: limit, need: max(demand.tokens, 0), hold: max(demand.tokens, 0), unit: .tokens,
                    origin: .keyTokens(keyID: key.id, less: reset?.tokens ?? 0), refusal: .quotaExhausted("token_limit")))
        }
        meters += periodMeters([policy.dailyCost, policy.weeklyCost, policy.monthlyCost], starts: starts, hold: hold) { period, startMs in
            // A usage reset starts today's cost again: today's meter is named for what it took off, and counts from there.
            let less = period.name == "day" ? reset.map { $0.dayStartMilliseconds == startMs ? $0.day : .zero } ?? .zero : .zero
            return (
                "\(k).\(period.name).\(startMs)\(less > .zero ? ".o\(less.picos)" : "")", .keyCost(keyID: key.id, since: period.start, less: less),
                .quotaExhausted("\(period.adjective)_cost")
            )
        }
        if let budget = policy.budget {
            if let period = policy.budgetPeriod(at: now) {
                meters.append(
                    SharedMeter(
                        name: "\(k).budget.\(period.start.millisecondsSince1970)", cap: budget.picos, need: hold, hold: hold,
                        expiresAt: period.end.addingTimeInterval(86_400),
                        origin: .keyCost(keyID: key.id, since: period.start, less: .zero), refusal: .quotaExhausted("budget")))
            } else {
                meters.append(
                    SharedMeter(
                        name: "\(k).budget", cap: budget.picos, need: hold, hold: hold, origin: .keyTotal(keyID: key.id),
                        refusal: .quotaExhausted("budget")))
            }
        }
        meters += modelMeters(
            policy.modelBudgets, prefix: k, owner: "key", model: demand.model, hold: hold, starts: starts,
            origin: { .keyModelCost(keyID: key.id, pattern: $0, since: $1) })
        guard let owner else { return meters }
        let u = "u\(owner.user.id)"
        if let cap = owner.user.limits.concurrency {
            meters.append(SharedMeter(name: "\(u).slots", cap: nil, need: 0, hold: 0, slotCap: cap, refusal: .userConcurrency))
        }
        if let group = owner.group {
            meters += periodMeters([group.daily, group.weekly, group.monthly], starts: starts, hold: hold) { period, startMs in
                (
                    "\(u).\(period.name).\(startMs)", .userCost(user: owner.user.name, since: period.start),
                    .quotaExhausted("subscription_\(period.adjective)")
                )
            }
        }
        meters += modelMeters(
            owner.user.limits.modelBudgets, prefix: u, owner: "user", model: demand.model, hold: hold, starts: starts,
            origin: { .userModelCost(user: owner.user.name, pattern: $0, since: $1) })
        // One hold per meter, whatever names the same one twice.
        var named = Set<String>()
        return meters.filter { named.insert($0.name).inserted }
    }

    /// A meter per cap of each model budget whose glob covers the request's model.
    private static func modelMeters(
        _ budgets: [ModelBudget]?, prefix: String, owner: String, model: String, hold: Int64, starts: (day: Date, week: Date, month: Date),
        origin: @escaping (String, Date) -> SharedMeter.Origin
    ) -> [SharedMeter] {
        guard !model.isEmpty else { return [] }
        return (budgets ?? []).filter { Glob.matches($0.pattern, model) }.flatMap { budget in
            periodMeters([budget.daily, budget.weekly, budget.monthly], starts: starts, hold: hold) { period, startMs in
                (
                    "\(prefix).model.\(period.adjective).\(startMs).\(budget.pattern)", origin(budget.pattern, period.start),
                    .modelBudget(ModelBudgetRefusal(owner: owner, pattern: budget.pattern, period: period.adjective))
                )
            }
        }
    }

    /// A UTC day, ISO week or calendar month: what a period's meter is named for, and how long its row is kept after it starts.
    private struct Period {
        var name: String
        var adjective: String
        var start: Date
        var lasts: Int64
    }

    /// One meter per capped period, `caps` in day, week, month order: each holds the request's hold against
    /// its cap; `describe` names it, says where its count starts and what its refusal says.
    private static func periodMeters(
        _ caps: [Money?], starts: (day: Date, week: Date, month: Date), hold: Int64,
        describe: (Period, Int64) -> (name: String, origin: SharedMeter.Origin, refusal: KeyRefusal)
    ) -> [SharedMeter] {
        let day: Int64 = 86_400_000
        let periods = [
            Period(name: "day", adjective: "daily", start: starts.day, lasts: 2 * day),
            Period(name: "week", adjective: "weekly", start: starts.week, lasts: 8 * day),
            Period(name: "month", adjective: "monthly", start: starts.month, lasts: 32 * day),
        ]
        return zip(periods, caps).compactMap { period, cap in
            guard let cap else { return nil }
            let startMs = period.start.millisecondsSince1970
            let (name, origin, refusal) = describe(period, startMs)
            return SharedMeter(
                name: name, cap: cap.picos, need: hold, hold: hold, expiresAt: Date(millisecondsSince1970: startMs.saturatingAdd(period.lasts)),
                origin: origin, refusal: refusal)
        }
    }
}
