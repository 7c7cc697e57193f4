import Foundation
import Policy
import SwitchboardCore

/// What `GET /v1/usage` tells a key about itself: its plan, what remains of the
/// tightest budget (-1 when nothing is limited), the unit, and its window.
struct KeyUsageReport: Encodable {
    var key: String
    /// `balance`, `daily`, `tokens`, or `unlimited`: the budget `remaining` is read from.
    var plan: String
    var remaining: Double
    var unit: String
    var todayCostUsd: Double
    var totalCostUsd: Double
    var totalTokens: Int64
    var inFlight: Int
    var window: Window?

    struct Window: Encodable {
        var minutes: Int
        var requests: Int
        var requestLimit: Int?
        var tokens: Int64
        var tokenLimit: Int64?
        var costUsd: Double
        var costLimitUsd: Double?
        var resetSeconds: Int
    }

    init(key entry: KeyEntry, usage: KeyUsage, owner: Owner? = nil, ownerRemaining: Money? = nil) {
        let policy = entry.policy
        key = entry.name
        func usd(_ amount: Money) -> Double { Double(amount.picos) / Double(Money.picosPerDollar) }
        // The least remaining of the money budgets decides; tokens only when no money is limited.
        var candidates: [(String, Double)] = []
        if let balance = usage.balanceRemaining { candidates.append(("balance", usd(max(.zero, balance)))) }
        if let daily = policy.dailyCost { candidates.append(("daily", usd(max(.zero, daily - usage.today - usage.held)))) }
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
