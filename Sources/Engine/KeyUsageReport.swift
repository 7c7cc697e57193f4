import Policy
import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What `GET /v1/usage` tells a key about itself: its plan, what remains of the
/// tightest budget (-1 when nothing is limited), the unit, and its window.
/// `isValid` and `planName` are spelled as sub2api-style gateways spell them,
/// so usage scripts written for those (CC Switch) read this unchanged; the
/// other members are snake_case. Encoded with `encoded()`, not `AdminJSON`
/// (whose snake_case conversion would rename those two).
struct KeyUsageReport: Encodable {
    var key: String
    /// Whether the key can still be used: not out of its budget.
    var isValid: Bool
    /// The plan's name, as `plan`.
    var planName: String
    /// `balance`, `daily`, `tokens`, or `unlimited`: the budget `remaining` is read from.
    var plan: String
    var remaining: Double
    var unit: String
    var todayCostUsd: Double
    var totalCostUsd: Double
    var totalTokens: Int64
    var inFlight: Int
    var window: Window?

    enum CodingKeys: String, CodingKey {
        case key, isValid, planName, plan, remaining, unit, window
        case todayCostUsd = "today_cost_usd"
        case totalCostUsd = "total_cost_usd"
        case totalTokens = "total_tokens"
        case inFlight = "in_flight"
    }

    /// The report's JSON, member names as they are.
    func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(self)
    }

    struct Window: Encodable {
        var minutes: Int
        var requests: Int
        var requestLimit: Int?
        var tokens: Int64
        var tokenLimit: Int64?
        var costUsd: Double
        var costLimitUsd: Double?
        var resetSeconds: Int

        enum CodingKeys: String, CodingKey {
            case minutes, requests, tokens
            case requestLimit = "request_limit"
            case tokenLimit = "token_limit"
            case costUsd = "cost_usd"
            case costLimitUsd = "cost_limit_usd"
            case resetSeconds = "reset_seconds"
        }
    }

    init(key entry: KeyEntry, usage: KeyUsage, owner: Owner? = nil, ownerRemaining: Money? = nil) {
        let policy = entry.policy
        key = entry.name
        func usd(_ amount: Money) -> Double { Double(amount.picos) / Double(Money.picosPerDollar) }
        // The least remaining of the money budgets decides; tokens only when no money is limited.
        var candidates: [(String, Double)] = []
        if let balance = usage.balanceRemaining { candidates.append(("balance", usd(max(.zero, balance)))) }
        if let daily = policy.dailyCost { candidates.append(("daily", usd(max(.zero, daily - usage.today - usage.held)))) }
        if let weekly = policy.weeklyCost { candidates.append(("weekly", usd(max(.zero, weekly - usage.week - usage.held)))) }
        if let monthly = policy.monthlyCost { candidates.append(("monthly", usd(max(.zero, monthly - usage.month - usage.held)))) }
        if let owner, let left = ownerRemaining {
            // A subscription is named after its group; otherwise it is the owner's balance.
            let plan = owner.group?.hasSubscription == true ? owner.group!.name : "balance"
            candidates.append((plan, usd(max(.zero, left))))
        }
        if let best = candidates.min(by: { $0.1 < $1.1 }) {
            (plan, remaining, unit) = (best.0, best.1, "USD")
        } else if let limit = policy.tokenLimit {
            (plan, remaining, unit) = ("tokens", Double(max(0, limit.saturatingAdd(-usage.tokens))), "tokens")
        } else {
            (plan, remaining, unit) = ("unlimited", -1, "USD")
        }
        planName = plan
        isValid = remaining != 0
        todayCostUsd = usd(usage.today)
        totalCostUsd = usd(usage.spent)
        totalTokens = usage.tokens
        inFlight = usage.inFlight
        window = policy.rateLimit.map { rate in
            Window(
                minutes: rate.windowMinutes, requests: usage.windowRequests, requestLimit: rate.requests,
                tokens: usage.windowTokens, tokenLimit: rate.tokens, costUsd: usd(usage.windowCost),
                costLimitUsd: rate.cost.map(usd), resetSeconds: usage.windowResetSeconds)
        }
    }
}
