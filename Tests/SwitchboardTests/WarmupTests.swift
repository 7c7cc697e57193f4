import Foundation
import SwitchboardApp
import SwitchboardCore
import Testing

/// Claude Code's warmup answered by the gateway for accounts that ask for it.
@Suite struct WarmupTests {
    static let warmup = #"{"model":"claude-sonnet-4-5","max_tokens":1,"messages":[{"role":"user","content":[{"type":"text","text":"Warmup"}]}]}"#
    static let warmupStream = #"{"model":"claude-sonnet-4-5","max_tokens":1,"stream":true,"messages":[{"role":"user","content":"Warmup"}]}"#

    static func accounts(intercept: Bool) -> (Int) -> [Configuration.AccountDeclaration] {
        { port in
            var anthropic = Harness.defaultAccounts(fakePort: port)[1]
            anthropic.interceptWarmup = intercept
            return [anthropic]
        }
    }

    @Test func answeredLocallyAtZeroCostWhenTheAccountAsks() async throws {
        try await withHarness(accounts: Self.accounts(intercept: true)) { harness in
            let json = try await harness.send("/v1/messages", body: Self.warmup)
            #expect(json.status == 200 && json.json["type"] as? String == "message")
            #expect((json.json["content"] as? [[String: Any]])?.first?["text"] as? String == "OK")
            let stream = try await harness.send("/v1/messages", body: Self.warmupStream)
            #expect(stream.body.hasPrefix("event: message_start") && stream.body.hasSuffix("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"))
            #expect(harness.fake.received.isEmpty, "nothing went upstream")
            let row = try await harness.row(json.headers.first(name: "x-request-id"))
            #expect(row.outcome == "warmup_intercepted" && row.cost == .zero && row.accountName == "anthropic-1")
            // A real conversation still goes upstream.
            _ = try await harness.send("/v1/messages", body: Harness.messages("claude-sonnet-4-5"))
            #expect(harness.fake.received.count == 1)
        }
    }

    @Test func forwardedWhenTheAccountDoesNotAsk() async throws {
        try await withHarness(accounts: Self.accounts(intercept: false)) { (harness: Harness) async throws in
            #expect(try await harness.send("/v1/messages", body: Self.warmup).status == 200)
            #expect(harness.fake.received.count == 1)
        }
    }
}
