import Foundation
import SwitchboardApp
import SwitchboardCore
import SwitchboardTesting
import Testing

/// `POST /v1/messages/count_tokens`: checked like a request, but no slot and no row.
@Suite struct CountTokensTests {
    static let body = #"{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}"#

    @Test func countsWithoutASlotOrALedgerRow() async throws {
        try await withHarness(configure: { $0.keys[0].policy.concurrency = 1 }) { harness in
            // The key's only slot is taken by a long stream…
            async let holder = harness.send("/v1/messages", body: Harness.messages("short-slow-stream", stream: true))
            while harness.fake.currentInFlight == 0 { try await Task.sleep(for: .milliseconds(10)) }
            // …and counting still works.
            let reply = try await harness.send("/v1/messages/count_tokens", body: Self.body, headers: [("anthropic-version", "2023-06-01")])
            #expect(reply.status == 200 && reply.json["input_tokens"] as? Int == 21)
            #expect(harness.fake.received.contains { $0.path == "/v1/messages/count_tokens" && $0.body["model"] as? String == "claude-sonnet-4-5" })
            #expect(try await holder.status == 200)
            let rows = try await harness.ledger(atLeast: 1)
            #expect(rows.count == 1, "only the stream has a row")
        }
    }

    @Test func refusalsInAnthropicsShape() async throws {
        try await withHarness(configure: { $0.keys[0].policy.balancePicos = 0 }) { harness in
            #expect(try await harness.send("/v1/messages/count_tokens", body: Self.body, key: "sk-sb-wrong-0123456789abcdef").status == 401)
            let broke = try await harness.send("/v1/messages/count_tokens", body: Self.body)
            #expect(broke.status == 402 && (broke.json["error"] as? [String: Any])?["type"] as? String == "billing_error")
            let unknown = try await harness.send("/v1/messages/count_tokens", body: #"{"model":"nope","messages":[]}"#)
            #expect(unknown.status == 404 && unknown.json["type"] as? String == "error")
        }
    }
}
