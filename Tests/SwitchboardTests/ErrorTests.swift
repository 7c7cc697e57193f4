import Engine
import Foundation
import NIOHTTP1
import Storage
import SwitchboardApp
import SwitchboardCore
import SwitchboardTesting
import Testing

/// Bad input gets the right status and a body in the route's own format.
@Suite struct ErrorTests {
    @Test func everyKeyFormIsAccepted() async throws {
        try await withHarness { harness in
            for style in [Harness.AuthStyle.bearer, .xAPIKey, .googAPIKey] {
                let reply = try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini"), auth: style)
                #expect(reply.status == 200, "\(style)")
            }
        }
    }

    /// RFC 9110: an origin server with a clock sends `Date` (IMF-fixdate) on
    /// answers and refusals alike.
    @Test func answersAndRefusalsCarryADate() async throws {
        try await withHarness { harness in
            let answered = try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini"))
            let refused = try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini"), key: nil)
            #expect(answered.status == 200 && refused.status == 401)
            for reply in [answered, refused] {
                let date = reply.headers.first(name: "date").flatMap(WireDate.httpDate)
                #expect(date.map { abs($0.timeIntervalSinceNow) < 86_400 } == true, "\(reply.headers)")
            }
        }
    }

    @Test func badKeysGetTheSame401EveryTimeAndNeverAnEcho() async throws {
        try await withHarness { harness in
            let secretLooking = "sk-sb-this-is-not-a-real-key-but-do-not-echo-it"
            _ = try await harness.switchboard.storeContext.store.revokeKey(name: "test-key", at: Date())
            await harness.switchboard.refresher.refreshIfChanged()
            for path in ["/v1/chat/completions", "/v1/messages"] {
                let body = path == "/v1/messages" ? Harness.messages("claude-sonnet-4-5") : Harness.chat("gpt-4o-mini")
                let missing = try await harness.send(path, body: body, key: nil)
                let unknown = try await harness.send(path, body: body, key: secretLooking)
                let revoked = try await harness.send(path, body: body, key: Harness.key)
                #expect(missing.status == 401 && unknown.status == 401 && revoked.status == 401)
                #expect(missing.body == unknown.body && unknown.body == revoked.body)
                #expect(!unknown.body.contains(secretLooking) && !revoked.body.contains(Harness.key))
                if path == "/v1/messages" {
                    #expect(unknown.json["type"] as? String == "error")
                    #expect((unknown.json["error"] as? [String: Any])?["type"] as? String == "authentication_error")
                } else {
                    #expect((unknown.json["error"] as? [String: Any])?["code"] as? String == "invalid_api_key")
                }
            }
            #expect(harness.fake.received.isEmpty, "nothing reaches the upstream without a valid key")
            // Requests without a valid key are counted, never recorded one row each.
            #expect(try await harness.ledger(atLeast: 0).isEmpty)
            #expect(harness.switchboard.gateway.stats.unauthenticatedRequests == 6)
        }
    }

    @Test func expiredKeysAreRefusedLikeUnknownOnes() async throws {
        let expired = "sk-sb-expired-0123456789abcdefghijkl"
        let future = "sk-sb-future-0123456789abcdefghijklm"
        try await withHarness(configure: {
            $0.keys += [
                .init(name: "expired", key: expired, expiresAt: Date().addingTimeInterval(-60)),
                .init(name: "future", key: future, expiresAt: Date().addingTimeInterval(3600)),
            ]
        }) { harness in
            let refused = try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini"), key: expired)
            let unknown = try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini"), key: "sk-sb-nope")
            #expect(refused.status == 401 && refused.body == unknown.body)
            let accepted = try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini"), key: future)
            #expect(accepted.status == 200)
        }
    }

