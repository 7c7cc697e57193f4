import Admin
import Engine
import Foundation
import Storage
import SwitchboardApp
import SwitchboardCore
import Testing

/// `switchboard reconcile`: provider exports read exactly, compared with the
/// ledger by day and model, the drift in tokens, dollars and percent.
@Suite struct ReconciliationTests {
    /// OpenAI's usage API, `group_by=model`, one daily bucket (input counts the cached tokens).
    static let openAIUsage = #"""
        {"object": "page", "has_more": false, "next_page": null, "data": [
          {"object": "bucket", "start_time": 1764547200, "end_time": 1764633600, "results": [
            {"object": "organization.usage.completions.result", "input_tokens": 1500, "input_cached_tokens": 500, "output_tokens": 300,
             "num_model_requests": 3, "project_id": null, "user_id": null, "api_key_id": null, "model": "gpt-4o-2024-08-06", "batch": null}
          ]}
        ]}
        """#
    /// OpenAI's costs API, `group_by=line_item`.
    static let openAICosts = #"""
        {"object": "page", "data": [
          {"object": "bucket", "start_time": 1764547200, "end_time": 1764633600, "results": [
            {"object": "organization.costs.result", "amount": {"value": 0.0055, "currency": "usd"}, "line_item": "gpt-4o-2024-08-06, input", "project_id": null},
            {"object": "organization.costs.result", "amount": {"value": 0.003, "currency": "usd"}, "line_item": "gpt-4o-2024-08-06, output", "project_id": null}
          ]}
        ]}
        """#
    /// Anthropic's usage report, `group_by[]=model`, and its cost report (amounts in cents).
    static let anthropicUsage = #"""
        {"has_more": false, "next_page": null, "data": [
          {"starting_at": "2025-12-01T00:00:00Z", "ending_at": "2025-12-02T00:00:00Z", "results": [
            {"uncached_input_tokens": 1000, "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 200},
             "cache_read_input_tokens": 300, "output_tokens": 400, "server_tool_use": {"web_search_requests": 0},
             "api_key_id": null, "workspace_id": null, "model": "claude-sonnet-4-5-20250929", "service_tier": null, "context_window": null}
          ]}
        ]}
        """#
    static let anthropicCosts = #"""
        {"has_more": false, "next_page": null, "data": [
          {"starting_at": "2025-12-01T00:00:00Z", "ending_at": "2025-12-02T00:00:00Z", "results": [
            {"currency": "USD", "amount": "123.45", "workspace_id": null, "description": "Claude Sonnet 4.5 Usage - Input Tokens",
             "cost_type": "tokens", "context_window": "0-200k", "model": "claude-sonnet-4-5-20250929", "service_tier": "standard", "token_type": "uncached_input_tokens"},
            {"currency": "USD", "amount": "50", "workspace_id": null, "description": "Web Search", "cost_type": "web_search",
             "context_window": null, "model": null, "service_tier": null, "token_type": null}
          ]}
        ]}
        """#

    @Test func eachProvidersExportsReadExactly() throws {
        let usage = try ProviderExport.parse(Data(Self.openAIUsage.utf8), provider: .openai)
        #expect(usage.count == 1 && usage[0].day == "2025-12-01" && usage[0].model == "gpt-4o-2024-08-06")
        #expect(usage[0].input == 1000 && usage[0].cacheRead == 500 && usage[0].output == 300 && usage[0].requests == 3)
        let costs = try ProviderExport.parse(Data(Self.openAICosts.utf8), provider: .openai)
        #expect(costs.map(\.model) == ["gpt-4o-2024-08-06", "gpt-4o-2024-08-06"])
        #expect(costs.compactMap(\.cost).reduce(.zero, +) == Money(dollars: "0.0085"))
        let anthropic = try ProviderExport.parse(Data(Self.anthropicUsage.utf8), provider: .anthropic)
        #expect(anthropic[0].input == 1000 && anthropic[0].cacheWrite == 200 && anthropic[0].cacheRead == 300 && anthropic[0].output == 400)
        let cents = try ProviderExport.parse(Data(Self.anthropicCosts.utf8), provider: .anthropic)
        #expect(cents.count == 1 && cents[0].cost == Money(dollars: "1.2345"), "123.45 cents is $1.2345; a web search fee is no model's")
        let csv = "date,model,input_tokens,cache_read_tokens,output_tokens,cost_usd\n2025-12-01,\"gpt-4o\",1500,500,300,0.0085\n"
        let rows = try ProviderExport.parse(Data(csv.utf8), provider: .openai)
        #expect(rows[0].input == 1000 && rows[0].cacheRead == 500 && rows[0].cost == Money(dollars: "0.0085"))
        #expect(DailyUsage.family("claude-sonnet-4-5-20250929") == "claude-sonnet-4-5" && DailyUsage.family("gpt-4o-2024-08-06") == "gpt-4o")
    }

    @Test(arguments: [
        #"{"data": [{"start_time": 1764547200, "results": [{"input_tokens": -5, "output_tokens": 1, "num_model_requests": 1}]}]}"#,
        #"{"data": [{"start_time": 1764547200, "results": [{"input_tokens": 1e300, "output_tokens": 1, "num_model_requests": 1}]}]}"#,
        #"{"data": [{"start_time": 1764547200, "results": [{"input_tokens": 10, "input_cached_tokens": 20, "output_tokens": 1}]}]}"#,
        #"{"data": [{"start_time": 1764547200, "results": [{"amount": {"value": 1, "currency": "eur"}}]}]}"#,
        #"{"data": [{"results": []}]}"#, #"{"nothing": 1}"#, "date,model\n", "date,model,output_tokens\nyesterday,m,1\n", "{",
    ])
    func hostileExportsAreRefusedNotMiscounted(text: String) {
        #expect(throws: AdminError.self) { _ = try ProviderExport.parse(Data(text.utf8), provider: .openai) }
    }

    @Test func theLedgerIsComparedDayByDayAndTheLastReportKept() async throws {
        try await withStore { store, _ in
            let day = Date(timeIntervalSince1970: 1_764_547_200 + 3600)
            func row(_ id: String, account: String, model: String, input: Int64, cost: Int64) -> LedgerRow {
                var row = LedgerRow(
                    requestID: id, createdAt: day, accountName: account, provider: "openai", dialect: "openai_chat", model: "gpt-4o",
                    upstreamModel: model, status: 200, outcome: .ok,
                    usage: TokenUsage(inputUncached: input, cacheRead: 250, cacheWrite5m: 0, cacheWrite1h: 0, output: 150, reasoning: 0),
                    cost: Money(picos: cost * 2), priced: true, attempts: 1)
                row.upstreamCost = Money(picos: cost)
                return row
            }
            for name in ["openai-1", "openai-2"] {
                _ = try await store.upsertAccount(
                    AccountInput(
                        name: name, provider: .openai, baseURL: "https://api.openai.com/v1", secret: SealedSecret(keyID: "k", combined: Data()),
                        models: ["gpt-4o"], source: "test"))
            }
            try await store.appendLedger([
                row("a", account: "openai-1", model: "gpt-4o", input: 500, cost: 4_000_000_000),
                row("b", account: "openai-1", model: "gpt-4o", input: 400, cost: 4_000_000_000),
                row("c", account: "openai-2", model: "gpt-4o-mini", input: 7, cost: 1),
            ])
            let admin = ReconciliationAdmin(store: store)
            let report = try await admin.reconcile(
                [Data(Self.openAIUsage.utf8), Data(Self.openAICosts.utf8)], provider: .openai, account: nil)
            let gpt4o = try #require(report.lines.first { $0.model == "gpt-4o" })
            // Ours: 900 + 500 + 300 = 1,700 tokens and $0.008 at list price; theirs: 1,800 and $0.0085.
            #expect(gpt4o.ledger.tokens == 1700 && gpt4o.provider.tokens == 1800 && gpt4o.driftTokens == -100)
            #expect(gpt4o.driftPercent == "-5.56" && gpt4o.driftUsd == "-0.0005" && gpt4o.ledger.costUsd == "0.008")
            let mini = try #require(report.lines.first { $0.model == "gpt-4o-mini" })
            #expect(mini.provider.tokens == 0 && mini.driftPercent == nil, "what only the ledger counted shows as drift")
            #expect(report.total.driftTokens == report.lines.map(\.driftTokens).reduce(0, +) && report.from == "2025-12-01")
            #expect(try await admin.last() == report)
            await #expect(throws: AdminError.self) {
                _ = try await admin.reconcile([Data(Self.openAIUsage.utf8)], provider: .openai, account: "nobody")
            }
            let one = try await admin.reconcile([Data(Self.openAIUsage.utf8)], provider: .openai, account: "openai-2")
            #expect(
                one.lines.first { $0.model == "gpt-4o" }?.ledger.tokens == 0 && one.total.driftUsd == nil, "no costs in the export: no dollar drift")
        }
    }

    @Test func theAdminAPIAndTheConsoleShowTheLastReport() async throws {
        let token = "admin-token-0123456789abcdef"
        try await withHarness(configure: { $0.adminToken = token }) { (harness: Harness) async throws in
            #expect(try await harness.admin("/reconciliation", token: token).status == 404)
            _ = try await ReconciliationAdmin(store: harness.switchboard.storeContext.store)
                .reconcile([Data(Self.anthropicUsage.utf8), Data(Self.anthropicCosts.utf8)], provider: .anthropic, account: nil)
            let reply = try await harness.admin("/reconciliation", token: token)
            #expect(reply.status == 200 && reply.json["provider"] as? String == "anthropic")
            let lines = reply.json["lines"] as? [[String: Any]] ?? []
            #expect(lines.first?["model"] as? String == "claude-sonnet-4-5")
            #expect((lines.first?["provider"] as? [String: Any])?["cost_usd"] as? String == "1.2345")
            #expect((reply.json["total"] as? [String: Any])?["drift_tokens"] as? Int == -1900)
        }
    }
}
