import Engine
import Foundation
import Policy
import Storage
import SwitchboardCore
import Testing

/// `switchboard policy simulate`: recorded rows replayed against a proposal.
@Suite struct PolicySimulationTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    func row(_ key: String, at seconds: Double, latencyMs: Int64 = 1000, model: String = "gpt-4o", listPicos: Int64 = 1000) -> LedgerRow {
        var row = LedgerRow(
            requestID: "\(key)-\(seconds)", createdAt: Self.start.addingTimeInterval(seconds), keyID: 1, keyName: key, dialect: "openai_chat",
            model: model, status: 200, outcome: .ok, usage: TokenUsage(inputUncached: 10, output: 5), cost: Money(picos: listPicos),
            priced: true, latencyMs: latencyMs, attempts: 1)
        row.upstreamCost = Money(picos: listPicos)
        return row
    }

    func key(_ id: Int64, _ name: String, _ change: (inout KeyPolicy) -> Void) -> KeyEntry {
        var policy = KeyPolicy()
        change(&policy)
        return KeyEntry(id: id, name: name, enabled: true, expiresAt: nil, policy: policy)
    }

    @Test func aTighterProposalReportsWhatItWouldRefuseAndWhy() throws {
        var user = UserEntry(id: 1, name: "reseller", group: "resellers")
        user.limits.modelBudgets = [ModelBudget(pattern: "claude-*", daily: Money(picos: 1_500))]
        var group = GroupEntry(id: 1, name: "resellers")
        group.modelMultipliers = ["gpt-*": 2_000_000]
        let prices = try PriceTable(
            json: Data(#"{"gpt-4o": {"litellm_provider": "openai", "input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06}}"#.utf8))
        let simulation = PolicySimulation(
            keys: [
                "daily": key(1, "daily") { $0.dailyCost = Money(picos: 5_000) },
                "slots": key(2, "slots") { $0.concurrency = 1 },
                "queue": key(3, "queue") {
                    $0.concurrency = 1
                    $0.maxWaiting = 4
                },
                "claude-only": key(4, "claude-only") { $0.models = ["claude-*"] },
                "reseller": key(5, "reseller") { $0.user = "reseller" },
            ],
            users: ["reseller": user], groups: ["resellers": group], prices: prices)
        var rows = (0..<10).map { row("daily", at: Double($0) * 60) }
        rows += [row("slots", at: 0, latencyMs: 5000), row("slots", at: 1, latencyMs: 5000), row("slots", at: 5)]
        rows += [row("queue", at: 0, latencyMs: 5000), row("queue", at: 1)]
        rows += [row("claude-only", at: 0), row("claude-only", at: 1, model: "claude-sonnet-4-5")]
        var priced = row("reseller", at: 0)
        priced.provider = "openai"
        priced.upstreamModel = "gpt-4o"
        rows += [priced, row("reseller", at: 10, model: "claude-haiku-4-5"), row("reseller", at: 20, model: "claude-haiku-4-5")]
        rows += [row("gone", at: 0)]
        let report = simulation.run(rows.shuffled())
        let byKey = Dictionary(report.keys.map { ($0.key, $0) }) { a, _ in a }

        #expect(byKey["daily"]?.admitted == 5 && byKey["daily"]?.refused == ["daily_cost": 5])
        #expect(byKey["daily"]?.recordedCostUsd == "0.00000001" && byKey["daily"]?.simulatedCostUsd == "0.000000005")
        #expect(byKey["slots"]?.refused == ["concurrency": 1] && byKey["slots"]?.admitted == 2, "the third starts after the first ended")
        #expect(byKey["slots"]?.peakConcurrency == 1)
        #expect(byKey["queue"]?.queued == 1 && byKey["queue"]?.admitted == 2 && byKey["queue"]?.refused.isEmpty == true)
        #expect(byKey["claude-only"]?.refused == ["model_not_allowed": 1] && byKey["claude-only"]?.admitted == 1)
        // gpt-4o at the proposal's prices (10 × $1/M + 5 × $2/M = 20,000,000 picodollars) times the group's 2 for gpt-*,
        // then two haiku requests of 1,000 at list price against a user's daily claude-* budget of 1,500: one fits ($0.000040001).
        #expect(byKey["reseller"]?.simulatedCostUsd == "0.000040001" && byKey["reseller"]?.refused == ["model_budget:user:claude-*:daily": 1])
        #expect(report.unknownKeyRows == 1 && report.requests == 20 && report.refused == 8)
    }
}
