import Engine
import Policy
import Storage
import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What a stats request asks for: `from`, `to` (ISO 8601, a UTC date, or Unix
/// seconds) and `interval` (`day`, `hour`, `minute`); `days=N` is the last N
/// UTC days by day. Defaults: the last 30 days by day; the last 24 hours by hour
/// or minute. Minutes are kept for two days.
public struct StatsRequest: Sendable, Equatable {
    public var from: Date
    public var to: Date
    public var interval: StatsInterval

    /// The most slices one answer holds.
    public static let maxSlices: Int64 = 10_000

    public init(from: Date, to: Date, interval: StatsInterval) {
        self.from = from
        self.to = to
        self.interval = interval
    }

    /// Reads the query parameters; a value that does not read is refused.
    public static func parse(_ parameters: [String: String], now: Date = Date()) throws(AdminError) -> StatsRequest {
        let read = QueryParameters(parameters)
        let intervalText = try read.text("interval")
        guard let interval = intervalText.map({ StatsInterval(rawValue: $0) }) ?? .day else {
            throw AdminError(.invalid, "interval must be day, hour or minute")
        }
        let to = try read.time("to") ?? now
        let from: Date
        if let days = try read.whole("days", in: 1...3660) {
            guard parameters["from"] == nil else { throw AdminError(.invalid, "days and from are both set; keep one") }
            from = Periods.dayStart(of: to).addingTimeInterval(-Double(days - 1) * 86400)
        } else {
            from = try read.time("from") ?? to.addingTimeInterval(interval == .day ? -29 * 86400 : -86400)
        }
        guard from < to else { throw AdminError(.invalid, "from must be before to") }
        if interval == .minute, from < now.addingTimeInterval(-2 * 86400) {
            throw AdminError(.invalid, "minute series are kept for two days; ask for hours or days further back")
        }
        let slices = (to.millisecondsSince1970 - from.millisecondsSince1970) / interval.milliseconds
        guard slices <= maxSlices else {
            throw AdminError(.invalid, "that range holds more than \(maxSlices) \(interval.rawValue)s; ask for a wider interval or a shorter range")
        }
        return StatsRequest(from: from, to: to, interval: interval)
    }
}

/// A key's, user's, group's or account's stats, as admins see them.
public struct UsageStatsView: Sendable, Encodable {
    public var name: String
    /// `key`, `user`, `group` or `account`.
    public var kind: String
    public var from: Date
    public var to: Date
    public var interval: String
    public var requests: Int64
    public var errors: Int64
    public var rateLimited: Int64
    public var clientErrors: Int64
    public var serverErrors: Int64
    public var tokens: Tokens
    /// What was charged (group multipliers applied).
    public var costUsd: String
    /// The list price by token class (from the version that records it).
    public var listCostUsd: ClassCosts
    public var meanLatencyMs: Int64?
    public var p95LatencyMs: Int64?
    public var series: [Slice]
    /// By model, dearest first (keys, users and groups).
    public var models: [Model]?
    /// When an upstream last answered this account 429 (accounts, in the server).
    public var last429At: Date?
    /// Cache reads over all prompt tokens (uncached, read, written); nil without prompt tokens.
    public var cacheHitRatio: Double?
    /// What cache reads saved at list price against the same tokens uncached,
    /// as each request was priced (recorded from migration 23 on).
    public var cacheSavedUsd: String

    enum CodingKeys: String, CodingKey {
        case name, kind, from, to, interval, requests, errors, rateLimited, clientErrors, serverErrors, tokens, costUsd, listCostUsd
        case meanLatencyMs, p95LatencyMs, series, models, cacheHitRatio, cacheSavedUsd
        case last429At = "last_429_at"
    }

    /// Cache reads over every prompt token.
    static func hitRatio(_ usage: TokenUsage) -> Double? {
        let prompt = usage.inputUncached + usage.cacheRead + usage.cacheWrite5m + usage.cacheWrite1h
        guard prompt > 0 else { return nil }
        return (Double(usage.cacheRead) / Double(prompt) * 10_000).rounded() / 10_000
    }

    public struct Tokens: Sendable, Encodable {
        public var input: Int64
        public var cacheRead: Int64
        public var cacheWrite5m: Int64
        public var cacheWrite1h: Int64
        public var output: Int64
        public var total: Int64

        public init(_ usage: TokenUsage) {
            input = usage.inputUncached
            cacheRead = usage.cacheRead
            cacheWrite5m = usage.cacheWrite5m
            cacheWrite1h = usage.cacheWrite1h
            output = usage.output
            total = usage.total
        }
    }

    public struct ClassCosts: Sendable, Encodable {
        public var input: String
        public var cacheRead: String
        public var cacheWrite5m: String
        public var cacheWrite1h: String
        public var output: String
        public var total: String

        init(_ costs: TokenCosts) {
            input = costs.input.dollarsString
            cacheRead = costs.cacheRead.dollarsString
            cacheWrite5m = costs.cacheWrite5m.dollarsString
            cacheWrite1h = costs.cacheWrite1h.dollarsString
            output = costs.output.dollarsString
            total = costs.total.dollarsString
        }
    }

    public struct Slice: Sendable, Encodable {
        public var start: Date
        public var requests: Int64
        public var errors: Int64
        public var rateLimited: Int64
        public var tokens: Int64
        public var costUsd: String
        public var meanLatencyMs: Int64?
        public var p95LatencyMs: Int64?
    }

    public struct Model: Sendable, Encodable {
        public var model: String
        public var requests: Int64
        public var tokens: Tokens
        public var costUsd: String
        public var listCostUsd: ClassCosts
        public var cacheHitRatio: Double?
        public var cacheSavedUsd: String
    }

    init(name: String, subject: StatsSubject, stats: UsageStats, last429At: Date?) {
        self.name = name
        switch subject {
        case .key: kind = "key"
        case .user: kind = "user"
        case .group: kind = "group"
        case .account: kind = "account"
        }
        from = stats.from
        to = stats.to
        interval = stats.interval.rawValue
        let total = stats.total
        requests = total.requests
        errors = total.errors
        rateLimited = total.rateLimited
        clientErrors = total.clientErrors
        serverErrors = total.serverErrors
        tokens = Tokens(total.tokens)
        costUsd = total.cost.dollarsString
        listCostUsd = ClassCosts(total.listCosts)
        meanLatencyMs = total.meanLatencyMs
        p95LatencyMs = total.p95LatencyMs
        series = stats.series.map {
            Slice(
                start: $0.start, requests: $0.requests, errors: $0.errors, rateLimited: $0.rateLimited, tokens: $0.tokens.total,
                costUsd: $0.cost.dollarsString, meanLatencyMs: $0.meanLatencyMs, p95LatencyMs: $0.p95LatencyMs)
        }
        cacheHitRatio = Self.hitRatio(total.tokens)
        cacheSavedUsd = total.listCosts.cacheSaved.dollarsString
        if case .account = subject {
            models = nil
        } else {
            models = stats.models.map { entry in
                Model(
                    model: entry.model, requests: entry.slice.requests, tokens: Tokens(entry.slice.tokens),
                    costUsd: entry.slice.cost.dollarsString, listCostUsd: ClassCosts(entry.slice.listCosts),
                    cacheHitRatio: Self.hitRatio(entry.slice.tokens), cacheSavedUsd: entry.slice.listCosts.cacheSaved.dollarsString)
            }
        }
        self.last429At = last429At
    }
}

/// Stats for keys, users, groups and accounts, shared by the admin API, the console and the CLI.
public struct StatsAdmin: Sendable {
    let store: any GatewayStore
    let gateway: Gateway?

    public init(store: any GatewayStore, gateway: Gateway? = nil) {
        self.store = store
        self.gateway = gateway
    }

    public func key(_ name: String, _ request: StatsRequest) async throws -> UsageStatsView {
        guard let record = try await store.listKeys().first(where: { $0.name == name }) else { throw AdminError(.notFound, "no key named \(name)") }
        return try await load(name, .key(record.id), request)
    }

    public func user(_ name: String, _ request: StatsRequest) async throws -> UsageStatsView {
        guard try await store.listUsers().contains(where: { $0.name == name }) else { throw AdminError(.notFound, "no user named \(name)") }
        return try await load(name, .user(name), request)
    }

    public func group(_ name: String, _ request: StatsRequest) async throws -> UsageStatsView {
        guard try await store.listGroups().contains(where: { $0.name == name }) else { throw AdminError(.notFound, "no group named \(name)") }
        return try await load(name, .group(name), request)
    }

    public func account(_ name: String, _ request: StatsRequest) async throws -> UsageStatsView {
        guard let account = try await store.listAccounts().first(where: { $0.name == name }) else {
            throw AdminError(.notFound, "no account named \(name)")
        }
        // The live pool knows 429s that failed over to another account; elsewhere the state last saved.
        let live = gateway.flatMap { gateway in
            gateway.snapshots.snapshot.accounts.accounts.first { $0.id == account.id }.flatMap { gateway.pool.status(of: [$0]).first?.last429At }
        }
        let saved = try await store.accountStatuses().first { $0.status.id == account.id }?.status.last429At
        return try await load(name, .account(name), request, last429At: live ?? saved)
    }

    private func load(_ name: String, _ subject: StatsSubject, _ request: StatsRequest, last429At: Date? = nil) async throws -> UsageStatsView {
        let stats = try await store.usageStats(of: subject, from: request.from, to: request.to, interval: request.interval)
        return UsageStatsView(name: name, subject: subject, stats: stats, last429At: last429At)
    }
}
