import Admin
import Foundation
import Storage
import SwitchboardCore
import Testing

/// The dashboard's and the usage report's figures, from known ledger rows.
@Suite struct ReportTests {
    func store() async throws -> (SQLStore, String) {
        let directory = try makeTemporaryDirectory()
        let store = try await SQLStore.openSQLite(path: "\(directory)/reports.db", logger: quietLogger())
        try await store.migrate()
        return (store, directory)
    }

    static func row(
        _ id: Int, at time: Date, key: String, model: String, status: Int = 200, latency: Int64, firstByte: Int64? = nil, cents: Int64 = 1
    ) -> LedgerRow {
        LedgerRow(
            requestID: "req_report_\(id)", createdAt: time, keyName: key, dialect: "openai_chat", model: model, status: status,
            outcome: status == 200 ? .ok : .upstreamError, usage: TokenUsage(inputUncached: 10, output: 5),
            cost: Money(picos: cents * 10_000_000_000), latencyMs: latency, firstByteMs: firstByte)
    }

    @Test func theDashboardCountsEachSliceAndTheQuantilesAreNearestRank() async throws {
        let (store, directory) = try await store()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Noon UTC: the 24 h view's hourly slices end at 13:00, so the last one is 12:00–13:00.
        let now = Date(timeIntervalSince1970: 1_796_472_000)
        var rows: [LedgerRow] = []
        for i in 1...20 {
            rows.append(Self.row(i, at: now, key: "a", model: "m1", status: i == 20 ? 502 : 200, latency: Int64(i * 10), firstByte: Int64(i)))
        }
        rows.append(Self.row(21, at: now.addingTimeInterval(-3 * 3600 - 60), key: "b", model: "m2", latency: 1000, cents: 50))
        rows.append(Self.row(22, at: now.addingTimeInterval(-3 * 86_400), key: "b", model: "m2", latency: 5))  // outside 24 h
        try await store.appendLedger(rows)

        let board = try await ReportAdmin(store: store, gateway: nil).dashboard(.day, now: now)
        #expect(board.buckets.count == 24)
        #expect(board.total.requests == 21 && board.total.errors == 1)
        #expect(board.total.tokens == 21 * 15)
        #expect(board.total.cost == Money(dollars: "0.70"))
        #expect(board.buckets.last?.requests == 20 && board.buckets.last?.latencyMsTotal == 2100)
        #expect(board.buckets[board.buckets.count - 5].requests == 1)  // 08:59 is in 08:00–09:00
        // 21 latencies: 10…200 and 1000. Nearest rank: p50 is the 11th, p95 the 20th.
        #expect(board.latency.p50LatencyMs == 110 && board.latency.p95LatencyMs == 200)
        // First bytes only where there was one: 1…20.
        #expect(board.latency.p50FirstByteMs == 10 && board.latency.p95FirstByteMs == 19)
        #expect(board.topKeys.map(\.name) == ["b", "a"])  // by spend: $0.50 against $0.20
        #expect(board.topModels.first?.name == "m2")

        // A row written again (journal recovery after a crash) is refused as a duplicate: the rollups do not count it twice.
        try await store.appendLedger(rows)
        #expect(try await ReportAdmin(store: store, gateway: nil).dashboard(.day, now: now).total.requests == 21)

        // The hour view (five-minute slices) reads the rows themselves.
        let hour = try await ReportAdmin(store: store, gateway: nil).dashboard(.hour, now: now)
        #expect(hour.buckets.count == 12 && hour.total.requests == 20 && hour.total.errors == 1)
        #expect(hour.latency.p50LatencyMs == 100 && hour.latency.p95LatencyMs == 190)

        let byDay = try await store.usageBreakdown(by: .day, from: now.addingTimeInterval(-7 * 86_400), to: now.addingTimeInterval(86_400))
        #expect(byDay.map(\.requests) == [1, 21])
        try await store.close()
    }
}
