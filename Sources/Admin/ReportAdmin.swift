import Engine
import Foundation
import Policy
import Storage
import SwitchboardCore

/// A period the dashboard covers, and the width of its chart's bars.
public enum DashboardPeriod: String, CaseIterable, Sendable {
    case hour = "1h"
    case day = "24h"
    case week = "7d"
    case month = "30d"

    /// The period's length.
    public var seconds: Int64 {
        switch self {
        case .hour: return 3600
        case .day: return 86_400
        case .week: return 7 * 86_400
        case .month: return 30 * 86_400
        }
    }

    /// One bar's width: 12 to 30 bars per chart.
    public var bucketSeconds: Int64 {
        switch self {
        case .hour: return 300
        case .day: return 3600
        case .week: return 6 * 3600
        case .month: return 86_400
        }
    }
}

/// What the dashboard shows for one period.
public struct Dashboard: Sendable {
    public var period: DashboardPeriod
    public var from: Date
    public var to: Date
    /// Every slice of the period, oldest first, empty ones included.
    public var buckets: [ActivityBucket]
    public var latency: LatencySummary
    public var topKeys: [UsageTotals]
    public var topModels: [UsageTotals]
    /// Accounts counted by live state (`ready`, `cooling_down`, …).
    public var accountStates: [(state: String, count: Int)]

    /// The period's totals.
    public var total: ActivityBucket {
        buckets.reduce(into: ActivityBucket(start: from)) { sum, bucket in
            sum.requests = sum.requests.saturatingAdd(bucket.requests)
            sum.errors = sum.errors.saturatingAdd(bucket.errors)
            sum.tokens = sum.tokens.saturatingAdd(bucket.tokens)
            sum.cost = sum.cost + bucket.cost
            sum.latencyMsTotal = sum.latencyMsTotal.saturatingAdd(bucket.latencyMsTotal)
        }
    }
}

/// Reports for the dashboard and the usage page (console and admin API).
public struct ReportAdmin: Sendable {
    let store: any GatewayStore
    let gateway: Gateway?

    public init(store: any GatewayStore, gateway: Gateway?) {
        self.store = store
        self.gateway = gateway
    }

    /// The dashboard for the period ending now.
    public func dashboard(_ period: DashboardPeriod, now: Date) async throws -> Dashboard {
        let width = period.bucketSeconds
        // Slices end on whole multiples of their width, so a bar means the same hour on every load.
        let end = Date(timeIntervalSince1970: TimeInterval((Int64(now.timeIntervalSince1970) / width + 1) * width))
        let from = end.addingTimeInterval(-TimeInterval(period.seconds))
        let found = try await store.activity(from: from, to: end, bucketSeconds: width)
        let byStart = Dictionary(found.map { ($0.start, $0) }) { a, _ in a }
        let buckets = (0..<Int(period.seconds / width)).map { index -> ActivityBucket in
            let start = from.addingTimeInterval(TimeInterval(Int64(index) * width))
            return byStart[start] ?? ActivityBucket(start: start)
        }
        var states: [String: Int] = [:]
        for entry in gateway?.accountStatus() ?? [] { states[entry.status.state, default: 0] += 1 }
        return Dashboard(
            period: period, from: from, to: end, buckets: buckets, latency: try await store.latencySummary(from: from, to: end),
            topKeys: Array(try await store.usageBreakdown(by: .key, from: from, to: end).prefix(5)),
            topModels: Array(try await store.usageBreakdown(by: .model, from: from, to: end).prefix(5)),
            accountStates: states.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    }

    /// Totals between two times by key, user, model, account or day.
    public func usage(by dimension: UsageDimension, from: Date, to: Date) async throws -> [UsageTotals] {
        try await store.usageBreakdown(by: dimension, from: from, to: to)
    }

    /// A usage report as CSV (RFC 4180). Names may come from clients (a model
    /// name is the client's to choose), so a cell that a spreadsheet would run
    /// as a formula is prefixed with `'`.
    public static func csv(_ rows: [UsageTotals], by dimension: UsageDimension) -> String {
        var lines = ["\(dimension.rawValue),requests,errors,input_tokens,cache_read_tokens,cache_write_tokens,output_tokens,cost_usd"]
        for row in rows {
            lines.append(
                [
                    cell(row.name), "\(row.requests)", "\(row.errors)", "\(row.inputTokens)", "\(row.cacheReadTokens)",
                    "\(row.cacheWriteTokens)", "\(row.outputTokens)", row.cost.dollarsString,
                ].joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    /// One CSV cell: formula starts defused, quoted when it holds a comma, quote or line break.
    static func cell(_ text: String) -> String {
        var value = text
        if let first = value.first, "=+-@\t\r".contains(first) { value = "'" + value }
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
