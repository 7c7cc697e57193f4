import Foundation
import Policy
import SwitchboardCore

/// An admin's change to a key's settings, from JSON with the config file's
/// names. Only these settings can change; usage, hashes and owners of other
/// records cannot be set this way (unknown fields are refused). `null` removes
/// a limit.
public enum KeySettings {
    /// The fields an admin request may carry.
    public static let fields =
        [
            "name", "key", "description", "tags", "user", "expires_at", "expires_in_days", "activate_on_first_use_days", "on_expiry", "providers",
            "models", "clients", "ip_allow", "ip_deny",
            "rate_limit", "concurrency", "max_waiting", "token_limit", "daily_cost_usd", "weekly_cost_usd", "monthly_cost_usd", "balance_usd",
            "enabled",
            "budget_usd", "budget_duration", "model_budgets",
        ] + SettingValue.bindingFields

    /// What the JSON asks for, applied to the current policy.
    public struct Change: Sendable {
        public var policy: KeyPolicy
        public var enabled: Bool?
        /// `.some(nil)` removes the expiry.
        public var expiresAt: Date??
        /// An expiry this many days from the key's creation (a new key) or from now (a change).
        public var expiresInDays: Int?
        /// A plaintext key to use instead of a generated one (create only).
        public var key: String?

        /// The expiry `expires_in_days` asks for, counted from `start`.
        public func expiry(from start: Date) -> Date? {
            expiresInDays.map { start.addingTimeInterval(Double($0) * 86_400) }
        }
    }

    /// Applies the fields of `json` to `policy`; a new or changed
    /// `budget_duration` starts its first period in the hour holding `now`.
    public static func apply(_ json: [String: JSONValue], to policy: KeyPolicy, now: Date = Date()) throws(AdminError) -> Change {
        if let unknown = json.keys.sorted().first(where: { !fields.contains($0) }) {
            throw AdminError(.invalid, "unknown setting \(unknown); known: \(fields.joined(separator: ", "))")
        }
        let expiries = ["expires_at", "expires_in_days", "activate_on_first_use_days"].filter { json[$0].map { $0 != .null } ?? false }
        if expiries.count > 1 { throw AdminError(.invalid, "\(expiries.joined(separator: " and ")) are set; keep one") }
        var change = Change(policy: policy)
        var p = policy
        for (name, value) in json {
            switch name {
            case "name": break
            case "key": change.key = try SettingValue.text(value, name)
            case "description": p.description = try SettingValue.text(value, name)
            case "user": p.user = try SettingValue.text(value, name)
            case "tags": p.tags = try SettingValue.list(value, name)
            case "models": p.models = try SettingValue.list(value, name)
            case "clients": p.clients = try SettingValue.list(value, name)
            case "ip_allow": p.ipAllow = try SettingValue.ranges(value, name)
            case "ip_deny": p.ipDeny = try SettingValue.ranges(value, name)
            case "providers":
                p.providers = try SettingValue.list(value, name).map { names throws(AdminError) in
                    var providers: [Provider] = []
                    for item in names {
                        guard let provider = Provider(rawValue: item) else {
                            throw AdminError(.invalid, "providers: \(item) is not openai, anthropic or gemini")
                        }
                        providers.append(provider)
                    }
                    return providers
                }
            case "on_expiry":
                let text = try SettingValue.text(value, name)
                guard text == nil || text == "disable" || text == "delete" else { throw AdminError(.invalid, "on_expiry must be disable or delete") }
                p.onExpiry = text
            case "expires_at":
                if value == .null {
                    change.expiresAt = .some(nil)
                    break
                }
                guard case .string(let raw) = value, let date = WireDate.rfc3339(raw.trimmingCharacters(in: .whitespaces)) else {
                    throw AdminError(.invalid, "expires_at must be a time such as 2027-01-01T00:00:00Z, or null")
                }
                change.expiresAt = .some(date)
            case "expires_in_days":
                change.expiresInDays = try SettingValue.whole(value, name, minimum: 1, maximum: Int64(KeyPolicy.maxDays)).map(Int.init)
            case "enabled": change.enabled = try SettingValue.flag(value, name)
            case "activate_on_first_use_days":
                p.activateOnFirstUseDays = try SettingValue.whole(value, name, minimum: 1, maximum: Int64(KeyPolicy.maxDays)).map(Int.init)
            case "concurrency": p.concurrency = try SettingValue.whole(value, name, minimum: 1).map(Int.init)
            case "max_waiting": p.maxWaiting = try SettingValue.whole(value, name, minimum: 0).map(Int.init)
            case "token_limit": p.tokenLimit = try SettingValue.whole(value, name, minimum: 1)
            case "daily_cost_usd": p.dailyCost = try SettingValue.dollars(value, name)
            case "weekly_cost_usd": p.weeklyCost = try SettingValue.dollars(value, name)
            case "monthly_cost_usd": p.monthlyCost = try SettingValue.dollars(value, name)
            case "balance_usd": p.balance = try SettingValue.dollars(value, name)
            case "budget_usd": p.budget = try SettingValue.dollars(value, name)
            case "budget_duration": p.budgetDurationHours = try SettingValue.budgetHours(value, name)
            case "model_budgets": p.modelBudgets = try SettingValue.modelBudgets(value, name)
            case "rate_limit":
                if value == .null {
                    p.rateLimit = nil
                    break
                }
                guard case .object(let rate) = value else { throw AdminError(.invalid, "rate_limit must be an object or null") }
                if let unknown = rate.keys.first(where: { !["window_minutes", "requests", "tokens", "cost_usd"].contains($0) }) {
                    throw AdminError(.invalid, "rate_limit: unknown field \(unknown)")
                }
                p.rateLimit = KeyPolicy.RateLimit(
                    windowMinutes: Int(
                        try rate["window_minutes"].flatMap { v throws(AdminError) in
                            try SettingValue.whole(v, "rate_limit.window_minutes", minimum: 1, maximum: Int64(KeyPolicy.RateLimit.maxWindowMinutes))
                        } ?? 1),
                    requests: try rate["requests"].flatMap { v throws(AdminError) in try SettingValue.whole(v, "rate_limit.requests", minimum: 1) }
                        .map(Int.init),
                    tokens: try rate["tokens"].flatMap { v throws(AdminError) in try SettingValue.whole(v, "rate_limit.tokens", minimum: 1) },
                    cost: try rate["cost_usd"].flatMap { v throws(AdminError) in try SettingValue.dollars(v, "rate_limit.cost_usd") })
            default: break
            }
        }
        if p.budgetDurationHours != nil, p.budget == nil { throw AdminError(.invalid, "budget_duration needs budget_usd") }
        p.binding = try SettingValue.binding(json, current: p.binding)
        p.anchorBudget(previous: policy, now: now)
        change.policy = p
        return change
    }
}
