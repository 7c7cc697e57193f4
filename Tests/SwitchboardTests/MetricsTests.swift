import Foundation
import NIOHTTP1
import Storage
import SwitchboardApp
import SwitchboardCore
import Testing

@testable import Engine

/// `GET /metrics` after known traffic: the families an operator graphs, with
/// values that agree with the ledger, and labels only from bounded sets.
@Suite struct MetricsTests {
    /// The value of the sample whose name and labels match (every label given must be present).
    static func sample(_ text: String, _ name: String, _ labels: [String: String] = [:]) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(name + "{") || line.hasPrefix(name + " ") {
            let parts = line.split(separator: " ")
            guard parts.count >= 2, labels.allSatisfy({ line.contains("\($0.key)=\"\($0.value)\"") }) else { continue }
            return Double(parts[parts.count - 1])
        }
        return nil
    }

    @Test func metricsAgreeWithTheLedgerAndCarryNoClientStrings() async throws {
        try await withHarness { harness in
            for _ in 0..<2 { #expect(try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini")).status == 200) }
            let secretModel = "client-chosen-model-name-7f3a"
            #expect(try await harness.send("/v1/chat/completions", body: Harness.chat(secretModel)).status != 200)
            let rows = try await harness.ledger(atLeast: 3)

            let reply = try await harness.send("/metrics", method: .GET, key: nil)
            #expect(reply.status == 200)
            #expect(reply.headers.first(name: "content-type")?.hasPrefix("text/plain; version=0.0.4") == true)
            let text = reply.body
            #expect(
                Self.sample(text, "switchboard_requests_total", ["model": "gpt-4o-mini", "provider": "openai", "outcome": "ok", "status": "200"]) == 2
            )
            #expect(Self.sample(text, "switchboard_requests_total", ["model": "other"]) == 1, "an unrouted model is counted as other")
            #expect(!text.contains(secretModel), "a model name the client chose never becomes a label")
            #expect(!text.contains(Harness.key) && !text.contains(Harness.openAISecret))
            let ok = rows.filter { $0.outcome == .ok }
            let input = ok.reduce(Int64(0)) { $0 + $1.usage.inputUncached }
            let output = ok.reduce(Int64(0)) { $0 + $1.usage.output }
            #expect(input > 0 && output > 0)
            #expect(Self.sample(text, "switchboard_tokens_total", ["model": "gpt-4o-mini", "class": "input"]) == Double(input))
            #expect(Self.sample(text, "switchboard_tokens_total", ["model": "gpt-4o-mini", "class": "output"]) == Double(output))
            let cost = ok.reduce(Money.zero) { $0 + $1.cost }
            let reported = try #require(Self.sample(text, "switchboard_cost_usd_total", ["model": "gpt-4o-mini"]))
            #expect(abs(reported - Double(cost.picos) / 1e12) < 1e-12)
            #expect(Self.sample(text, "switchboard_request_duration_seconds_count", ["outcome": "ok"]) == 2)
            // What the gateway added, for the two requests that went upstream (the unrouted one did not).
            #expect(Self.sample(text, "switchboard_added_overhead_seconds_count") == 2)
            #expect(Self.sample(text, "switchboard_account_state", ["account": "openai-1", "state": "ready"]) == 1)
            #expect(Self.sample(text, "switchboard_account_state", ["account": "openai-1", "state": "cooling_down"]) == 0)
            #expect(Self.sample(text, "switchboard_requests_in_flight") == 0)
            #expect(Self.sample(text, "switchboard_ledger_queue_depth") == 0)
            #expect(Self.sample(text, "switchboard_build_info", ["version": Switchboard.version]) == 1)
            #expect(Self.sample(text, "switchboard_account_cooldown_seconds", ["account": "openai-1"]) == 0)
            #expect(Self.sample(text, "switchboard_ledger_failed_writes") == 0)
            #expect(!text.contains("key=\""), "no key label unless metrics_key_labels is on")
        }
    }

    /// The gateway's own counters (requests without a valid key, malformed
    /// bodies: never in the ledger) are Prometheus counters too, and a second
    /// scrape adds only what came since.
    @Test func theGatewaysOwnCountersAreCountedOnceAcrossScrapes() async throws {
        try await withHarness { harness in
            for _ in 0..<3 {
                #expect(try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini"), key: "sk-sb-nope").status == 401)
            }
            #expect(try await harness.send("/v1/chat/completions", body: "{not json").status == 400)
            let first = try await harness.send("/metrics", method: .GET, key: nil).body
            #expect(Self.sample(first, "switchboard_unauthenticated_requests_total") == 3)
            #expect(Self.sample(first, "switchboard_malformed_requests_total") == 1)
            #expect(Self.sample(first, "switchboard_upstream_out_of_descriptors_total") == 0)
            #expect(first.contains("# TYPE switchboard_unauthenticated_requests_total counter"))
            #expect(!first.contains("sk-sb-nope"))

            #expect(try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini"), key: "sk-sb-nope").status == 401)
            let second = try await harness.send("/metrics", method: .GET, key: nil).body
            #expect(Self.sample(second, "switchboard_unauthenticated_requests_total") == 4)
            #expect(Self.sample(second, "switchboard_malformed_requests_total") == 1, "not added again")
            let stats = harness.switchboard.gateway.stats
            #expect(stats.unauthenticatedRequests == 4 && stats.malformedRequests == 1)
        }
    }

    @Test func aBatchIsAddedUpBySeriesAndHeldAtTheBounds() {
        func row(_ id: String, status: Int = 200, output: Int64 = 5, cost: Int64 = 1_000_000_000) -> LedgerRow {
            var row = LedgerRow(
                requestID: id, createdAt: Date(), keyName: "k", accountName: "openai-1", provider: "openai", dialect: "openai_chat",
                model: "gpt-4o-mini", status: status, outcome: status == 200 ? .ok : .upstreamError,
                usage: TokenUsage(inputUncached: 10, output: output), cost: Money(picos: cost), latencyMs: 12, firstByteMs: 3, attempts: 2)
            row.upstreamMs = 10
            return row
        }
        let metrics = GatewayMetrics(version: "test")
        metrics.observe([row("a"), row("b"), row("c", status: 502), row("d", output: .max, cost: .max), row("e", output: .max)])
        let text = String(decoding: metrics.exposition(), as: UTF8.self)
        #expect(Self.sample(text, "switchboard_requests_total", ["status": "200"]) == 4)
        #expect(Self.sample(text, "switchboard_requests_total", ["status": "502"]) == 1)
        #expect(Self.sample(text, "switchboard_failovers_total", ["provider": "openai"]) == 5)
        #expect(Self.sample(text, "switchboard_tokens_total", ["class": "input"]) == 50)
        #expect(Self.sample(text, "switchboard_tokens_total", ["class": "output"]) == Double(Int64.max), "held at the bound, not trapped")
        #expect(Self.sample(text, "switchboard_request_duration_seconds_count", ["outcome": "ok"]) == 4)
        #expect(Self.sample(text, "switchboard_first_byte_seconds_count") == 5)
        #expect(Self.sample(text, "switchboard_added_overhead_seconds_count") == 5)
    }

    /// Label values are cut to 128 characters (not bytes): a configured model
    /// name can be long, and a label of any length would be kept as given.
    @Test func labelValuesAreCutTo128Characters() {
        let metrics = GatewayMetrics(version: "test")
        let models = [String(repeating: "m", count: 300), String(repeating: "é", count: 100), String(repeating: "ü", count: 200)]
        metrics.observe(
            models.enumerated().map { index, model in
                LedgerRow(
                    requestID: "r\(index)", createdAt: Date(), accountName: "openai-1", provider: "openai", dialect: "openai_chat",
                    model: model, status: 200, outcome: .ok, cost: Money(picos: 1_000))
            })
        let text = String(decoding: metrics.exposition(), as: UTF8.self)
        #expect(Self.sample(text, "switchboard_cost_usd_total", ["model": String(repeating: "m", count: 128)]) != nil)
        #expect(!text.contains(String(repeating: "m", count: 129)))
        #expect(
            Self.sample(text, "switchboard_cost_usd_total", ["model": String(repeating: "é", count: 100)]) != nil, "200 bytes, 100 characters: whole")
        #expect(Self.sample(text, "switchboard_cost_usd_total", ["model": String(repeating: "ü", count: 128)]) != nil)
        #expect(!text.contains(String(repeating: "ü", count: 129)))
    }

    @Test func keyNamesAreLabelsOnlyWhenAsked() async throws {
        try await withHarness(configure: { $0.metricsKeyLabels = true }) { harness in
            #expect(try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini")).status == 200)
            _ = try await harness.ledger(atLeast: 1)
            let text = try await harness.send("/metrics", method: .GET, key: nil).body
            #expect(Self.sample(text, "switchboard_requests_total", ["key": "test-key", "outcome": "ok"]) == 1)
            #expect(!text.contains(Harness.key))
        }
    }

    @Test func aMetricsTokenGuardsTheEndpoint() async throws {
        let token = "metrics-token-0123456789abcdef"
        try await withHarness(configure: { $0.metricsToken = token }) { harness in
            #expect(try await harness.send("/metrics", method: .GET, key: nil).status == 401)
            #expect(try await harness.send("/metrics", method: .GET, key: "wrong-token-0123456789abcdef").status == 401)
            let reply = try await harness.send("/metrics", method: .GET, key: token)
            #expect(reply.status == 200)
            #expect(reply.body.contains("switchboard_build_info"))
        }
    }
}
