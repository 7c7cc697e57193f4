import NIOCore
import SwitchboardCore

/// The rollups of a batch of ledger rows, added up in memory and written as one
/// multi-row upsert per table, in the transaction that inserts the rows: only
/// the rows the insert took (not a duplicate request id) are added, so each
/// counts exactly once. Until migration 25 a trigger filed every row itself,
/// twenty upserts a row; that made the ledger writer, not the relay, the
/// gateway's ceiling. A batch of rows from a few keys, models and accounts now
/// costs a few dozen upserts in all.
///
/// What is filed is what the trigger filed: usage by hour for every dimension
/// (`SQLiteRollups.allDimensions`), by minute and latency histograms by hour for
/// keys, users and accounts, the two global latency histograms, and each key's
/// and user's lifetime totals.
struct LedgerRollups {
    /// A rollup row's counts and its sums' billions and rest.
    struct Tally {
        var counts = [Int64](repeating: 0, count: LedgerRollups.counts.count)
        var high = [Int64](repeating: 0, count: LedgerRollups.sums.count)
        var low = [Int64](repeating: 0, count: LedgerRollups.sums.count)

        /// One row's own tally (read once, then added to each place it is filed under).
        init(_ row: LedgerRow) {
            for (index, count) in LedgerRollups.counts.enumerated() where count.applies(row.status) { counts[index] = 1 }
            for (index, sum) in LedgerRollups.sums.enumerated() {
                let value = sum.value(row)
                high[index] = value / SafeSum.unit
                low[index] = value % SafeSum.unit
            }
        }

        init() {}

        mutating func add(_ other: Tally) {
            for index in counts.indices { counts[index] = counts[index].saturatingAdd(other.counts[index]) }
            for index in high.indices {
                high[index] = high[index].saturatingAdd(other.high[index])
                low[index] = low[index].saturatingAdd(other.low[index])
            }
        }
    }

    struct Place: Hashable {
        var dimension: String
        var name: String
        var time: Int64
    }

    struct Bucket: Hashable {
        var place: Place
        var bucket: Int64
    }

    /// A global histogram's bucket: its hour, kind (latency or first byte) and bucket.
    struct Histogram: Hashable {
        var hour: Int64
        var kind: Int
        var bucket: Int64
    }

    /// A lifetime total's billions and rest.
    struct Parts {
        var high: Int64 = 0
        var low: Int64 = 0

        mutating func add(_ value: Int64) {
            high = high.saturatingAdd(value / SafeSum.unit)
            low = low.saturatingAdd(value % SafeSum.unit)
        }
    }

    /// The counts a rollup row keeps, in their columns' order.
    static let counts: [(name: String, applies: @Sendable (Int) -> Bool)] = [
        ("requests", { _ in true }), ("errors", { $0 >= 400 }), ("rate_limited", { $0 == 429 }),
        ("client_errors", { $0 >= 400 && $0 < 500 && $0 != 429 }), ("server_errors", { $0 >= 500 }),
    ]

    /// The sums a rollup row keeps: the columns of `SQLiteRollups.sums`,
    /// `classCostSums` and `savedSums`, in that order (a test holds them equal).
    static let sums: [(name: String, value: @Sendable (LedgerRow) -> Int64)] = [
        ("input", { $0.usage.inputUncached }), ("cache_read", { $0.usage.cacheRead }), ("cache_write_5m", { $0.usage.cacheWrite5m }),
        ("cache_write_1h", { $0.usage.cacheWrite1h }), ("output", { $0.usage.output }), ("cost", { $0.cost.picos }),
        ("latency", { $0.latencyMs }), ("list_input", { $0.listCosts.input.picos }), ("list_cache_read", { $0.listCosts.cacheRead.picos }),
        ("list_cache_write_5m", { $0.listCosts.cacheWrite5m.picos }), ("list_cache_write_1h", { $0.listCosts.cacheWrite1h.picos }),
        ("list_output", { $0.listCosts.output.picos }), ("cache_saved", { $0.listCosts.cacheSaved.picos }),
    ]

