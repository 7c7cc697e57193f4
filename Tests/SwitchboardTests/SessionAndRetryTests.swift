import Dialects
import Foundation
import NIOCore
import SwitchboardCore
import Testing

@testable import Engine

/// Reading session ids from bodies and waits from upstream headers.
@Suite struct SessionAndRetryTests {
    func hint(_ body: String, _ dialect: Dialect) throws -> String? {
        try ClientRequest.inspect(ByteBuffer(string: body), dialect: dialect).sessionHint
    }

    /// The pool keeps sessions under the first 128 bits of SHA-256 over kind,
    /// a zero byte and the hint, in lowercase hex: never the client's text.
    @Test func aSessionIsKeptUnderADigestOfItsHint() {
        #expect(SessionKey.of(kind: "header", "abc-123") == "a4e924014b03c3faf7e74c867d2034a1")
        #expect(SessionKey.of(kind: "body", "abc-123") != SessionKey.of(kind: "header", "abc-123"))
        #expect(SessionKey.of(kind: "body", String(repeating: "x", count: 100_000)).utf8.count == 32)
    }

    @Test func explicitSessionIdsWin() throws {
        #expect(try hint(#"{"model":"m","prompt_cache_key":"abc","messages":[{"role":"user","content":"x"}]}"#, .openAIChat) == "pck:abc")
        let claudeCode = #"{"model":"m","metadata":{"user_id":"user_0f3a_account_11_session_9d1e-77"},"messages":[{"role":"user","content":"x"}]}"#
        #expect(try hint(claudeCode, .anthropicMessages) == "cc:9d1e-77")
        let jsonUserID = #"{"model":"m","metadata":{"user_id":"{\"device_id\":\"d\",\"session_id\":\"s-42\"}"},"messages":[]}"#
        #expect(try hint(jsonUserID, .anthropicMessages) == "cc:s-42")
    }

    @Test func theFingerprintFollowsTheConversationsStartNotItsLaterTurns() throws {
        let turn1 = #"{"model":"m","system":"be brief","messages":[{"role":"user","content":"hello"}]}"#
        let turn2 =
            #"{"model":"m","system":"be brief","messages":[{"role":"user","content":"hello"},{"role":"assistant","content":"hi"},{"role":"user","content":"more"}]}"#
        let other = #"{"model":"m","system":"be verbose","messages":[{"role":"user","content":"hello"}]}"#
        let a = try #require(try hint(turn1, .anthropicMessages))
        #expect(a.hasPrefix("fp:"))
        #expect(try hint(turn2, .anthropicMessages) == a)
        #expect(try hint(other, .anthropicMessages) != a)
        #expect(try hint(#"{"model":"m","messages":[]}"#, .openAIChat) == nil)
    }

    @Test func waitsFromEveryHeaderForm() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(RetryAfter.hint(from: [("retry-after", "7")], now: now) == .seconds(7))
        #expect(RetryAfter.hint(from: [("retry-after-ms", "1500"), ("retry-after", "9")], now: now) == .milliseconds(1500))
        #expect(RetryAfter.hint(from: [("retry-after", "Fri, 15 Jan 2027 08:00:10 GMT")], now: now) == .seconds(10))
        let anthropic: [(name: String, value: String)] = [
            ("anthropic-ratelimit-requests-remaining", "10"), ("anthropic-ratelimit-requests-reset", "2027-01-15T08:00:05Z"),
            ("anthropic-ratelimit-tokens-remaining", "0"), ("anthropic-ratelimit-tokens-reset", "2027-01-15T08:00:30Z"),
        ]
        #expect(RetryAfter.hint(from: anthropic, now: Date(timeIntervalSince1970: 1_800_000_000)) == .seconds(30))
        let openAI: [(name: String, value: String)] = [
            ("x-ratelimit-remaining-requests", "0"), ("x-ratelimit-reset-requests", "6m0s"),
            ("x-ratelimit-remaining-tokens", "100"), ("x-ratelimit-reset-tokens", "20ms"),
        ]
        #expect(RetryAfter.hint(from: openAI, now: now) == .seconds(360))
        #expect(RetryAfter.goDuration("1h2m3.5s") == .milliseconds(3_723_500))
        #expect(RetryAfter.goDuration("bogus") == nil)
        #expect(RetryAfter.hint(from: [], now: now) == nil)
    }
}
