import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What a downstream key may do and spend. Absent fields mean "no limit" or
/// "everything allowed". Stored as one JSON document beside the key.
public struct KeyPolicy: Sendable, Equatable, Codable {
    /// Free text for admins.
    public var description: String?
    public var tags: [String]?
    /// The key's owner.
    public var user: String?
    /// `disable` (default) or `delete`, when the key expires.
    public var onExpiry: String?
    /// Days of validity counted from the key's first request (its expiry is set then).
    public var activateOnFirstUseDays: Int?
    /// Upstream providers the key may reach.
    public var providers: [Provider]?
    /// Model name globs the key may ask for (`claude-*`).
    public var models: [String]?
    /// User-Agent globs the key may be used from (`claude-cli/*`).
    public var clients: [String]?
    /// Client address ranges the key may be used from (`ip_allow`); none means any.
    public var ipAllow: [CIDR]?
    /// Client address ranges the key may not be used from (`ip_deny`), checked first.
    public var ipDeny: [CIDR]?
    /// Requests, tokens and cost per rolling window.
    public var rateLimit: RateLimit?
    /// Requests in flight at once.
    public var concurrency: Int?
    /// Requests that may queue for a concurrency slot.
    public var maxWaiting: Int?
    /// Lifetime tokens.
    public var tokenLimit: Int64?
    /// Cost per UTC day.
    public var dailyCost: Money?
    /// Cost per ISO week (from Monday, UTC).
    public var weeklyCost: Money?
    /// Cost per calendar month (UTC).
    public var monthlyCost: Money?
    /// The key's own prepaid balance; spending draws it down.
    public var balance: Money?
    /// Cost per budget period (`budget_usd`); without a duration, over the key's life.
    public var budget: Money?
    /// The budget period's length in whole hours (`budget_duration`).
    public var budgetDurationHours: Int?
    /// The hour (counted from 1970, UTC) the budget's periods are counted from:
    /// the hour its duration was set, so a new or changed duration starts a
    /// period then and a restart does not move it.
    public var budgetAnchorHour: Int64?
    /// Caps on what requests for some models may cost (`model_budgets`).
    public var modelBudgets: [ModelBudget]?
    /// The last `reset_usage`: where counters read from the ledger start again.
    public var usageReset: UsageReset?
    /// The accounts the key routes to (`pools`, `accounts`, `fallback_to_shared`).
    public var binding: AccountBinding?

    /// Stored names (snake-cased by the store) kept from when amounts were bare picodollars.
    enum CodingKeys: String, CodingKey {
        case description, tags, user, onExpiry, activateOnFirstUseDays, providers, models, clients, rateLimit, concurrency, maxWaiting,
            tokenLimit, ipAllow, ipDeny, budgetDurationHours, budgetAnchorHour, modelBudgets, usageReset, binding
        case budget = "budgetPicos"
        case dailyCost = "dailyCostPicos"
        case weeklyCost = "weeklyCostPicos"
        case monthlyCost = "monthlyCostPicos"
        case balance = "balancePicos"
    }

    /// A rolling window's caps.
    public struct RateLimit: Sendable, Equatable, Codable {
        public var windowMinutes: Int
        public var requests: Int?
        public var tokens: Int64?
        public var cost: Money?

        enum CodingKeys: String, CodingKey {
            case windowMinutes, requests, tokens
            case cost = "costPicos"
        }

        /// The longest window accepted: a year.
        public static let maxWindowMinutes = 525_600

        public init(windowMinutes: Int = 1, requests: Int? = nil, tokens: Int64? = nil, cost: Money? = nil) {
            self.windowMinutes = windowMinutes
            self.requests = requests
            self.tokens = tokens
            self.cost = cost
        }

        /// The window's length.
        public var window: TimeInterval { TimeInterval(windowMinutes) * 60 }
    }

    /// No limits.
    public init() {}

    /// Whether the policy lets a request for `model` through accounts of `provider`.
    public func allows(model: String) -> Bool {
        models.map { $0.contains { Glob.matches($0, model) } } ?? true
    }

    /// Whether the policy allows a provider.
    public func allows(provider: Provider) -> Bool { providers?.contains(provider) ?? true }

    /// Whether the policy allows a client, by its User-Agent.
    /// The key's address rules.
    public var addressRules: AddressRules { AddressRules(allow: ipAllow, deny: ipDeny) }

    public func allows(userAgent: String?) -> Bool {
        guard let clients else { return true }
        guard let userAgent else { return false }
        return clients.contains { Glob.matches($0, userAgent) }
    }

    /// Whether anything is metered in money: then requests hold their maximum cost.
    public var meters: Bool {
        balance != nil || dailyCost != nil || weeklyCost != nil || monthlyCost != nil || rateLimit?.cost != nil || budget != nil
            || modelBudgets?.isEmpty == false
    }

    /// The longest budget period: ten years.
    public static let maxBudgetHours = 87_600

    /// The hours an anchor may name: from 1970 to the year 9999 (a stored value outside is refused, never computed with).
    public static let anchorHours: ClosedRange<Int64> = 0...70_000_000

    /// The budget period holding `now`, when the budget has a duration.
    public func budgetPeriod(at now: Date) -> DateInterval? {
        guard budget != nil, let hours = budgetDurationHours, (1...Self.maxBudgetHours).contains(hours), let anchor = budgetAnchorHour else {
            return nil
        }
        guard Self.anchorHours.contains(anchor) else { return nil }
        let current = Int64((max(0, now.timeIntervalSince1970) / 3600).rounded(.down))
        // Periods run back to back both ways from the anchor (floor division), so a time before it has its period too.
        let elapsed = current - anchor
        let length = Int64(hours)
        let periods = elapsed >= 0 ? elapsed / length : -((-elapsed + length - 1) / length)
        let start = anchor + periods * length
        return DateInterval(start: Date(timeIntervalSince1970: Double(start) * 3600), duration: Double(hours) * 3600)
    }

