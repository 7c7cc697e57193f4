import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What an admin's `reset_usage` can start again on a key.
public enum UsagePart: String, Sendable, Codable, CaseIterable {
    /// The rate window's requests, tokens and cost.
    case window
    /// Today's cost (UTC).
    case daily
    /// Lifetime tokens, counted against `token_limit`.
    case tokens
}

/// A key's last usage reset, kept in its policy: the ledger's totals before it,
/// which counters read from the ledger at a start subtract. Offsets accumulate:
/// each reset adds what was counted since the one before.
public struct UsageReset: Sendable, Equatable, Codable {
    /// When it was made, in milliseconds since 1970: the live limiter applies a
    /// reset it has not seen yet (one made by another process) once.
    public var atMilliseconds: Int64
    public var parts: [UsagePart]
    /// Lifetime tokens before the reset.
    public var tokens: Int64
    /// The UTC day `day` belongs to, in milliseconds since 1970.
    public var dayStartMilliseconds: Int64
    /// That day's cost before the reset.
    public var day: Money

    enum CodingKeys: String, CodingKey {
        case atMilliseconds, parts, tokens, dayStartMilliseconds
        case day = "dayPicos"
    }

    public init(atMilliseconds: Int64, parts: [UsagePart], tokens: Int64, dayStartMilliseconds: Int64, day: Money) {
        self.atMilliseconds = atMilliseconds
        self.parts = parts
        self.tokens = tokens
        self.dayStartMilliseconds = dayStartMilliseconds
        self.day = day
    }

    /// The reset that follows `previous`, given the counters as they stand
    /// (tokens and today's cost counted since `previous`).
    public static func next(
        after previous: UsageReset?, parts: Set<UsagePart>, at: Date, tokens: Int64, day: Money, dayStart: Date
    ) -> UsageReset {
        let dayStartMs = Int64(dayStart.timeIntervalSince1970 * 1000)
        var reset = previous ?? UsageReset(atMilliseconds: 0, parts: [], tokens: 0, dayStartMilliseconds: dayStartMs, day: .zero)
        if reset.dayStartMilliseconds != dayStartMs { (reset.dayStartMilliseconds, reset.day) = (dayStartMs, .zero) }
        reset.atMilliseconds = Int64(at.timeIntervalSince1970 * 1000)
        reset.parts = UsagePart.allCases.filter(parts.contains)
        if parts.contains(.tokens) { reset.tokens = reset.tokens.saturatingAdd(tokens) }
        if parts.contains(.daily) { reset.day += day }
        return reset
    }

    /// Lifetime tokens from the ledger's total, less what came before the reset.
    public func tokens(fromTotal total: Int64) -> Int64 { max(0, total.saturatingAdd(-tokens)) }

    /// A day's cost from the ledger, less what came before the reset on that day.
    public func day(_ amount: Money, dayStart: Date) -> Money {
        Int64(dayStart.timeIntervalSince1970 * 1000) == dayStartMilliseconds ? max(.zero, amount - day) : amount
    }
}
