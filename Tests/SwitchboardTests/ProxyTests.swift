import Foundation
import NIOHTTP1
import Policy
import Storage
import SwitchboardCore
import SwitchboardTesting
import Testing

/// Same-dialect relaying through a real gateway to the fake upstream on loopback.
@Suite struct ProxyTests {
    static let usage = TokenUsage(inputUncached: FakeUsage.prompt, output: FakeUsage.output)

    static func cost(_ model: String, _ usage: TokenUsage = usage) throws -> Money {
        try #require(try PriceTable.bundled().price(for: model)).cost(usage)
    }

    @Test func openAIChatJSON() async throws {
        try await withHarness { harness in
            let reply = try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini"))
            #expect(reply.status == 200)
            let choices = reply.json["choices"] as? [[String: Any]]
            #expect((choices?.first?["message"] as? [String: Any])?["content"] as? String == FakeUsage.text)
            let id = reply.headers.first(name: "x-request-id")
            #expect(id?.hasPrefix("req_") == true)
            let row = try await harness.row(id)
            #expect(row.keyName == "test-key" && row.accountName == "openai-1" && row.provider == "openai")
            #expect(row.model == "gpt-4o-mini" && row.status == 200 && row.outcome == .ok && !row.stream)
            #expect(row.usage == Self.usage && !row.usageIncomplete && row.priced)
            #expect(row.cost == (try Self.cost("gpt-4o-mini")))
            #expect(row.attempts == 1)
            // The upstream saw the account's secret, not the client's key, and the body unchanged.
            let received = try #require(harness.fake.received.last)
            #expect(received.headers["authorization"] == "Bearer \(Harness.openAISecret)")
            #expect(received.rawBody == Harness.chat("gpt-4o-mini"))
        }
    }

