import Foundation
import NIOCore
import SwitchboardCore

extension SQLStore {
    /// The ledger between `from` and `to` in slices of `bucketSeconds`, oldest
    /// first; slices without requests are absent.
    public func activity(from: Date, to: Date, bucketSeconds: Int64) async throws -> [ActivityBucket] {
        let start = from.millisecondsSince1970
        let width = max(1, bucketSeconds).saturatingMultiply(1000)
        let rows: [SQLRow]
        if Self.onHours(from, to), width % Self.hourMs == 0 {
            rows = try await query(
                """
                SELECT (hour - ?) / ? AS slice, SUM(requests) AS requests, SUM(errors) AS errors,
                    \(SQLiteRollups.sums.map { "SUM(\($0.name)_hi) AS \($0.name)_hi, SUM(\($0.name)_lo) AS \($0.name)_lo" }.joined(separator: ", "))
                FROM usage_hourly WHERE dimension = 'total' AND name = '' AND hour >= ? AND hour < ? GROUP BY slice ORDER BY slice
                """, [.integer(Int(start)), .integer(Int(width)), .integer(Int(start)), .integer(Int(to.millisecondsSince1970))])
        } else {
            rows = try await query(
                """
                SELECT (created_at - ?) / ? AS slice, COUNT(*) AS requests, SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS errors,
                    \(SafeSum.sql("input_uncached", as: "input")), \(SafeSum.sql("cache_read", as: "cache_read")),
                    \(SafeSum.sql("cache_write_5m", as: "cache_write_5m")), \(SafeSum.sql("cache_write_1h", as: "cache_write_1h")),
                    \(SafeSum.sql("output", as: "output")), \(SafeSum.sql("cost_picos", as: "cost")), \(SafeSum.sql("latency_ms", as: "latency"))
                FROM ledger WHERE created_at >= ? AND created_at < ? GROUP BY slice ORDER BY slice
                """, [.integer(Int(start)), .integer(Int(width)), .integer(Int(start)), .integer(Int(to.millisecondsSince1970))])
        }
        return rows.map { row in
            let tokens = ["input", "cache_read", "cache_write_5m", "cache_write_1h", "output"].reduce(Int64(0)) { $0.saturatingAdd(row.sum($1)) }
            let slice = row.int("slice") ?? 0
            return ActivityBucket(
                start: Date(millisecondsSince1970: start.saturatingAdd(slice.saturatingMultiply(width))), requests: row.int("requests") ?? 0,
                errors: row.int("errors") ?? 0, tokens: tokens, cost: Money(picos: row.sum("cost")), latencyMsTotal: row.sum("latency"))
        }
    }

    /// The median and 95th percentile of latency and first byte between `from` and `to`.
    public func latencySummary(from: Date, to: Date) async throws -> LatencySummary {
        let range: [SQLValue] = [.integer(Int(from.millisecondsSince1970)), .integer(Int(to.millisecondsSince1970))]
        if Self.onHours(from, to) {
            func quantiles(_ kind: Int) async throws -> (Int64?, Int64?) {
                let buckets = try await query(
                    "SELECT bucket, SUM(count) AS n FROM latency_hourly WHERE kind = ? AND hour >= ? AND hour < ? GROUP BY bucket ORDER BY bucket",
                    [.integer(kind)] + range
                ).map { ($0.int("bucket") ?? 0, $0.int("n") ?? 0) }
                return (Self.nearestRank(50, buckets), Self.nearestRank(95, buckets))
            }
            let latency = try await quantiles(SQLiteRollups.latencyKind)
            let firstByte = try await quantiles(SQLiteRollups.firstByteKind)
            return LatencySummary(p50LatencyMs: latency.0, p95LatencyMs: latency.1, p50FirstByteMs: firstByte.0, p95FirstByteMs: firstByte.1)
        }
        func quantiles(_ column: String) async throws -> (Int64?, Int64?) {
            let filter = "FROM ledger WHERE created_at >= ? AND created_at < ? AND \(column) IS NOT NULL"
            let count = try await query("SELECT COUNT(*) AS n \(filter)", range).first?.int("n") ?? 0
            guard count > 0 else { return (nil, nil) }
            func at(_ percent: Int64) async throws -> Int64? {
                // The nearest-rank quantile: the value at rank ceil(p × n).
                let rank = max(1, (count.saturatingMultiply(percent) + 99) / 100)
                return try await query("SELECT \(column) AS v \(filter) ORDER BY \(column) LIMIT 1 OFFSET ?", range + [.integer(Int(rank - 1))])
                    .first?.int("v")
            }
            return (try await at(50), try await at(95))
        }
        let latency = try await quantiles("latency_ms")
        let firstByte = try await quantiles("first_byte_ms")
        return LatencySummary(p50LatencyMs: latency.0, p95LatencyMs: latency.1, p50FirstByteMs: firstByte.0, p95FirstByteMs: firstByte.1)
    }

