import NIOCore
import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension SQLStore {
    public func dailyUsage(provider: String, account: String?, from: Date, to: Date) async throws -> [DailyUsage] {
        let accountFilter = account == nil ? "" : "AND account_name = ?"
        let binds: [SQLValue] =
            [.text(provider)] + (account.map { [.text($0)] } ?? [])
            + [.integer(Int(from.millisecondsSince1970)), .integer(Int(to.millisecondsSince1970))]
        return try await query(
            """
            SELECT \(dialect.utcDay(ofMilliseconds: "created_at")) AS day, COALESCE(upstream_model, model, '') AS model, COUNT(*) AS requests,
                \(SafeSum.sql("input_uncached", as: "input")), \(SafeSum.sql("cache_read", as: "cache_read")),
                \(SafeSum.sql("cache_write_5m", as: "cache_write_5m")), \(SafeSum.sql("cache_write_1h", as: "cache_write_1h")),
                \(SafeSum.sql("output", as: "output")), \(SafeSum.sql("upstream_cost_picos", as: "cost"))
            FROM ledger WHERE provider = ? \(accountFilter) AND created_at >= ? AND created_at < ?
            GROUP BY day, 2 ORDER BY day, 2
            """, binds
        ).map { row in
            var usage = DailyUsage(day: row.text("day") ?? "", model: row.text("model") ?? "")
            usage.requests = row.int("requests")
            usage.input = row.sum("input")
            usage.cacheRead = row.sum("cache_read")
            usage.cacheWrite = row.sum("cache_write_5m").saturatingAdd(row.sum("cache_write_1h"))
            usage.output = row.sum("output")
            usage.cost = Money(picos: row.sum("cost"))
            return usage
        }
    }

    public func putSetting(_ name: String, _ value: String) async throws {
        _ = try await transaction {
            try await execute(
                "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                [.text(name), .text(value)])
        }
    }
}
