import Foundation
import Policy
import SQLiteNIO
import SwitchboardCore
import Testing

@testable import Storage

/// The ledger writer files rollups a batch at a time; until migration 25 a
/// trigger filed them row by row. The same rows must leave the same rollups
/// either way, in every table, whatever the batches.
@Suite struct LedgerRollupTests {
    /// Rows that reach every branch: keys, users and models present and absent,
    /// each status class, first byte or none, latencies across buckets, hours and
    /// minutes, sums across the billions, a request id sent twice; and a run
    /// of rows alike in key, user, model, account and minute (added up before
    /// they are filed).
    static func rows() -> [LedgerRow] {
        var alike: [LedgerRow] = []
        for index in 0..<40 {
            let statuses = [200, 200, 429, 500]
            let latencies: [Int64] = [7, 7, 150, 2500]
            let usage = TokenUsage(inputUncached: 1_999_999_999, cacheRead: Int64(index), cacheWrite5m: 0, cacheWrite1h: 0, output: 9)
            var row = LedgerRow(
                requestID: "alike-\(index)", createdAt: Date(timeIntervalSince1970: 1_800_000_000 + Double(index % 5)), keyID: 1,
                keyName: "key-1", dialect: "openai_chat", model: "gpt-4o", status: statuses[index % 4], outcome: .ok, usage: usage,
                cost: Money(picos: 999_999_999_999 + Int64(index)), priced: true, latencyMs: latencies[index % 4],
                firstByteMs: index % 2 == 0 ? nil : 3, attempts: 1, userName: "user-1")
            row.accountName = "acct-0"
            alike.append(row)
        }
        return sampled() + alike
    }

    static func sampled() -> [LedgerRow] {
        let base = Date(timeIntervalSince1970: 1_800_000_000)
        var rng = SystemRandomNumberGenerator()
        let statuses = [200, 200, 200, 429, 400, 404, 500, 502, 0]
        return (0..<300).map { index in
            var row = LedgerRow(
                requestID: "r\(index % 290)",  // the last ten repeat earlier ids
                createdAt: base.addingTimeInterval(Double(index) * 37.5), keyID: index % 7 == 0 ? nil : Int64(index % 3 + 1),
                keyName: index % 7 == 0 ? nil : "key-\(index % 3 + 1)", dialect: "openai_chat",
                model: index % 11 == 0 ? nil : ["gpt-4o", "claude-sonnet-4-5"][index % 2], status: statuses[index % statuses.count],
                outcome: .ok,
                usage: TokenUsage(
                    inputUncached: Int64.random(in: 0...3_000_000_000, using: &rng), cacheRead: Int64(index), cacheWrite5m: 7,
                    cacheWrite1h: 0, output: Int64.random(in: 0...5000, using: &rng)),
                cost: Money(picos: Int64.random(in: 0...9_000_000_000_000, using: &rng)), priced: true,
                latencyMs: [0, 5, 99, 100, 999, 1234, 98_765, 3_600_000][index % 8], firstByteMs: index % 3 == 0 ? nil : Int64(index * 13),
                attempts: 1, userName: index % 5 == 0 ? nil : "user-\(index % 4)")
            row.accountName = index % 13 == 0 ? nil : "acct-\(index % 2)"
            row.listCosts = TokenCosts(
                input: Money(picos: Int64(index) * 1_000_000_007), cacheRead: Money(picos: 5), cacheWrite5m: Money(picos: 1),
                output: Money(picos: 2_500_000_000), cacheSaved: Money(picos: Int64(index) * 999_999_999))
            return row
        }
    }

    /// Every rollup table's rows, each sum put back together (how it is split in billions and rest may differ).
    static func rollups(_ store: SQLStore) async throws -> [String: [String]] {
        var tables: [String: [String]] = [:]
        for (table, keys) in [
            ("usage_hourly", ["dimension", "name", "hour"]), ("usage_minutely", ["dimension", "name", "minute"]),
            ("latency_by_hour", ["dimension", "name", "hour", "bucket"]), ("latency_hourly", ["hour", "kind", "bucket"]),
            ("key_totals", ["key_id"]), ("user_totals", ["user_name"]),
        ] {
            let rows = try await store.query("SELECT * FROM \(table) ORDER BY \(keys.joined(separator: ", "))")
            tables[table] = rows.map { row in
                zip(row.names, row.values).compactMap { column, value -> String? in
                    if column.hasSuffix("_lo") { return nil }
                    if column.hasSuffix("_hi") {
                        let name = String(column.dropLast(3))
                        return "\(name)=\(row.sum(name))"
                    }
                    return "\(column)=\(value)"
                }.joined(separator: " ")
            }
        }
        return tables
    }

    @Test func batchesFileWhatTheTriggerFiledRowByRow() async throws {
        let rows = Self.rows()
        var byTrigger: [String: [String]] = [:]
        try await withStore(engines: [.sqlite]) { store, _ in
            let sqlite = try #require(store as? SQLStore)
            _ = try await sqlite.query(SQLiteRollups.trigger(dimensions: SQLiteRollups.allDimensions, totals: true, stats: true, savings: true))
            let placeholders = "(" + Array(repeating: "?", count: SQLStore.ledgerColumns.count).joined(separator: ",") + ")"
            for row in rows {
                _ = try await sqlite.query(
                    "INSERT INTO ledger (\(SQLStore.ledgerColumns.joined(separator: ","))) VALUES \(placeholders) ON CONFLICT (request_id) DO NOTHING",
                    SQLStore.binds(row))
            }
            byTrigger = try await Self.rollups(sqlite)
        }
        for batch in [1, 7, 300] {
            try await withStore { store, _ in
                let sqlite = try #require(store as? SQLStore)
                for start in stride(from: 0, to: rows.count, by: batch) {
                    try await store.appendLedger(Array(rows[start..<min(rows.count, start + batch)]))
                }
                try await store.appendLedger(Array(rows.prefix(20)))  // sent again: nothing more is filed
                let byBatch = try await Self.rollups(sqlite)
                for table in byTrigger.keys.sorted() {
                    #expect(byBatch[table] == byTrigger[table], "\(table), batches of \(batch)")
                }
                #expect(byTrigger["usage_hourly"]?.isEmpty == false && byTrigger["latency_hourly"]?.isEmpty == false)
            }
        }
    }

    /// SQLite's statements complete on the background thread, where the
    /// ledger's flushes wait for them, not on an event loop serving requests.
    @Test func sqliteStatementsCompleteOnTheBackgroundThread() async throws {
        try await withStore(engines: [.sqlite]) { store, _ in
            let database = try #require((store as? SQLStore)?.database as? Storage.SQLiteDatabase)
            #expect(database.connection.eventLoop === BackgroundThread.eventLoop)
        }
    }

    @Test func theSumsFiledAreTheRollupTablesColumns() {
        #expect(LedgerRollups.sums.map(\.name) == (SQLiteRollups.sums + SQLiteRollups.classCostSums + SQLiteRollups.savedSums).map(\.name))
        #expect(LedgerRollups.counts.map(\.name) == ["requests", "errors"] + SQLiteRollups.errorClasses.map(\.0))
        for value: Int64 in [-5, 0, 99, 100, 123, 999, 1000, 12_345, 999_999_999_999, 1_000_000_000_000, 5_432_109_876_543, .max] {
            #expect(LedgerRollups.bucket(value) <= max(value, 0) && LedgerRollups.bucket(value) >= 0)
        }
        #expect(LedgerRollups.bucket(12_345) == 12_000 && LedgerRollups.bucket(57) == 57 && LedgerRollups.bucket(150) == 150)
    }
}
