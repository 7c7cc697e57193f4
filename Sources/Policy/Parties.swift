import Foundation

/// A person or team that owns keys; may hold a balance its keys draw from.
public struct UserEntry: Sendable, Equatable, Codable {
    public var id: Int64
    public var name: String
    /// The group that sets the user's price multiplier and subscription.
    public var group: String?
    /// The user's prepaid balance in picodollars; nil when the user has none.
    public var balancePicos: Int64?
    public var description: String?

    public init(id: Int64, name: String, group: String? = nil, balancePicos: Int64? = nil, description: String? = nil) {
        self.id = id
        self.name = name
        self.group = group
        self.balancePicos = balancePicos
        self.description = description
    }
}

/// A set of users with one price multiplier and, optionally, a subscription:
/// USD caps per UTC day, week (from Monday) and calendar month, for each user.
public struct GroupEntry: Sendable, Equatable, Codable {
    public var id: Int64
    public var name: String
    /// The price multiplier in millionths: 1,000,000 is list price.
    public var multiplierPPM: Int64
    public var dailyPicos: Int64?
    public var weeklyPicos: Int64?
    public var monthlyPicos: Int64?

    public init(
        id: Int64, name: String, multiplierPPM: Int64 = 1_000_000, dailyPicos: Int64? = nil, weeklyPicos: Int64? = nil,
        monthlyPicos: Int64? = nil
    ) {
        self.id = id
        self.name = name
        self.multiplierPPM = multiplierPPM
        self.dailyPicos = dailyPicos
        self.weeklyPicos = weeklyPicos
        self.monthlyPicos = monthlyPicos
    }

    /// Whether the group carries a subscription.
    public var hasSubscription: Bool { dailyPicos != nil || weeklyPicos != nil || monthlyPicos != nil }

    /// A list-price amount at this group's multiplier, rounded up to the picodollar.
    public func charge(_ picos: Int64) -> Int64 {
        guard multiplierPPM != 1_000_000, picos > 0 else { return picos }
        let (high, low) = picos.multipliedFullWidth(by: multiplierPPM)
        let (quotient, remainder) = Int64(1_000_000).dividingFullWidth((high, low))
        return quotient + (remainder > 0 ? 1 : 0)
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
    public var meters: Bool { user.balancePicos != nil || group?.hasSubscription == true }
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
        let calendar = utc
        let day = dayStart(of: date)
        let week = calendar.dateInterval(of: .weekOfYear, for: date)?.start ?? day
        let month = calendar.dateInterval(of: .month, for: date)?.start ?? day
        return (day, week, month)
    }
}
