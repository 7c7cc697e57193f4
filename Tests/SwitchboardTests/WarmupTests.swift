import Engine
import Foundation
import NIOHTTP1
import Storage
import SwitchboardApp
import SwitchboardCore
import SwitchboardTesting
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
            #expect(
                stream.body.hasPrefix("event: message_start") && stream.body.hasSuffix("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"))
            #expect(harness.fake.received.isEmpty, "nothing went upstream")
            let row = try await harness.row(json.headers.first(name: "x-request-id"))
            #expect(row.outcome == .warmupIntercepted && row.cost == .zero && row.accountName == "anthropic-1")
            // A real conversation still goes upstream.
            _ = try await harness.send("/v1/messages", body: Harness.messages("claude-sonnet-4-5"))
            #expect(harness.fake.received.count == 1)
        }
    }

    @Test func titleAndTopicRequestsAreAnsweredLocallyWithValidAnswers() async throws {
        let topic =
            #"{"model":"claude-sonnet-4-5","max_tokens":512,"system":[{"type":"text","text":"Analyze if this message indicates a new conversation topic. If it does, extract a 2-3 word title that captures the new topic. Format your response as a JSON object with two fields: 'isNewTopic' (boolean) and 'title' (string, or null if isNewTopic is false). Only include these fields, no other text."}],"messages":[{"role":"user","content":"fix the login bug"}]}"#
        let title =
            #"{"model":"claude-sonnet-4-5","max_tokens":512,"stream":true,"system":"You are Claude Code.","messages":[{"role":"user","content":[{"type":"text","text":"Please write a 5-10 word title for the following conversation:\n\nUser: fix the login bug"}]}]}"#
        try await withHarness(accounts: Self.accounts(intercept: true)) { harness in
            let topicReply = try await harness.send("/v1/messages", body: topic)
            let text = try #require((topicReply.json["content"] as? [[String: Any]])?.first?["text"] as? String)
            let parsed = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            #expect(parsed["isNewTopic"] as? Bool == false, "the client can parse the answer it asked for")
            let titleReply = try await harness.send("/v1/messages", body: title)
            #expect(
                titleReply.body.contains(#""text":"New conversation""#)
                    && titleReply.body.hasSuffix("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"))
            #expect(harness.fake.received.isEmpty, "nothing went upstream")
            let row = try await harness.row(topicReply.headers.first(name: "x-request-id"))
            #expect(row.outcome == .titleIntercepted && row.cost == .zero)
            // An ordinary system prompt is not mistaken for one.
            _ = try await harness.send(
                "/v1/messages",
                body: #"{"model":"claude-sonnet-4-5","max_tokens":64,"system":"You are Claude Code.","messages":[{"role":"user","content":"hi"}]}"#)
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
