import NIOCore
import SwitchboardCore

/// The rollups of a batch of ledger rows, added up in memory and written as
/// multi-row upserts per table (`SQLDialect.rowsPerStatement` rows each), in the
/// transaction that inserts the rows: only the rows the insert took (not a
/// duplicate request id) are added, so each counts exactly once. Until
/// migration 25 a trigger filed every row itself, twenty upserts a row; that
/// made the ledger writer, not the relay, the gateway's ceiling. A batch of
/// rows from a few keys, models and accounts now costs a statement or two per
/// table.
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

        init() {}

        /// Adds one row, as adding its own tally would.
        mutating func add(_ row: LedgerRow) {
            for (index, count) in LedgerRollups.counts.enumerated() where count.applies(row.status) {
                counts[index] = counts[index].saturatingAdd(1)
            }
            for (index, sum) in LedgerRollups.sums.enumerated() {
                let value = sum.value(row)
                high[index] = high[index].saturatingAdd(value / SafeSum.unit)
                low[index] = low[index].saturatingAdd(value % SafeSum.unit)
            }
        }

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

    /// What decides the places a row is filed under, and when: rows alike in
    /// all of it are added up first and filed once (a batch of hundreds of rows
    /// from a few keys, models and accounts has a few profiles), instead of
    /// each row into each of its places (fourteen dictionary entries, eleven
    /// names built, a row).
    struct Profile: Hashable {
        var keyID: Int64?
        var keyName: String?
        var userName: String?
        var model: String?
        var accountName: String?
        var hour: Int64
        /// Zero in `LatencyBucket`, whose counts are by hour.
        var minute: Int64

        init(_ row: LedgerRow, hour: Int64, minute: Int64) {
            (keyID, keyName, userName, model, accountName) = (row.keyID, row.keyName, row.userName, row.model, row.accountName)
            (self.hour, self.minute) = (hour, minute)
        }
    }

    /// A profile's rows in one latency bucket of an hour.
    struct LatencyBucket: Hashable {
        var profile: Profile
        var bucket: Int64
    }

    /// The name a profile's rows are filed under in a dimension, as
    /// `SQLiteRollups.name` writes it in SQL: its columns' text joined by `/`,
    /// empty text for none.
    static func name(_ dimension: (name: String, columns: [String]), _ profile: Profile) -> String {
        var name = ""
        for (index, named) in dimension.columns.enumerated() {
            if index > 0 { name += "/" }
            name += column(named: named, of: profile) ?? ""
        }
        return name
    }

    /// A ledger column a dimension files rows by, as text.
    static func column(named name: String, of profile: Profile) -> String? {
        switch name {
        case "key_id": return profile.keyID.map { String($0) }
        case "key_name": return profile.keyName
        case "user_name": return profile.userName
        case "model": return profile.model
        case "account_name": return profile.accountName
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

    private(set) var profiles: [Profile: Tally] = [:]
    private(set) var latencies: [LatencyBucket: Int64] = [:]
    /// Kind 0 latency, kind 1 first byte (`SQLiteRollups.latencyKind`, `firstByteKind`), by hour.
    private(set) var latencyHourly: [Histogram: Int64] = [:]
    private(set) var keyTotals: [Int64: (cost: Parts, tokens: Parts)] = [:]
    private(set) var userTotals: [String: Parts] = [:]

    /// Files one row.
    mutating func add(_ row: LedgerRow) {
        let time = row.createdAt.millisecondsSince1970
        let hour = time - time % SQLStore.hourMs
        let minute = time - time % 60_000
        profiles[Profile(row, hour: hour, minute: minute), default: Tally()].add(row)
        let latency = Self.bucket(row.latencyMs)
        latencies[LatencyBucket(profile: Profile(row, hour: hour, minute: 0), bucket: latency), default: 0] += 1
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

    /// The rows' tallies by hour for every dimension.
    var hourly: [Place: Tally] {
        var hourly: [Place: Tally] = [:]
        for (profile, tally) in profiles {
            for dimension in Self.hourlyDimensions {
                hourly[Place(dimension: dimension.name, name: Self.name(dimension, profile), time: profile.hour), default: Tally()].add(tally)
            }
        }
        return hourly
    }

    /// The rows' tallies by minute for the stats dimensions.
    var minutely: [Place: Tally] {
        var minutely: [Place: Tally] = [:]
        for (profile, tally) in profiles {
            for dimension in Self.statsDimensions {
                minutely[Place(dimension: dimension.name, name: Self.name(dimension, profile), time: profile.minute), default: Tally()]
                    .add(tally)
            }
        }
        return minutely
    }

    /// The rows' latency histograms by hour for the stats dimensions.
    var latencyByHour: [Bucket: Int64] {
        var byHour: [Bucket: Int64] = [:]
        for (entry, count) in latencies {
            for dimension in Self.statsDimensions {
                let place = Place(dimension: dimension.name, name: Self.name(dimension, entry.profile), time: entry.profile.hour)
                byHour[Bucket(place: place, bucket: entry.bucket), default: 0] += count
            }
        }
        return byHour
    }

    /// The upserts that add the filed rows to the tables.
    func statements(_ dialect: SQLDialect) -> [(sql: String, binds: [SQLValue])] {
        let tallyColumns = Self.counts.map(\.name) + Self.sums.flatMap { ["\($0.name)_hi", "\($0.name)_lo"] }
        func tallies(_ table: String, _ time: String, _ entries: [Place: Tally]) -> [(String, [SQLValue])] {
            Self.upserts(
                dialect, table, columns: ["dimension", "name", time] + tallyColumns, conflict: "dimension, name, \(time)",
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
                dialect, "latency_by_hour", columns: ["dimension", "name", "hour", "bucket", "count"], conflict: "dimension, name, hour, bucket",
                updates: ["count = latency_by_hour.count + excluded.count"],
                rows: latencyByHour.map { entry, count in
                    [
                        .text(entry.place.dimension), .text(entry.place.name), .integer(Int(entry.place.time)), .integer(Int(entry.bucket)),
                        .integer(Int(count)),
                    ]
                })
            + Self.upserts(
                dialect, "latency_hourly", columns: ["hour", "kind", "bucket", "count"], conflict: "hour, kind, bucket",
                updates: ["count = latency_hourly.count + excluded.count"],
                rows: latencyHourly.map { entry, count in
                    [.integer(Int(entry.hour)), .integer(entry.kind), .integer(Int(entry.bucket)), .integer(Int(count))]
                })
            + Self.upserts(
                dialect, "key_totals", columns: ["key_id", "cost_hi", "cost_lo", "tokens_hi", "tokens_lo"], conflict: "key_id",
                updates: [carry("key_totals", "cost"), carry("key_totals", "tokens")],
                rows: keyTotals.map { key, totals in
                    [
                        .integer(Int(key)), .integer(Int(totals.cost.high)), .integer(Int(totals.cost.low)), .integer(Int(totals.tokens.high)),
                        .integer(Int(totals.tokens.low)),
                    ]
                })
            + Self.upserts(
                dialect, "user_totals", columns: ["user_name", "cost_hi", "cost_lo"], conflict: "user_name", updates: [carry("user_totals", "cost")],
                rows: userTotals.map { user, cost in [.text(user), .integer(Int(cost.high)), .integer(Int(cost.low))] })
    }

    /// Multi-row upserts of `rows` (each with one value per column), as many
    /// rows a statement as the ledger's inserts take (`SQLDialect.rowsPerStatement`).
    static func upserts(
        _ dialect: SQLDialect, _ table: String, columns: [String], conflict: String, updates: [String], rows: [[SQLValue]]
    ) -> [(String, [SQLValue])] {
        guard !rows.isEmpty else { return [] }
        let perStatement = dialect.rowsPerStatement(columns: columns.count)
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
