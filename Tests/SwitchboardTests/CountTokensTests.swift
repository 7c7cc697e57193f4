import Foundation
import NIOHTTP1
import Policy
import Storage
import SwitchboardApp
import SwitchboardCore
import SwitchboardTesting
import Testing

/// `POST /v1/messages/count_tokens`: admitted like any request (window, slot),
/// recorded with a row at zero cost, and cooling accounts only for counting.
@Suite struct CountTokensTests {
    static let body = #"{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}"#

    @Test func countsTakeASlotAndTheWindowAndLeaveARowAtZeroCost() async throws {
        try await withHarness(configure: {
            $0.keys[0].policy.concurrency = 1
            $0.keys[0].policy.rateLimit = .init(windowMinutes: 1, requests: 3)
        }) { harness in
            let reply = try await harness.send("/v1/messages/count_tokens", body: Self.body, headers: [("anthropic-version", "2023-06-01")])
            #expect(reply.status == 200 && reply.json["input_tokens"] as? Int == 21)
            #expect(harness.fake.received.contains { $0.path == "/v1/messages/count_tokens" && $0.body["model"] as? String == "claude-sonnet-4-5" })
            let row = try await harness.row(reply.headers.first(name: "x-request-id"))
            #expect(row.dialect == "anthropic_count_tokens" && row.cost == .zero && row.outcome == .ok && row.accountName == "anthropic-1")
            // While the key's only slot is taken by a stream, a count waits its turn like any request: refused here.
            // The stream is held until then (a merely slow one could end first on a loaded machine).
            async let holder = harness.send("/v1/messages", body: Harness.messages("held-stream", stream: true))
            while harness.fake.currentInFlight == 0 { try await Task.sleep(for: .milliseconds(10)) }
            let busy = try await harness.send("/v1/messages/count_tokens", body: Self.body)
            #expect(busy.status == 429 && (busy.json["error"] as? [String: Any])?["type"] as? String == "rate_limit_error")
            harness.fake.releaseHeld()
            #expect(try await holder.status == 200)
            // Counts spend the key's request window: the window of 3 is full after one more.
            #expect(try await harness.send("/v1/messages/count_tokens", body: Self.body).status == 200)
            let windowFull = try await harness.send("/v1/messages/count_tokens", body: Self.body)
            #expect(windowFull.status == 429 && windowFull.headers.first(name: "retry-after") != nil)
        }
    }

    @Test func aRateLimitedCountCoolsTheAccountOnlyForCounting() async throws {
        let accounts: (Int) -> [Configuration.AccountDeclaration] = { port in
            [Harness.defaultAccounts(fakePort: port)[1].with(models: ["claude-sonnet-4-5"], modelMap: [:])]
        }
        try await withHarness(accounts: accounts) { harness in
            harness.fake.countStatus = 429
            let limited = try await harness.send("/v1/messages/count_tokens", body: Self.body)
            #expect(limited.status == 429)
            harness.fake.countStatus = nil
            // Counting rests on that account…
            let resting = try await harness.send("/v1/messages/count_tokens", body: Self.body)
            #expect(resting.status == 429 && (resting.json["error"] as? [String: Any])?["type"] as? String == "rate_limit_error")
            // …but generation goes on.
            #expect(try await harness.send("/v1/messages", body: Harness.messages("claude-sonnet-4-5")).status == 200)
        }
    }

    @Test func modelsOfOtherFormatsAreCountedByTheirProviderOrEstimated() async throws {
        let accounts: (Int) -> [Configuration.AccountDeclaration] = { Harness.defaultAccounts(fakePort: $0) + [Harness.geminiAccount(fakePort: $0)] }
        try await withHarness(accounts: accounts) { harness in
            // Anthropic's count for a Gemini model: Gemini's countTokens, answered in Anthropic's shape.
            let onGemini = try await harness.send(
                "/v1/messages/count_tokens", body: #"{"model":"gemini-2.5-flash","system":"Be brief.","messages":[{"role":"user","content":"hi"}]}"#)
            #expect(onGemini.status == 200 && onGemini.json["input_tokens"] as? Int == Int(FakeUsage.prompt))
            let sentToGemini = try #require(harness.fake.received.last)
            #expect(sentToGemini.path == "/v1beta/models/gemini-2.5-flash:countTokens")
            #expect(sentToGemini.rawBody.hasPrefix(#"{"generateContentRequest":{"model":"models/gemini-2.5-flash","contents":"#))

            // Gemini's count for a Claude model: Anthropic's count_tokens, without output settings.
            let onClaude = try await harness.send(
                "/v1beta/models/claude-sonnet-4-5:countTokens",
                body:
                    #"{"generateContentRequest":{"model":"models/claude-sonnet-4-5","contents":[{"role":"user","parts":[{"text":"hi"}]}],"generationConfig":{"maxOutputTokens":99}}}"#,
                auth: .googAPIKey)
            #expect(onClaude.status == 200 && onClaude.json["totalTokens"] as? Int == Int(FakeUsage.prompt))
            let sentToAnthropic = try #require(harness.fake.received.last)
            #expect(sentToAnthropic.path == "/v1/messages/count_tokens" && !sentToAnthropic.rawBody.contains("max_tokens"))

            // OpenAI-compatible servers cannot count: an estimate, marked as one, without an upstream call.
            let before = harness.fake.received.count
            let onOpenAI = try await harness.send(
                "/v1/messages/count_tokens", body: #"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello there"}]}"#)
            #expect(onOpenAI.status == 200 && (onOpenAI.json["input_tokens"] as? Int ?? 0) > 0)
            #expect(onOpenAI.headers.first(name: "x-switchboard-token-count") == "estimate")
            #expect(harness.fake.received.count == before)
        }
    }

    @Test func refusalsInAnthropicsShape() async throws {
        try await withHarness(configure: { $0.keys[0].policy.balance = Money(picos: 0) }) { harness in
            #expect(try await harness.send("/v1/messages/count_tokens", body: Self.body, key: "sk-sb-wrong-0123456789abcdef").status == 401)
            let broke = try await harness.send("/v1/messages/count_tokens", body: Self.body)
            #expect(broke.status == 402 && (broke.json["error"] as? [String: Any])?["type"] as? String == "billing_error")
            let unknown = try await harness.send("/v1/messages/count_tokens", body: #"{"model":"nope","messages":[]}"#)
            #expect(unknown.status == 404 && unknown.json["type"] as? String == "error")
        }
    }
}
