import Engine
import Foundation
import Logging
import Policy
import Storage
import SwitchboardCore
import Testing

/// `ledger_retention`: old rows go in batches; what admission, stats and
/// reports read (lifetime totals, hourly rollups) stays as it was.
@Suite struct LedgerRetentionTests {
    static let hour: TimeInterval = 3600

    func row(_ id: String, at time: Date, key: Int64?, keyName: String? = "k", user: String? = "u", cost: Int64 = 1_500_000_000_123) -> LedgerRow {
        LedgerRow(
            requestID: id, createdAt: time, keyID: key, keyName: keyName, dialect: "openai_chat", model: "gpt-4o-mini", status: 200,
            outcome: .ok, usage: TokenUsage(inputUncached: 100, cacheRead: 20, cacheWrite5m: 0, cacheWrite1h: 0, output: 7, reasoning: 0),
            cost: Money(picos: cost), priced: true, latencyMs: 40, attempts: 1, userName: user)
    }

    @Test func oldRowsGoAndEverythingAdmissionAndStatsReadStays() async throws {
        try await withStore { store, _ in
            let key = try await store.insertKey(KeyInput(name: "k", hash: "hash-k", prefix: "sk-sb-", lastFour: "0000", source: "test"))
            _ = try await store.upsertUser(UserEntry(id: 0, name: "u"), setBalance: true)
            // On a whole hour, so the day's and the month's windows are plain to read.
            let now = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 / Self.hour).rounded(.down) * Self.hour)
            let old = now.addingTimeInterval(-40 * 86400)
            try await store.appendLedger([
                row("req_old", at: old, key: key.id), row("req_recent", at: now.addingTimeInterval(-Self.hour), key: key.id),
                row("req_now", at: now, key: key.id, cost: 7),
            ])
            let keysBefore = try await store.keyBaselines(now: now)
            let usersBefore = try await store.userBaselines(now: now)
            let daysBefore = try await store.usageStats(of: .key(key.id), from: old, to: now.addingTimeInterval(Self.hour), interval: .day)
            let userDaysBefore = try await store.usageStats(of: .user("u"), from: old, to: now.addingTimeInterval(Self.hour), interval: .hour)
            let reportBefore = try await store.usageReport(since: nil)
            #expect(keysBefore[key.id]?.spent == Money(picos: 3_000_000_000_253) && keysBefore[key.id]?.tokens == 381)
            #expect(daysBefore.series.count >= 2 && daysBefore.total.requests == 3 && reportBefore.total.requests == 3)

            let retention = LedgerRetention(store: store, retention: .seconds(30 * 86400), interval: .seconds(3600), batch: 1, logger: quietLogger())
            #expect(await retention.sweep(now: now) == 1)
            #expect(try await store.ledgerRow(requestID: "req_old") == nil)
            #expect(try await store.ledgerRow(requestID: "req_recent") != nil)
            #expect(try await store.ledgerRow(requestID: "req_now") != nil)
            #expect(await retention.sweep(now: now) == 0, "a second pass finds nothing")

            #expect(try await store.keyBaselines(now: now) == keysBefore, "a key's lifetime spend and tokens outlive its rows")
            #expect(try await store.userBaselines(now: now) == usersBefore)
            #expect(try await store.usageStats(of: .key(key.id), from: old, to: now.addingTimeInterval(Self.hour), interval: .day) == daysBefore)
            #expect(
                try await store.usageStats(of: .user("u"), from: old, to: now.addingTimeInterval(Self.hour), interval: .hour) == userDaysBefore,
                "stats, p95 included, outlive the rows")
            #expect(try await store.usageReport(since: nil) == reportBefore)
        }
    }

    @Test func aReportFromAnHourNotOnTheHourCountsThatHoursRowsFromTheLedger() async throws {
        try await withStore { store, _ in
            let hourStart = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 / Self.hour).rounded(.down) * Self.hour - 2 * Self.hour)
            try await store.appendLedger([
                row("a", at: hourStart.addingTimeInterval(60), key: nil),
                row("b", at: hourStart.addingTimeInterval(1800), key: nil),
                row("c", at: hourStart.addingTimeInterval(Self.hour + 60), key: nil),
            ])
            let report = try await store.usageReport(since: hourStart.addingTimeInterval(900))
            #expect(report.total.requests == 2 && report.total.cost == Money(picos: 3_000_000_000_246))
            #expect(report.byModel.map(\.name) == ["gpt-4o-mini"] && report.byKey.first?.requests == 2)
        }
    }

    @Test func underAOneMinuteRetentionTheFileStopsGrowing() async throws {
        try await withStore(engines: [.sqlite]) { store, path in
            let retention = LedgerRetention(store: store, retention: .seconds(60), interval: .seconds(60), batch: 100, logger: quietLogger())
            let start = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 / Self.hour).rounded(.down) * Self.hour - Self.hour)
            var sizes: [Int] = []
            for minute in 0..<40 {
                let base = start.addingTimeInterval(Double(minute) * 60)
                try await store.appendLedger((0..<300).map { row("req_\(minute)_\($0)", at: base.addingTimeInterval(Double($0) / 10), key: 1) })
                await retention.sweep(now: base.addingTimeInterval(60))
                sizes.append(
                    ["", "-wal"].reduce(0) { total, suffix in
                        total + ((try? FileManager.default.attributesOfItem(atPath: path + suffix)[.size] as? Int) ?? 0)
                    })
            }
            #expect(try await store.recentLedger(limit: 10_000).count <= 600, "at most the last minute's rows and the one before")
            let settled = sizes[10]
            #expect(sizes[10...].allSatisfy { $0 <= settled + settled / 4 }, "sizes after warm-up: \(sizes[10...])")
            #expect(try await store.keyBaselines(now: start.addingTimeInterval(2400))[1]?.tokens == 40 * 300 * 127)
        }
    }

    @Test func aKeysDayWeekAndMonthComeFromTheRollups() async throws {
        try await withStore { store, _ in
            let key = try await store.insertKey(KeyInput(name: "k", hash: "hash-k", prefix: "sk-sb-", lastFour: "0000", source: "test"))
            let now = Date(timeIntervalSince1970: 1_800_000_000)  // Friday 2027-01-15 08:00 UTC
            try await store.appendLedger([
                row("december", at: Date(timeIntervalSince1970: 1_798_758_000), key: key.id, cost: 1),
                row("month", at: Date(timeIntervalSince1970: 1_798_765_200), key: key.id, cost: 10),
                row("week", at: Date(timeIntervalSince1970: 1_799_715_600), key: key.id, cost: 100),
                row("today", at: Date(timeIntervalSince1970: 1_799_996_400), key: key.id, cost: 1000),
            ])
            let baseline = try #require(try await store.keyBaselines(now: now)[key.id])
            #expect(baseline.today == Money(picos: 1000) && baseline.week == Money(picos: 1100) && baseline.month == Money(picos: 1110))
            #expect(baseline.spent == Money(picos: 1111))
        }
    }
}