    /// The dimensions filed by hour, and those also by minute and in latency histograms.
    static let hourlyDimensions = SQLiteRollups.allDimensions
    static let statsDimensions = SQLiteRollups.statsDimensions

    /// The name a row is filed under in a dimension, as `SQLiteRollups.name`
    /// writes it in SQL: its columns' text joined by `/`, empty text for none.
    static func name(_ dimension: (name: String, columns: [String]), _ row: LedgerRow) -> String {
        // Built in place: it runs for every dimension of every row stored.
        var name = ""
        for (index, named) in dimension.columns.enumerated() {
            if index > 0 { name += "/" }
            name += column(named: named, of: row) ?? ""
        }
        return name
    }

    /// A ledger column a dimension files rows by, as text.
    static func column(named name: String, of row: LedgerRow) -> String? {
        switch name {
        case "key_id": return row.keyID.map { String($0) }
        case "key_name": return row.keyName
        case "user_name": return row.userName
        case "model": return row.model
        case "account_name": return row.accountName
        default: preconditionFailure("no rollup dimension files rows by \(name)")
        }
    }

    /// A latency's histogram bucket: the value cut to two significant digits (`SQLiteRollups.bucket`).
    static func bucket(_ value: Int64) -> Int64 {
        if value < 100 { return max(value, 0) }
        var limit: Int64 = 1000
        var step: Int64 = 10
        while limit <= 1_000_000_000_000 {
            if value < limit { return value / step * step }
            limit *= 10
            step *= 10
        }
        return value / step * step
    }

    private(set) var hourly: [Place: Tally] = [:]
    private(set) var minutely: [Place: Tally] = [:]
    private(set) var latencyByHour: [Bucket: Int64] = [:]
    /// Kind 0 latency, kind 1 first byte (`SQLiteRollups.latencyKind`, `firstByteKind`), by hour.
    private(set) var latencyHourly: [Histogram: Int64] = [:]
    private(set) var keyTotals: [Int64: (cost: Parts, tokens: Parts)] = [:]
    private(set) var userTotals: [String: Parts] = [:]

    /// Files one row.
    mutating func add(_ row: LedgerRow) {
        let time = row.createdAt.millisecondsSince1970
        let hour = time - time % SQLStore.hourMs
        let minute = time - time % 60_000
        let own = Tally(row)
        for dimension in Self.hourlyDimensions {
            hourly[Place(dimension: dimension.name, name: Self.name(dimension, row), time: hour), default: Tally()].add(own)
        }
        let latency = Self.bucket(row.latencyMs)
        for dimension in Self.statsDimensions {
            let name = Self.name(dimension, row)
            minutely[Place(dimension: dimension.name, name: name, time: minute), default: Tally()].add(own)
            latencyByHour[Bucket(place: Place(dimension: dimension.name, name: name, time: hour), bucket: latency), default: 0] += 1
        }
        latencyHourly[Histogram(hour: hour, kind: SQLiteRollups.latencyKind, bucket: latency), default: 0] += 1
        if let firstByte = row.firstByteMs {
            latencyHourly[Histogram(hour: hour, kind: SQLiteRollups.firstByteKind, bucket: Self.bucket(firstByte)), default: 0] += 1
        }
        if let key = row.keyID {
            var totals = keyTotals[key] ?? (Parts(), Parts())
            totals.cost.add(row.cost.picos)
            totals.tokens.add(row.usage.inputUncached)
            totals.tokens.add(row.usage.cacheRead)
            totals.tokens.add(row.usage.cacheWrite5m)
            totals.tokens.add(row.usage.cacheWrite1h)
            totals.tokens.add(row.usage.output)
            keyTotals[key] = totals
        }
        if let user = row.userName { userTotals[user, default: Parts()].add(row.cost.picos) }
    }