    @Test func malformedMissingAndUnknownModels() async throws {
        try await withHarness { harness in
            let malformed = try await harness.send("/v1/chat/completions", body: #"{"model": "gpt-4o-mini", "messages": [}"#)
            #expect(malformed.status == 400)
            #expect((malformed.json["error"] as? [String: Any])?["code"] as? String == "invalid_json")

            let missing = try await harness.send("/v1/messages", body: #"{"messages":[]}"#)
            #expect(missing.status == 400)
            #expect((missing.json["error"] as? [String: Any])?["type"] as? String == "invalid_request_error")

            let unknownOpenAI = try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-9-imaginary"))
            #expect(unknownOpenAI.status == 404)
            #expect((unknownOpenAI.json["error"] as? [String: Any])?["code"] as? String == "model_not_found")
            let unknownAnthropic = try await harness.send("/v1/messages", body: Harness.messages("claude-imaginary"))
            #expect(unknownAnthropic.status == 404)
            #expect((unknownAnthropic.json["error"] as? [String: Any])?["type"] as? String == "not_found_error")

            // Embeddings are not translated: a model only another format serves is refused.
            let crossDialect = try await harness.send("/v1/embeddings", body: #"{"model":"claude-sonnet-4-5","input":"hi"}"#)
            #expect(crossDialect.status == 400)
            #expect(harness.fake.received.isEmpty)
        }
    }

    @Test func oversizedBodiesAreRefusedWith413() async throws {
        try await withHarness(configure: { $0.maxBodyBytes = 4096 }) { harness in
            let big = Harness.chat("gpt-4o-mini", extra: #","padding":""# + String(repeating: "x", count: 8192) + #"""#)
            let declared = try await harness.send("/v1/chat/completions", body: big)
            #expect(declared.status == 413)
            #expect((declared.json["error"] as? [String: Any])?["code"] as? String == "body_too_large")
            let anthropic = try await harness.send("/v1/messages", body: big)
            #expect(anthropic.status == 413)
            #expect((anthropic.json["error"] as? [String: Any])?["type"] as? String == "request_too_large")
            let small = try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini"))
            #expect(small.status == 200)
            // A body that cannot be read leaves no row (a flood of them cannot fill the disk): it is counted.
            #expect(try await harness.ledger(atLeast: 1).count == 1)
            #expect(harness.switchboard.gateway.stats.malformedRequests == 2)
            // Without a valid key the body is not even looked at.
            let stranger = try await harness.send("/v1/chat/completions", body: big, key: "sk-sb-nope")
            #expect(stranger.status == 401)
        }
    }

    /// A path that exists asked with another method: 405 naming the methods in
    /// `Allow`, in the route's shape; a path nobody serves stays 404.
    @Test func aWrongMethodIs405WithAllow() async throws {
        try await withHarness { harness in
            let chat = try await harness.send("/v1/chat/completions", method: .GET)
            #expect(chat.status == 405 && chat.headers.first(name: "allow") == "POST")
            #expect((chat.json["error"] as? [String: Any])?["code"] as? String == "method_not_allowed")
            let messages = try await harness.send("/v1/messages", method: .PUT, body: "{}", auth: .xAPIKey)
            #expect(messages.status == 405 && messages.json["type"] as? String == "error", "Anthropic's shape")
            let keys = try await harness.send("/admin/keys", method: .DELETE)
            #expect(keys.status == 405 && keys.headers.first(name: "allow") == "GET, POST")
            let key = try await harness.send("/admin/keys/some-name", method: .PUT)
            #expect(key.status == 405 && key.headers.first(name: "allow")?.contains("PATCH") == true, "a route with a parameter")
            let gemini = try await harness.send("/v1beta/models/gemini-2.5-flash:generateContent", method: .PUT, auth: .googAPIKey)
            #expect(gemini.status == 405 && (gemini.json["error"] as? [String: Any])?["status"] != nil, "Gemini's shape")
            let nothing = try await harness.send("/v1/nothing-here", method: .GET)
            #expect(nothing.status == 404 && nothing.headers.first(name: "allow") == nil)
        }
    }

    @Test func unknownRoutesAnswerInFormatWithARequestID() async throws {
        try await withHarness { harness in
            let openAI = try await harness.send("/v1/nothing-here", body: "{}")
            #expect(openAI.status == 404)
            #expect((openAI.json["error"] as? [String: Any])?["code"] as? String == "route_not_found")
            #expect(openAI.headers.first(name: "x-request-id") != nil)
            let gemini = try await harness.send("/v1/models/gemini-2.5-flash:noSuchMethod", body: "{}")
            #expect(gemini.status == 404 && (gemini.json["error"] as? [String: Any])?["status"] != nil, "Gemini's shape")
            let anthropic = try await harness.send("/v1/messages/nothing", body: "{}")
            #expect(anthropic.status == 404)
            #expect(anthropic.json["type"] as? String == "error")
            let health = try await harness.send("/health", method: .GET, key: nil)
            #expect(health.status == 200 && health.headers.first(name: "x-request-id") != nil)
            let hello = try await harness.send("/api/hello", method: .HEAD, key: nil)
            #expect(hello.status == 200)
        }
    }
}
