import SwitchboardCore
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A person or team that owns keys; may hold a balance its keys draw from.
public struct UserEntry: Sendable, Equatable, Codable {
    public var id: Int64
    public var name: String
    /// The group that sets the user's price multiplier and subscription.
    public var group: String?
    /// The user's prepaid balance; nil when the user has none.
    public var balance: Money?
    public var description: String?
    /// Client address ranges the user's keys may be used from (`ip_allow`), and not from (`ip_deny`).
    public var addresses = AddressRules()
    /// Requests in flight at once across the user's keys, its queue, and its model budgets.
    public var limits = UserLimits()
    /// The accounts the user's keys route to (`pools`, `accounts`), unless a key has its own.
    public var binding: AccountBinding?
    /// Why the stored user cannot be enforced as written; its keys are refused.
    public var unreadable: String?

    public init(id: Int64, name: String, group: String? = nil, balance: Money? = nil, description: String? = nil) {
        self.id = id
        self.name = name
        self.group = group
        self.balance = balance
        self.description = description
    }
}

/// What a user's keys may do together: requests in flight at once (with a
/// queue of its own) and caps per model. Stored as one JSON document.
public struct UserLimits: Sendable, Equatable, Codable {
    /// Requests in flight at once across all of the user's keys (`concurrency`).
    public var concurrency: Int?
    /// Requests that may queue for one of the user's slots (`max_waiting`).
    public var maxWaiting: Int?
    /// Caps on what requests for some models may cost (`model_budgets`).
    public var modelBudgets: [ModelBudget]?

    public init(concurrency: Int? = nil, maxWaiting: Int? = nil, modelBudgets: [ModelBudget]? = nil) {
        self.concurrency = concurrency
        self.maxWaiting = maxWaiting
        self.modelBudgets = modelBudgets
    }

    /// Whether nothing is set.
    public var isEmpty: Bool { self == UserLimits() }

    /// Why stored limits cannot be enforced as written, or nil: such a user's keys are refused.
    public var problem: String? {
        if let concurrency, concurrency < 1 { return "concurrency is below 1" }
        if let maxWaiting, maxWaiting < 0 { return "max_waiting is negative" }
        return ModelBudget.problem(modelBudgets)
    }
}

/// A set of users with one price multiplier and, optionally, a subscription:
/// USD caps per UTC day, week (from Monday) and calendar month, for each user.
public struct GroupEntry: Sendable, Equatable, Codable {
    public var id: Int64
    public var name: String
    /// The price multiplier in millionths: 1,000,000 is list price.
    public var multiplierPPM: Int64
    /// Subscription caps per user: per UTC day, ISO week and calendar month.
    public var daily: Money?
    public var weekly: Money?
    public var monthly: Money?
    /// Multipliers for models matching a glob (`price_multiplier`), in
    /// millionths, instead of `multiplierPPM`; the longest matching glob wins.
    public var modelMultipliers: [String: Int64] = [:]
    /// The accounts its users' keys route to, unless a user or key has its own.
    public var binding: AccountBinding?
    /// Why the stored group cannot be enforced as written; its users' keys are refused.
    public var unreadable: String?

    /// The largest multiplier accepted: a thousand times list price.
    public static let maxMultiplierPPM: Int64 = 1_000 * 1_000_000

    public init(
        id: Int64, name: String, multiplierPPM: Int64 = 1_000_000, daily: Money? = nil, weekly: Money? = nil, monthly: Money? = nil
    ) {
        self.id = id
        self.name = name
        self.multiplierPPM = multiplierPPM
        self.daily = daily
        self.weekly = weekly
        self.monthly = monthly
    }

    /// Whether the group carries a subscription.
    public var hasSubscription: Bool { daily != nil || weekly != nil || monthly != nil }

    /// The multiplier for requests for `model`: the longest matching glob's
    /// (an exact name is longer than any glob it matches), else the group's.
    public func multiplierPPM(for model: String) -> Int64 {
        modelMultipliers.filter { Glob.matches($0.key, model) }.max { ($0.key.count, $1.key) < ($1.key.count, $0.key) }?.value ?? multiplierPPM
    }

    /// The group as it prices requests for `model`: one multiplier, no globs.
    public func pricing(_ model: String) -> GroupEntry {
        guard !modelMultipliers.isEmpty else { return self }
        var group = self
        group.multiplierPPM = multiplierPPM(for: model)
        group.modelMultipliers = [:]
        return group
    }

    /// A list-price amount at this group's multiplier, rounded up to the picodollar.
    public func charge(_ amount: Money) -> Money {
        guard multiplierPPM != 1_000_000, amount > .zero else { return amount }
        // In 128 bits the product cannot overflow; the quotient saturates.
        let charged = (Int128(amount.picos) * Int128(max(0, multiplierPPM)) + 999_999) / 1_000_000
        return charged > Int128(Int64.max) ? .max : Money(picos: Int64(charged))
    }
}

/// Whose money a request spends beyond its key's own: the key's user and group.
public struct Owner: Sendable, Equatable {
    public var user: UserEntry
    public var group: GroupEntry?

    public init(user: UserEntry, group: GroupEntry?) {
        self.user = user
        self.group = group
    }

    /// Whether anything here is metered in money.
    public var meters: Bool { user.balance != nil || group?.hasSubscription == true || user.limits.modelBudgets?.isEmpty == false }

    /// The owner as it prices requests for `model` (the group's multiplier for it).
    public func pricing(_ model: String) -> Owner { Owner(user: user, group: group?.pricing(model)) }
}

/// Calendar periods in UTC: day, ISO week (from Monday), month.
public enum Periods {
    static var utc: Calendar {
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }

    /// The start of the UTC day holding `date`: plain arithmetic, cheap enough
    /// for every admission.
    public static func dayStart(of date: Date) -> Date {
        Date(timeIntervalSince1970: (date.timeIntervalSince1970 / 86400).rounded(.down) * 86400)
    }

    /// The start of the UTC day, week and month holding `date`.
    public static func starts(of date: Date) -> (day: Date, week: Date, month: Date) {
        let day = dayStart(of: date)
        // Asked on every metered admission; the calendar's answer holds for the whole day.
        if let known = lastDay.withLock({ $0 }), known.day == day { return known.starts }
        let calendar = utc
        let week = calendar.dateInterval(of: .weekOfYear, for: date)?.start ?? day
        let month = calendar.dateInterval(of: .month, for: date)?.start ?? day
        lastDay.withLock { $0 = (day, (day, week, month)) }
        return (day, week, month)
    }

    /// The last day asked about, and its starts.
    private static let lastDay = Mutex<(day: Date, starts: (day: Date, week: Date, month: Date))?>(nil)
}
