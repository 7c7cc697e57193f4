import Admin
import Engine
import Foundation
import Policy
import Storage
import SwitchboardCore
import Testing

/// The stats endpoints' numbers, from the rollups: series by minute, hour and
/// day, errors by class, tokens and list price by class, by model, p95.
@Suite struct StatsTests {
    static let base = Date(timeIntervalSince1970: 1_800_000_000)  // Friday 2027-01-15 08:00 UTC

    func row(
        _ id: String, minutes: Double, key: Int64 = 1, user: String? = "ann", account: String = "acct", model: String = "gpt-4o",
        status: Int = 200, latency: Int64 = 100
    ) -> LedgerRow {
        var row = LedgerRow(
            requestID: id, createdAt: Self.base.addingTimeInterval(minutes * 60), keyID: key, keyName: "k\(key)", dialect: "openai_chat",
            model: model, status: status, outcome: status < 400 ? .ok : .upstreamError,
            usage: TokenUsage(inputUncached: 100, cacheRead: 20, cacheWrite5m: 10, cacheWrite1h: 5, output: 7, reasoning: 0),
            cost: Money(picos: 3000), priced: true, latencyMs: latency, attempts: 1, userName: user)
        row.accountName = account
        row.listCosts = TokenCosts(
            input: Money(picos: 1000), cacheRead: Money(picos: 100), cacheWrite5m: Money(picos: 200), cacheWrite1h: Money(picos: 150),
            output: Money(picos: 550))
        return row
    }

    @Test func seriesByHourAndDayCountErrorsByClassAndPriceEachTokenClass() async throws {
        try await withStore { store, _ in
            _ = try await store.upsertGroup(GroupEntry(id: 0, name: "team"))
            _ = try await store.upsertUser(UserEntry(id: 0, name: "ann", group: "team"), setBalance: true)
            _ = try await store.upsertUser(UserEntry(id: 0, name: "bob", group: "team"), setBalance: true)
            var rows = (0..<20).map { row("ok-\($0)", minutes: Double($0), latency: Int64(10 * ($0 + 1))) }
            rows += [
                row("limited", minutes: 61, status: 429), row("bad", minutes: 62, status: 400), row("down", minutes: 63, status: 502),
                row("opus", minutes: 64, model: "claude-opus-4-5"), row("bob", minutes: 65, key: 2, user: "bob", account: "other"),
            ]
            try await store.appendLedger(rows)
            let stats = try await store.usageStats(of: .key(1), from: Self.base, to: Self.base.addingTimeInterval(7200), interval: .hour)
            #expect(stats.series.map(\.requests) == [20, 4])
            #expect(stats.total.requests == 24 && stats.total.errors == 3)
            #expect(stats.total.rateLimited == 1 && stats.total.clientErrors == 1 && stats.total.serverErrors == 1)
            #expect(stats.total.tokens.inputUncached == 2400 && stats.total.tokens.cacheWrite1h == 120 && stats.total.cost == Money(picos: 72_000))
            #expect(stats.total.listCosts.output == Money(picos: 24 * 550) && stats.total.listCosts.total == Money(picos: 24 * 2000))
            // The first hour's latencies are 10, 20, … 200 ms: its p95 is the 19th of 20 (190 ms).
            #expect(stats.series[0].p95LatencyMs == 190 && stats.series[0].meanLatencyMs == 105)
            #expect(stats.models.map(\.model) == ["gpt-4o", "claude-opus-4-5"] && stats.models[0].slice.requests == 23)

            let days = try await store.usageStats(of: .key(1), from: Self.base, to: Self.base.addingTimeInterval(60), interval: .day)
            #expect(days.series.count == 1 && days.series[0].requests == 24 && days.from == Date(timeIntervalSince1970: 1_799_971_200))

            let group = try await store.usageStats(of: .group("team"), from: Self.base, to: Self.base.addingTimeInterval(7200), interval: .day)
            #expect(group.total.requests == 25 && group.models.first { $0.model == "gpt-4o" }?.slice.requests == 24)
            let account = try await store.usageStats(of: .account("other"), from: Self.base, to: Self.base.addingTimeInterval(7200), interval: .hour)
            #expect(account.total.requests == 1 && account.models.isEmpty)
        }
    }

