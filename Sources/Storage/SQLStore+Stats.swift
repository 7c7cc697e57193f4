import NIOCore
import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension SQLStore {
    /// A subject's series between `from` and `to` (rounded out to whole slices),
    /// from the rollups: minutes from the minute rollups (kept two days), hours
    /// and days from the hourly ones, p95 from the hourly latency histograms.
    public func usageStats(of subject: StatsSubject, from: Date, to: Date, interval: StatsInterval) async throws -> UsageStats {
        let width = interval.milliseconds
        let start = from.millisecondsSince1970 / width * width
        let end = (to.millisecondsSince1970.saturatingAdd(width - 1)) / width * width
        let (filter, binds) = Self.statsFilter(subject)
        let (table, time) = interval == .minute ? ("usage_minutely", "minute") : ("usage_hourly", "hour")
        let range: [SQLValue] = [.integer(Int(start)), .integer(Int(end))]
        let rows = try await query(
            """
            SELECT (\(time) - ?) / ? AS slice, \(SQLiteRollups.statsColumns) FROM \(table)
            WHERE \(filter) AND \(time) >= ? AND \(time) < ? GROUP BY slice ORDER BY slice
            """, [.integer(Int(start)), .integer(Int(width))] + binds + range)
        var series = rows.map { row in
            Self.slice(row, start: Date(millisecondsSince1970: start.saturatingAdd((row.int("slice") ?? 0).saturatingMultiply(width))))
        }
        var total = StatsSlice(start: Date(millisecondsSince1970: start))
        for slice in series { total.add(slice) }
        // Latency histograms are hourly: minute slices get no p95; the total's covers the hours around the range.
        let hourStart = start / SQLStore.hourMs * SQLStore.hourMs
        let hourEnd = (end.saturatingAdd(SQLStore.hourMs - 1)) / SQLStore.hourMs * SQLStore.hourMs
        let latencyFilter = Self.statsFilter(subject, latency: true)
        let buckets = try await query(
            """
            SELECT (hour - ?) / ? AS slice, bucket, SUM(count) AS n FROM latency_by_hour
            WHERE \(latencyFilter.0) AND hour >= ? AND hour < ? GROUP BY slice, bucket ORDER BY slice, bucket
            """,
            [.integer(Int(hourStart)), .integer(Int(interval == .minute ? SQLStore.hourMs : width))] + latencyFilter.1
                + [.integer(Int(hourStart)), .integer(Int(hourEnd))])
        var bySlice: [Int64: [(Int64, Int64)]] = [:]
        var all: [Int64: Int64] = [:]
        for row in buckets {
            let bucket = row.int("bucket") ?? 0
            let count = row.int("n") ?? 0
            bySlice[row.int("slice") ?? 0, default: []].append((bucket, count))
            all[bucket, default: 0] = all[bucket, default: 0].saturatingAdd(count)
        }
        total.p95LatencyMs = Self.nearestRank(95, all.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        if interval != .minute {
            for index in series.indices {
                let slice = (series[index].start.millisecondsSince1970 - start) / width
                series[index].p95LatencyMs = bySlice[slice].flatMap { Self.nearestRank(95, $0) }
            }
        }
        return UsageStats(
            from: Date(millisecondsSince1970: start), to: Date(millisecondsSince1970: end), interval: interval, series: series, total: total,
            models: try await modelStats(of: subject, from: hourStart, to: hourEnd))
    }

    /// By model, for keys, users and groups (from the key×model and user×model rollups, whole hours).
    private func modelStats(of subject: StatsSubject, from: Int64, to: Int64) async throws -> [(model: String, slice: StatsSlice)] {
        let filter: String
        let binds: [SQLValue]
        switch subject {
        case .account: return []
        case .key(let id):
            // Names are `<id>/<model>`: everything from "<id>/" up to "<id>0" ('0' follows '/').
            (filter, binds) = (
                "dimension = '\(SQLiteRollups.keyModelDimension.name)' AND name >= ? AND name < ?", [.text("\(id)/"), .text("\(id)0")]
            )
        case .user(let name):
            (filter, binds) = (
                "dimension = '\(SQLiteRollups.userModelDimension.name)' AND name >= ? AND name < ?", [.text("\(name)/"), .text("\(name)0")]
            )
        case .group(let name):
            // A user's name holds no '/', so the first one ends it.
            (filter, binds) = (
                "dimension = '\(SQLiteRollups.userModelDimension.name)' AND substr(name, 1, \(dialect.position(of: "'/'", in: "name")) - 1) IN (SELECT name FROM users WHERE group_name = ?)",
                [.text(name)]
            )
        }
        let rows = try await query(
            """
            SELECT substr(name, \(dialect.position(of: "'/'", in: "name")) + 1) AS model, \(SQLiteRollups.statsColumns) FROM usage_hourly
            WHERE \(filter) AND hour >= ? AND hour < ? GROUP BY model
            """, binds + [.integer(Int(from)), .integer(Int(to))])
        return rows.compactMap { row in
            guard let model = row.text("model"), !model.isEmpty else { return nil }
            return (model, Self.slice(row, start: Date(millisecondsSince1970: from)))
        }.sorted { ($0.slice.cost, $1.model) > ($1.slice.cost, $0.model) }
    }

    /// Which rollup rows a subject's are: usage (`latency` false) or latency histograms.
    static func statsFilter(_ subject: StatsSubject, latency: Bool = false) -> (String, [SQLValue]) {
        switch subject {
        case .key(let id): return ("dimension = '\(SQLiteRollups.keyIDDimension.name)' AND name = ?", [.text(String(id))])
        case .user(let name): return ("dimension = 'user' AND name = ?", [.text(name)])
        case .group(let name): return ("dimension = 'user' AND name IN (SELECT name FROM users WHERE group_name = ?)", [.text(name)])
        case .account(let name): return ("dimension = 'account' AND name = ?", [.text(name)])
        }
    }

    /// A rollup row's counts and sums as a slice.
    static func slice(_ row: SQLRow, start: Date) -> StatsSlice {
        var slice = StatsSlice(start: start)
        slice.requests = row.int("requests") ?? 0
        slice.errors = row.int("errors") ?? 0
        slice.rateLimited = row.int("rate_limited") ?? 0
        slice.clientErrors = row.int("client_errors") ?? 0
        slice.serverErrors = row.int("server_errors") ?? 0
        slice.tokens = TokenUsage(
            inputUncached: row.sum("input"), cacheRead: row.sum("cache_read"), cacheWrite5m: row.sum("cache_write_5m"),
            cacheWrite1h: row.sum("cache_write_1h"), output: row.sum("output"))
        slice.cost = Money(picos: row.sum("cost"))
        slice.listCosts = TokenCosts(
            input: Money(picos: row.sum("list_input")), cacheRead: Money(picos: row.sum("list_cache_read")),
            cacheWrite5m: Money(picos: row.sum("list_cache_write_5m")), cacheWrite1h: Money(picos: row.sum("list_cache_write_1h")),
            output: Money(picos: row.sum("list_output")), cacheSaved: Money(picos: row.sum("cache_saved")))
        slice.latencyMsTotal = row.sum("latency")
        return slice
    }
}
