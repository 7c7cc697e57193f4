import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The ledger over one slice of time, for the dashboard's charts.
public struct ActivityBucket: Sendable, Equatable {
    /// Where the slice starts.
    public var start: Date
    public var requests: Int64
    /// Requests answered with a status of 400 or more.
    public var errors: Int64
    /// Tokens of every class.
    public var tokens: Int64
    public var cost: Money
    /// The slice's latencies added up (a mean is this over `requests`).
    public var latencyMsTotal: Int64

    public init(start: Date, requests: Int64 = 0, errors: Int64 = 0, tokens: Int64 = 0, cost: Money = .zero, latencyMsTotal: Int64 = 0) {
        self.latencyMsTotal = latencyMsTotal
        self.start = start
        self.requests = requests
        self.errors = errors
        self.tokens = tokens
        self.cost = cost
    }
}

/// Latency and first-byte quantiles over a period, in milliseconds; nil
/// where the period holds no request (or none with a first byte).
public struct LatencySummary: Sendable, Equatable {
    public var p50LatencyMs: Int64?
    public var p95LatencyMs: Int64?
    public var p50FirstByteMs: Int64?
    public var p95FirstByteMs: Int64?

    public init(p50LatencyMs: Int64? = nil, p95LatencyMs: Int64? = nil, p50FirstByteMs: Int64? = nil, p95FirstByteMs: Int64? = nil) {
        self.p50LatencyMs = p50LatencyMs
        self.p95LatencyMs = p95LatencyMs
        self.p50FirstByteMs = p50FirstByteMs
        self.p95FirstByteMs = p95FirstByteMs
    }
}

/// What a usage report groups rows by.
public enum UsageDimension: String, CaseIterable, Sendable {
    case key, user, model, account, day
}