    @Test func minutesAreKeptTwoDaysAndGoAfter() async throws {
        try await withStore { store, _ in
            try await store.appendLedger([row("a", minutes: 0), row("b", minutes: 0.5), row("c", minutes: 3, status: 429)])
            let minutes = try await store.usageStats(of: .account("acct"), from: Self.base, to: Self.base.addingTimeInterval(600), interval: .minute)
            #expect(minutes.series.map(\.requests) == [2, 1] && minutes.series[1].rateLimited == 1)
            #expect(minutes.series[1].start == Self.base.addingTimeInterval(180) && minutes.series[0].p95LatencyMs == nil)
            #expect(minutes.total.p95LatencyMs == 100)
            let retention = LedgerRetention(store: store, retention: nil, interval: .seconds(3600), logger: quietLogger())
            await retention.sweep(now: Self.base.addingTimeInterval(86400))
            #expect(
                try await store.usageStats(of: .account("acct"), from: Self.base, to: Self.base.addingTimeInterval(600), interval: .minute).total
                    .requests == 3)
            await retention.sweep(now: Self.base.addingTimeInterval(3 * 86400))
            #expect(
                try await store.usageStats(of: .account("acct"), from: Self.base, to: Self.base.addingTimeInterval(600), interval: .minute).total
                    .requests == 0)
            #expect(try await store.ledgerRow(requestID: "a") != nil, "without ledger_retention rows stay")
            let hours = try await store.usageStats(of: .account("acct"), from: Self.base, to: Self.base.addingTimeInterval(600), interval: .hour)
            #expect(hours.total.requests == 3, "hours outlive minutes")
        }
    }

    @Test func aStatsRequestIsReadOrRefusedByName() throws {
        let now = Self.base
        let byDefault = try StatsRequest.parse([:], now: now)
        #expect(byDefault.interval == .day && byDefault.to == now && byDefault.from == now.addingTimeInterval(-29 * 86400))
        let days = try StatsRequest.parse(["days": "7"], now: now)
        #expect(days.from == Date(timeIntervalSince1970: 1_799_971_200 - 6 * 86400))
        #expect(try StatsRequest.parse(["interval": "minute"], now: now).from == now.addingTimeInterval(-86400))
        func refused(_ parameters: [String: String]) -> String {
            do {
                _ = try StatsRequest.parse(parameters, now: now)
                return ""
            } catch { return error.description }
        }
        #expect(refused(["interval": "week"]).contains("day, hour or minute"))
        #expect(refused(["interval": "minute", "from": "2027-01-10"]).contains("two days"))
        #expect(refused(["interval": "hour", "from": "2020-01-01"]).contains("more than 10000 hours"))
        #expect(refused(["from": "2027-01-16"]).contains("before to"))
        #expect(refused(["from": "yesterday"]).contains("from must be"))
        #expect(refused(["days": "7", "from": "2027-01-01"]).contains("keep one"))
    }

    @Test func aPricesClassesSumToItsCost() {
        var price = ModelPrice()
        price.input = .init(base: Money(picos: 3_000_000))
        price.output = .init(base: Money(picos: 15_000_000))
        price.cacheRead = .init(base: Money(picos: 300_000))
        price.cacheWrite5m = .init(base: Money(picos: 3_750_000))
        let usage = TokenUsage(inputUncached: 1000, cacheRead: 500, cacheWrite5m: 200, cacheWrite1h: 100, output: 80, reasoning: 0)
        let costs = price.costs(usage)
        #expect(costs.cacheWrite1h == Money(picos: 375_000_000), "a 1-hour write takes the 5-minute rate when none is listed")
        #expect(costs.total == price.cost(usage) && costs.output == Money(picos: 1_200_000_000))
    }
}