    @Test func openAIStreamHidesTheUsageChunkTheClientDidNotAskFor() async throws {
        try await withHarness { harness in
            let reply = try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini", stream: true))
            #expect(reply.status == 200)
            #expect(reply.headers.first(name: "content-type")?.hasPrefix("text/event-stream") == true)
            let frames = reply.body.components(separatedBy: "\n\n").filter { !$0.isEmpty }
            #expect(frames.last == "data: [DONE]")
            #expect(!reply.body.contains(#""choices":[]"#))
            let text = frames.dropLast().compactMap { frame -> String? in
                let json = try? JSONSerialization.jsonObject(with: Data(frame.dropFirst(6).utf8)) as? [String: Any]
                let delta = (json?["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any]
                return delta?["content"] as? String
            }.joined()
            #expect(text == FakeUsage.text)
            // Upstream was asked for usage anyway, and it was billed.
            #expect(harness.fake.received.last?.rawBody.contains(#""stream_options":{"include_usage":true}"#) == true)
            let row = try await harness.row(reply.headers.first(name: "x-request-id"))
            #expect(row.stream && row.usage == Self.usage && row.outcome == .ok && row.firstByteMs != nil)
        }
    }

    @Test func openAIStreamKeepsTheUsageChunkWhenAsked() async throws {
        try await withHarness { harness in
            let body = Harness.chat("gpt-4o-mini", stream: true, extra: #","stream_options":{"include_usage":true}"#)
            let reply = try await harness.send("/v1/chat/completions", body: body)
            #expect(reply.body.contains(#""choices":[]"#))
            #expect(reply.body.contains(#""prompt_tokens":21"#))
        }
    }

    @Test func anthropicMessagesJSONAndStream() async throws {
        try await withHarness { harness in
            let headers = [("anthropic-version", "2023-06-01")]
            let json = try await harness.send("/v1/messages", body: Harness.messages("claude-sonnet-4-5"), auth: .xAPIKey, headers: headers)
            #expect(json.status == 200)
            #expect(((json.json["content"] as? [[String: Any]])?.first?["text"] as? String) == FakeUsage.text)
            #expect(json.headers.first(name: "request-id") == json.headers.first(name: "x-request-id"))

            let stream = try await harness.send(
                "/v1/messages", body: Harness.messages("claude-sonnet-4-5", stream: true), auth: .xAPIKey, headers: headers)
            #expect(stream.status == 200)
            let events = stream.body.components(separatedBy: "\n\n").filter { !$0.isEmpty }
            #expect(events.allSatisfy { $0.hasPrefix("event: ") }, "every Anthropic frame needs its event line")
            #expect(events.first?.hasPrefix("event: message_start") == true)
            #expect(events.last?.hasPrefix("event: message_stop") == true)
            let row = try await harness.row(stream.headers.first(name: "x-request-id"))
            #expect(row.accountName == "anthropic-1" && row.stream && row.usage == Self.usage)
            #expect(row.cost == (try Self.cost("claude-sonnet-4-5")))
            #expect(harness.fake.received.last?.headers["x-api-key"] == Harness.anthropicSecret)
        }
    }

    @Test func cacheTokensAreNormalisedAndPricedAtTheirRates() async throws {
        try await withHarness(accounts: { port in
            [Harness.defaultAccounts(fakePort: port)[1].with(models: ["claude-haiku-4-5"], modelMap: ["claude-haiku-4-5": "claude-haiku-4-5-cached"])]
        }) { harness in
            let expected = TokenUsage(
                inputUncached: FakeUsage.prompt, cacheRead: FakeUsage.cacheRead, cacheWrite5m: FakeUsage.cacheWrite5m,
                cacheWrite1h: FakeUsage.cacheWrite1h, output: FakeUsage.output)
            for stream in [false, true] {
                let reply = try await harness.send("/v1/messages", body: Harness.messages("claude-haiku-4-5", stream: stream))
                #expect(reply.status == 200)
                let row = try await harness.row(reply.headers.first(name: "x-request-id"))
                #expect(row.usage == expected)
                #expect(row.upstreamModel == "claude-haiku-4-5-cached" && row.model == "claude-haiku-4-5")
                #expect(row.cost == (try Self.cost("claude-haiku-4-5", expected)))
                // The model map renamed the model upstream and nothing else.
                #expect(harness.fake.received.last?.rawBody == Harness.messages("claude-haiku-4-5-cached", stream: stream))
            }
        }
    }

    @Test func claudeCodeHeadersAndQueryStringsPassThrough() async throws {
        try await withHarness { harness in
            let reply = try await harness.send(
                "/v1/messages?beta=true", body: Harness.messages("echo"),
                headers: [
                    ("anthropic-version", "2023-06-01"), ("anthropic-beta", "prompt-caching-2024-07-31,oauth-2025-04-20"),
                    ("user-agent", "claude-cli/2.1.0 (external, cli)"),
                ])
            #expect(reply.status == 200)
            let text = try #require((reply.json["content"] as? [[String: Any]])?.first?["text"] as? String)
            let echo = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            #expect(echo["anthropic_beta"] as? String == "prompt-caching-2024-07-31,oauth-2025-04-20")
            #expect(echo["anthropic_version"] as? String == "2023-06-01")
            #expect(echo["user_agent"] as? String == "claude-cli/2.1.0 (external, cli)")
            let received = try #require(harness.fake.received.last)
            #expect(received.headers["authorization"] == nil, "the client's own credential never goes upstream")
            #expect(received.headers["x-api-key"] == Harness.anthropicSecret)
        }
    }

    @Test func anAnthropicVersionIsSentWhenTheClientSendsNone() async throws {
        try await withHarness { harness in
            _ = try await harness.send("/v1/messages", body: Harness.messages("claude-sonnet-4-5"))
            #expect(harness.fake.received.last?.headers["anthropic-version"] == "2023-06-01")
        }
    }

    @Test func modelListsInBothShapes() async throws {
        try await withHarness { harness in
            let openAI = try await harness.send("/v1/models", method: .GET)
            #expect(openAI.status == 200 && openAI.json["object"] as? String == "list")
            let ids = (openAI.json["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String } ?? []
            // Every model the key may use: requests in other formats are translated.
            #expect(ids.contains("gpt-4o-mini") && ids.contains("claude-sonnet-4-5"))
            #expect(ids == ids.sorted())

            let anthropic = try await harness.send("/v1/models", method: .GET, auth: .xAPIKey, headers: [("anthropic-version", "2023-06-01")])
            let data = anthropic.json["data"] as? [[String: Any]] ?? []
            #expect(data.first?["type"] as? String == "model")
            #expect(anthropic.json["has_more"] as? Bool == false)
            #expect(anthropic.json["first_id"] as? String == data.first?["id"] as? String)
            let anthropicIDs = data.compactMap { $0["id"] as? String }
            #expect(anthropicIDs.contains("claude-sonnet-4-5") && anthropicIDs.contains("gpt-4o-mini"))
        }
    }
}