    /// The upserts that add the filed rows to the tables.
    func statements() -> [(sql: String, binds: [SQLValue])] {
        let tallyColumns = Self.counts.map(\.name) + Self.sums.flatMap { ["\($0.name)_hi", "\($0.name)_lo"] }
        func tallies(_ table: String, _ time: String, _ entries: [Place: Tally]) -> [(String, [SQLValue])] {
            Self.upserts(
                table, columns: ["dimension", "name", time] + tallyColumns, conflict: "dimension, name, \(time)",
                updates: tallyColumns.map { "\($0) = \(table).\($0) + excluded.\($0)" },
                rows: entries.map { place, tally in
                    [.text(place.dimension), .text(place.name), .integer(Int(place.time))] + tally.counts.map { .integer(Int($0)) }
                        + zip(tally.high, tally.low).flatMap { [SQLValue.integer(Int($0)), .integer(Int($1))] }
                })
        }
        // Each column the table's own (`table.column`): bare, PostgreSQL cannot tell it from `excluded`'s.
        let carry = { (table: String, name: String) in
            "\(name)_hi = \(table).\(name)_hi + excluded.\(name)_hi + (\(table).\(name)_lo + excluded.\(name)_lo) / \(SafeSum.unit), "
                + "\(name)_lo = (\(table).\(name)_lo + excluded.\(name)_lo) % \(SafeSum.unit)"
        }
        return tallies("usage_hourly", "hour", hourly) + tallies("usage_minutely", "minute", minutely)
            + Self.upserts(
                "latency_by_hour", columns: ["dimension", "name", "hour", "bucket", "count"], conflict: "dimension, name, hour, bucket",
                updates: ["count = latency_by_hour.count + excluded.count"],
                rows: latencyByHour.map { entry, count in
                    [
                        .text(entry.place.dimension), .text(entry.place.name), .integer(Int(entry.place.time)), .integer(Int(entry.bucket)),
                        .integer(Int(count)),
                    ]
                })
            + Self.upserts(
                "latency_hourly", columns: ["hour", "kind", "bucket", "count"], conflict: "hour, kind, bucket",
                updates: ["count = latency_hourly.count + excluded.count"],
                rows: latencyHourly.map { entry, count in
                    [.integer(Int(entry.hour)), .integer(entry.kind), .integer(Int(entry.bucket)), .integer(Int(count))]
                })
            + Self.upserts(
                "key_totals", columns: ["key_id", "cost_hi", "cost_lo", "tokens_hi", "tokens_lo"], conflict: "key_id",
                updates: [carry("key_totals", "cost"), carry("key_totals", "tokens")],
                rows: keyTotals.map { key, totals in
                    [
                        .integer(Int(key)), .integer(Int(totals.cost.high)), .integer(Int(totals.cost.low)), .integer(Int(totals.tokens.high)),
                        .integer(Int(totals.tokens.low)),
                    ]
                })
            + Self.upserts(
                "user_totals", columns: ["user_name", "cost_hi", "cost_lo"], conflict: "user_name", updates: [carry("user_totals", "cost")],
                rows: userTotals.map { user, cost in [.text(user), .integer(Int(cost.high)), .integer(Int(cost.low))] })
    }

    /// Multi-row upserts of `rows` (each with one value per column), as few as SQLite's limit on bound values allows.
    static func upserts(
        _ table: String, columns: [String], conflict: String, updates: [String], rows: [[SQLValue]]
    ) -> [(String, [SQLValue])] {
        guard !rows.isEmpty else { return [] }
        let perStatement = max(1, 30_000 / columns.count)
        let placeholder = "(" + Array(repeating: "?", count: columns.count).joined(separator: ",") + ")"
        return stride(from: 0, to: rows.count, by: perStatement).map { start in
            let chunk = rows[start..<min(rows.count, start + perStatement)]
            let sql =
                "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES "
                + Array(repeating: placeholder, count: chunk.count).joined(separator: ",")
                + " ON CONFLICT (\(conflict)) DO UPDATE SET \(updates.joined(separator: ", "))"
            return (sql, Array(chunk.joined()))
        }
    }
}