    /// Ledger totals between two times grouped by `dimension`: days in order,
    /// the rest by cost, highest first.
    public func usageBreakdown(by dimension: UsageDimension, from: Date, to: Date) async throws -> [UsageTotals] {
        let group: String
        switch dimension {
        case .key: group = "key_name"
        case .user: group = "user_name"
        case .model: group = "model"
        case .account: group = "account_name"
        case .day: group = dialect.utcDay(ofMilliseconds: "created_at")
        }
        let order = dimension == .day ? "name" : "cost_hi DESC, cost_lo DESC, name"
        if Self.onHours(from, to) {
            let (filed, label) =
                dimension == .day
                ? ("total", dialect.utcDay(ofMilliseconds: "hour")) : (dimension.rawValue, "NULLIF(name, '')")
            let rows = try await query(
                """
                SELECT \(label) AS label, SUM(requests) AS requests, SUM(errors) AS errors,
                    \(SQLiteRollups.sums.map { "SUM(\($0.name)_hi) AS \($0.name)_hi, SUM(\($0.name)_lo) AS \($0.name)_lo" }.joined(separator: ", "))
                FROM usage_hourly WHERE dimension = ? AND hour >= ? AND hour < ? GROUP BY label ORDER BY \(order.replacingOccurrences(of: "name", with: "label"))
                """, [.text(filed), .integer(Int(from.millisecondsSince1970)), .integer(Int(to.millisecondsSince1970))])
            return rows.map { Self.usageTotals($0, name: "label") }
        }
        let rows = try await query(
            """
            SELECT \(group) AS name, COUNT(*) AS requests, SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS errors,
                \(SafeSum.sql("input_uncached", as: "input")), \(SafeSum.sql("cache_read", as: "cache_read")),
                \(SafeSum.sql("cache_write_5m", as: "cache_write_5m")), \(SafeSum.sql("cache_write_1h", as: "cache_write_1h")),
                \(SafeSum.sql("output", as: "output")), \(SafeSum.sql("cost_picos", as: "cost"))
            FROM ledger WHERE created_at >= ? AND created_at < ? GROUP BY name ORDER BY \(order)
            """, [.integer(Int(from.millisecondsSince1970)), .integer(Int(to.millisecondsSince1970))])
        return rows.map { Self.usageTotals($0, name: "name") }
    }

    /// A usage row; `name` is the column holding its key, model, … (`label` where the rollup has a `name` column of its own).
    static func usageTotals(_ row: SQLRow, name: String) -> UsageTotals {
        UsageTotals(
            name: row.text(name) ?? "(none)", requests: row.int("requests") ?? 0, errors: row.int("errors") ?? 0,
            inputTokens: row.sum("input"), cacheReadTokens: row.sum("cache_read"),
            cacheWriteTokens: row.sum("cache_write_5m").saturatingAdd(row.sum("cache_write_1h")), outputTokens: row.sum("output"),
            cost: Money(picos: row.sum("cost")))
    }

    static let hourMs: Int64 = 3_600_000

    /// Whether a range starts and ends on whole hours, so the hourly rollups answer it exactly.
    static func onHours(_ from: Date, _ to: Date) -> Bool {
        from.millisecondsSince1970 % hourMs == 0 && to.millisecondsSince1970 % hourMs == 0
    }

    /// The nearest-rank `percent` quantile of a histogram (bucket, count), ascending.
    static func nearestRank(_ percent: Int64, _ buckets: [(Int64, Int64)]) -> Int64? {
        let total = buckets.reduce(Int64(0)) { $0.saturatingAdd($1.1) }
        guard total > 0 else { return nil }
        let rank = max(1, (total.saturatingMultiply(percent) + 99) / 100)
        var seen: Int64 = 0
        for (bucket, count) in buckets {
            seen = seen.saturatingAdd(count)
            if seen >= rank { return bucket }
        }
        return buckets.last?.0
    }
}
