import Foundation
import Policy
import Storage
import SwitchboardCore

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
        let day: Int64 = 86_400_000
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
        let periods: [(name: String, cap: Money?, start: Date, lasts: Int64, refusal: String)] = [
            ("day", policy.dailyCost, starts.day, 2 * day, "daily_cost"), ("week", policy.weeklyCost, starts.week, 8 * day, "weekly_cost"),
            ("month", policy.monthlyCost, starts.month, 32 * day, "monthly_cost"),
        ]
        for period in periods {
            guard let cap = period.cap else { continue }
            let startMs = period.start.millisecondsSince1970
            // A usage reset starts today's cost again: today's meter is named for what it took off, and counts from there.
            let less = period.name == "day" ? reset.map { $0.dayStartMilliseconds == startMs ? $0.day : .zero } ?? .zero : .zero
            meters.append(
                SharedMeter(
                    name: "\(k).\(period.name).\(startMs)\(less > .zero ? ".o\(less.picos)" : "")", cap: cap.picos, need: hold, hold: hold,
                    expiresAt: Date(millisecondsSince1970: startMs.saturatingAdd(period.lasts)),
                    origin: .keyCost(keyID: key.id, since: period.start, less: less), refusal: .quotaExhausted(period.refusal)))
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
            let subscription: [(name: String, cap: Money?, start: Date, lasts: Int64, refusal: String)] = [
                ("day", group.daily, starts.day, 2 * day, "subscription_daily"),
                ("week", group.weekly, starts.week, 8 * day, "subscription_weekly"),
                ("month", group.monthly, starts.month, 32 * day, "subscription_monthly"),
            ]
            for period in subscription {
                guard let cap = period.cap else { continue }
                let startMs = period.start.millisecondsSince1970
                meters.append(
                    SharedMeter(
                        name: "\(u).\(period.name).\(startMs)", cap: cap.picos, need: hold, hold: hold,
                        expiresAt: Date(millisecondsSince1970: startMs.saturatingAdd(period.lasts)),
                        origin: .userCost(user: owner.user.name, since: period.start), refusal: .quotaExhausted(period.refusal)))
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
        origin: (String, Date) -> SharedMeter.Origin
    ) -> [SharedMeter] {
        guard !model.isEmpty else { return [] }
        let day: Int64 = 86_400_000
        var meters: [SharedMeter] = []
        for budget in budgets ?? [] where Glob.matches(budget.pattern, model) {
            let caps: [(period: String, cap: Money?, start: Date, lasts: Int64)] = [
                ("daily", budget.daily, starts.day, 2 * day), ("weekly", budget.weekly, starts.week, 8 * day),
                ("monthly", budget.monthly, starts.month, 32 * day),
            ]
            for cap in caps {
                guard let amount = cap.cap else { continue }
                let startMs = cap.start.millisecondsSince1970
                meters.append(
                    SharedMeter(
                        name: "\(prefix).model.\(cap.period).\(startMs).\(budget.pattern)", cap: amount.picos, need: hold, hold: hold,
                        expiresAt: Date(millisecondsSince1970: startMs.saturatingAdd(cap.lasts)), origin: origin(budget.pattern, cap.start),
                        refusal: .modelBudget(ModelBudgetRefusal(owner: owner, pattern: budget.pattern, period: cap.period))))
            }
        }
        return meters
    }
}
