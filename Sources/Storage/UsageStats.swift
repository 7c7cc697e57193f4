import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Whose rows a stats report adds up.
public enum StatsSubject: Sendable, Equatable {
    case key(Int64)
    case user(String)
    /// Every user in the group now.
    case group(String)
    case account(String)
}

/// The width of a stats series' slices.
public enum StatsInterval: String, Sendable, CaseIterable {
    case minute, hour, day

    /// The slice's length in milliseconds.
    public var milliseconds: Int64 {
        switch self {
        case .minute: return 60_000
        case .hour: return 3_600_000
        case .day: return 86_400_000
        }
    }
}

/// One slice of a stats series (or the whole range): counts, tokens by class,
/// what was charged, the list price by class, and latency.
public struct StatsSlice: Sendable, Equatable {
    public var start: Date
    public var requests: Int64 = 0
    /// Answers with a status of 400 or more, and of those: 429s, other 4xx, 5xx.
    public var errors: Int64 = 0
    public var rateLimited: Int64 = 0
    public var clientErrors: Int64 = 0
    public var serverErrors: Int64 = 0
    public var tokens = TokenUsage()
    /// What was charged (group multipliers applied).
    public var cost: Money = .zero
    /// The list price, class by class (recorded from migration 15 on).
    public var listCosts: TokenCosts = .zero
    public var latencyMsTotal: Int64 = 0
    /// The 95th percentile latency (from hourly histograms: nil for minute slices).
    public var p95LatencyMs: Int64?

    public init(start: Date) { self.start = start }

    /// The mean latency, nil without requests.
    public var meanLatencyMs: Int64? { requests > 0 ? latencyMsTotal / requests : nil }

    /// Adds another slice's counts and sums (not its p95).
    public mutating func add(_ other: StatsSlice) {
        requests = requests.saturatingAdd(other.requests)
        errors = errors.saturatingAdd(other.errors)
        rateLimited = rateLimited.saturatingAdd(other.rateLimited)
        clientErrors = clientErrors.saturatingAdd(other.clientErrors)
        serverErrors = serverErrors.saturatingAdd(other.serverErrors)
        tokens = TokenUsage(
            inputUncached: tokens.inputUncached.saturatingAdd(other.tokens.inputUncached),
            cacheRead: tokens.cacheRead.saturatingAdd(other.tokens.cacheRead),
            cacheWrite5m: tokens.cacheWrite5m.saturatingAdd(other.tokens.cacheWrite5m),
            cacheWrite1h: tokens.cacheWrite1h.saturatingAdd(other.tokens.cacheWrite1h), output: tokens.output.saturatingAdd(other.tokens.output))
        cost += other.cost
        listCosts = TokenCosts(
            input: listCosts.input + other.listCosts.input, cacheRead: listCosts.cacheRead + other.listCosts.cacheRead,
            cacheWrite5m: listCosts.cacheWrite5m + other.listCosts.cacheWrite5m,
            cacheWrite1h: listCosts.cacheWrite1h + other.listCosts.cacheWrite1h, output: listCosts.output + other.listCosts.output,
            cacheSaved: listCosts.cacheSaved + other.listCosts.cacheSaved)
        latencyMsTotal = latencyMsTotal.saturatingAdd(other.latencyMsTotal)
    }
}

/// A stats report: the series, its total, and (for keys, users and groups) the same by model.
public struct UsageStats: Sendable, Equatable {
    public var from: Date
    public var to: Date
    public var interval: StatsInterval
    public var series: [StatsSlice]
    public var total: StatsSlice
    /// By model as the client named it, dearest first; empty for accounts.
    public var models: [(model: String, slice: StatsSlice)]

    public static func == (a: UsageStats, b: UsageStats) -> Bool {
        a.from == b.from && a.to == b.to && a.interval == b.interval && a.series == b.series && a.total == b.total
            && a.models.map(\.model) == b.models.map(\.model) && a.models.map(\.slice) == b.models.map(\.slice)
    }
}