    /// Sets the budget's anchor to the hour holding `now` when its duration is
    /// new or changed from `previous`'s; keeps the previous anchor otherwise.
    public mutating func anchorBudget(previous: KeyPolicy?, now: Date) {
        guard let hours = budgetDurationHours else {
            budgetAnchorHour = nil
            return
        }
        if let previous, previous.budgetDurationHours == hours, let anchor = previous.budgetAnchorHour {
            budgetAnchorHour = anchor
        } else {
            budgetAnchorHour = Int64((now.timeIntervalSince1970 / 3600).rounded(.down))
        }
    }

    /// Why a stored policy cannot be enforced as written (a cap below one, a
    /// window out of range), or nil: such a key is refused, never run unlimited.
    public var problem: String? {
        if let rate = rateLimit {
            if !(1...RateLimit.maxWindowMinutes).contains(rate.windowMinutes) { return "rate_limit.window_minutes is out of range" }
            if let requests = rate.requests, requests < 1 { return "rate_limit.requests is below 1" }
            if let tokens = rate.tokens, tokens < 1 { return "rate_limit.tokens is below 1" }
            if let cost = rate.cost, cost < .zero { return "rate_limit.cost is negative" }
        }
        if let concurrency, concurrency < 1 { return "concurrency is below 1" }
        if let maxWaiting, maxWaiting < 0 { return "max_waiting is negative" }
        if let tokenLimit, tokenLimit < 0 { return "token_limit is negative" }
        if let dailyCost, dailyCost < .zero { return "daily_cost is negative" }
        if let weeklyCost, weeklyCost < .zero { return "weekly_cost is negative" }
        if let monthlyCost, monthlyCost < .zero { return "monthly_cost is negative" }
        if let budget, budget < .zero { return "budget is negative" }
        if let hours = budgetDurationHours, !(1...Self.maxBudgetHours).contains(hours) { return "budget_duration is out of range" }
        if let anchor = budgetAnchorHour, !Self.anchorHours.contains(anchor) { return "the budget period's start is out of range" }
        if let problem = ModelBudget.problem(modelBudgets) { return problem }
        if let days = activateOnFirstUseDays, !(1...Self.maxDays).contains(days) { return "activate_on_first_use_days is out of range" }
        return nil
    }

    /// The most days a key's validity may be counted in (a hundred years).
    public static let maxDays = 36_500
}

/// Shell-style globs: `*` any run of characters, `?` one character.
public enum Glob {
    /// Whether `text` matches `pattern` as a whole.
    public static func matches(_ pattern: String, _ text: String) -> Bool { matches(Array(pattern.utf8), Array(text.utf8)) }

    /// Whether `t` matches `p` as a whole, both as UTF-8 (for patterns kept in that form).
    public static func matches(_ p: [UInt8], _ t: [UInt8]) -> Bool {
        var pi = 0
        var ti = 0
        var star = -1
        var mark = 0
        while ti < t.count {
            if pi < p.count, p[pi] == UInt8(ascii: "?") || p[pi] == t[ti] {
                pi += 1
                ti += 1
            } else if pi < p.count, p[pi] == UInt8(ascii: "*") {
                star = pi
                mark = ti
                pi += 1
            } else if star >= 0 {
                pi = star + 1
                mark += 1
                ti = mark
            } else {
                return false
            }
        }
        while pi < p.count, p[pi] == UInt8(ascii: "*") { pi += 1 }
        return pi == p.count
    }

    /// Whether the text has glob characters (and so is a pattern, not a name).
    public static func isPattern(_ text: String) -> Bool { text.utf8.contains { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") } }

    /// What each `*` of `pattern` matched in `text`, in order (shortest first),
    /// or nil when it does not match. Failed positions are remembered, so a
    /// hostile pattern costs at most pattern × text steps.
    public static func captures(_ pattern: String, _ text: String) -> [String]? {
        let p = Array(pattern.utf8)
        let t = Array(text.utf8)
        var failed = Set<Int>()
        var spans: [Range<Int>] = []
        func match(_ pi: Int, _ ti: Int) -> Bool {
            let key = pi * (t.count + 1) + ti
            if failed.contains(key) { return false }
            var matched = false
            if pi == p.count {
                matched = ti == t.count
            } else if p[pi] == UInt8(ascii: "*") {
                for end in ti...t.count {
                    spans.append(ti..<end)
                    if match(pi + 1, end) { return true }
                    spans.removeLast()
                }
            } else if ti < t.count, p[pi] == UInt8(ascii: "?") || p[pi] == t[ti] {
                matched = match(pi + 1, ti + 1)
            }
            if !matched { failed.insert(key) }
            return matched
        }
        guard match(0, 0) else { return nil }
        return spans.map { String(decoding: t[$0], as: UTF8.self) }
    }

    /// `target` with each `*` replaced by what the pattern's `*`s captured, in
    /// order (a `*` beyond the captures stays empty).
    public static func substitute(_ target: String, captures: [String]) -> String {
        guard target.contains("*") else { return target }
        var result = ""
        var next = captures.makeIterator()
        for character in target { if character == "*" { result += next.next() ?? "" } else { result.append(character) } }
        return result
    }
}
