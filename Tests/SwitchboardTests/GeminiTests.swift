import Foundation
import NIOHTTP1
import Policy
import Storage
import SwitchboardApp
import SwitchboardCore
import SwitchboardTesting
import Testing

/// Gemini requests relayed to Gemini accounts.
@Suite struct GeminiTests {
    static func accounts(_ port: Int) -> [Configuration.AccountDeclaration] {
        Harness.defaultAccounts(fakePort: port) + [Harness.geminiAccount(fakePort: port)]
    }
    static let body = #"{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"generationConfig":{"maxOutputTokens":64}}"#

    @Test func generateContentWithEitherKeyFormIsRelayedAndBilled() async throws {
        try await withHarness(accounts: Self.accounts) { harness in
            let byHeader = try await harness.send("/v1beta/models/gemini-2.5-flash:generateContent", body: Self.body, auth: .googAPIKey)
            let byQuery = try await harness.send("/v1beta/models/gemini-2.5-flash:generateContent?key=\(Harness.key)", body: Self.body, key: nil)
            for reply in [byHeader, byQuery] {
                #expect(reply.status == 200)
                let candidate = try #require((reply.json["candidates"] as? [[String: Any]])?.first)
                let parts = (candidate["content"] as? [String: Any])?["parts"] as? [[String: Any]]
                #expect(parts?.first?["text"] as? String == FakeUsage.text)
                let row = try await harness.row(reply.headers.first(name: "x-request-id"))
                #expect(row.dialect == "gemini_generate" && row.outcome == .ok && row.accountName == "gemini-1" && row.model == "gemini-2.5-flash")
                #expect(row.usage == TokenUsage(inputUncached: FakeUsage.prompt, output: FakeUsage.output))
            }
            let sent = try #require(harness.fake.received.last)
            #expect(sent.path == "/v1beta/models/gemini-2.5-flash:generateContent")
            #expect(sent.headers["x-goog-api-key"] == Harness.geminiSecret, "the account's key, never the client's")
        }
    }

    /// google-genai 3.x uses `/v1` unless told otherwise: every Gemini route
    /// answers there as under `/v1beta`, errors in Gemini's shape, while
    /// `/v1/models` still lists for OpenAI and Anthropic clients by their headers.
    @Test func everyGeminiRouteAnswersUnderV1AsUnderV1beta() async throws {
        try await withHarness(accounts: Self.accounts) { harness in
            let generated = try await harness.send("/v1/models/gemini-2.5-flash:generateContent", body: Self.body, auth: .googAPIKey)
            #expect(generated.status == 200)
            #expect(harness.fake.received.last?.path == "/v1beta/models/gemini-2.5-flash:generateContent", "the account's own API root")
            let row = try await harness.row(generated.headers.first(name: "x-request-id"))
            #expect(row.dialect == "gemini_generate" && row.outcome == .ok)

            let streamed = try await harness.send("/v1/models/gemini-2.5-flash:streamGenerateContent?alt=sse", body: Self.body, auth: .googAPIKey)
            #expect(streamed.status == 200 && streamed.body.contains("data: "))
            let counted = try await harness.send("/v1/models/gemini-2.5-flash:countTokens", body: Self.body, auth: .googAPIKey)
            #expect(counted.status == 200 && counted.json["totalTokens"] != nil)

            let listed = try await harness.send("/v1/models", method: .GET, auth: .googAPIKey)
            let names = (listed.json["models"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
            #expect(names.contains("models/gemini-2.5-flash"), "Gemini's list shape for Google's client")
            let one = try await harness.send("/v1/models/gemini-2.5-flash", method: .GET, auth: .googAPIKey)
            #expect(one.status == 200 && one.json["name"] as? String == "models/gemini-2.5-flash")
            let openAI = try await harness.send("/v1/models", method: .GET)
            #expect(openAI.json["object"] as? String == "list", "OpenAI's list shape for a bearer key")
            let tuned = try await harness.send("/v1/models/ft:gpt-4o-mini:org::abc", method: .GET)
            #expect(tuned.status == 404 && (tuned.json["error"] as? [String: Any])?["type"] != nil, "a colon in an OpenAI id stays OpenAI's")
            let retrieved = try await harness.send("/v1/models/gpt-4o-mini", method: .GET)
            #expect(retrieved.status == 200 && retrieved.json["id"] as? String == "gpt-4o-mini" && retrieved.json["object"] as? String == "model")

            // Errors on either version, and on routes that do not exist, in Gemini's shape.
            for path in ["/v1/models/gemini-2.5-flash:generateContent", "/v1beta/models/gemini-2.5-flash:generateContent"] {
                let refused = try await harness.send(path, body: Self.body, key: "sk-wrong", auth: .googAPIKey)
                let error = refused.json["error"] as? [String: Any]
                #expect(refused.status == 401 && error?["status"] as? String == "UNAUTHENTICATED" && error?["code"] as? Int == 401)
            }
            for path in ["/v1/models/gemini-2.5-flash:predictLongRunning", "/v1/cachedContents", "/v1beta/files"] {
                let missing = try await harness.send(path, body: Self.body, auth: .googAPIKey)
                #expect(missing.status == 404 && (missing.json["error"] as? [String: Any])?["status"] as? String == "NOT_FOUND", "\(path)")
            }
            let openAIMissing = try await harness.send("/v1/files", body: "{}")
            #expect(openAIMissing.status == 404 && (openAIMissing.json["error"] as? [String: Any])?["type"] != nil, "OpenAI's shape")
            let anthropicMissing = try await harness.send("/v1/messages/batches", body: "{}", auth: .xAPIKey)
            #expect(anthropicMissing.json["type"] as? String == "error", "Anthropic's shape")
        }
    }

    @Test func streamHasNoCommentsAndBillsTheLastChunksUsage() async throws {
        try await withHarness(accounts: Self.accounts) { harness in
            let reply = try await harness.send(
                "/v1beta/models/gemini-2.5-flash-cached:streamGenerateContent?alt=sse", body: Self.body, auth: .googAPIKey)
            #expect(reply.status == 404, "an unlisted model is not found")
            #expect((reply.json["error"] as? [String: Any])?["status"] as? String == "NOT_FOUND")

            let stream = try await harness.send("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", body: Self.body, auth: .googAPIKey)
            #expect(stream.status == 200)
            let lines = stream.body.components(separatedBy: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && $0 != "\r" }
            #expect(lines.allSatisfy { $0.hasPrefix("data: ") }, "only data lines: google-genai rejects anything else")
            #expect(harness.fake.received.last?.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent")
            let row = try await harness.row(stream.headers.first(name: "x-request-id"))
            #expect(row.dialect == "gemini_stream" && row.stream && row.outcome == .ok && !row.usageIncomplete)
            #expect(row.usage.output == FakeUsage.output)
        }
    }

    @Test func aStreamBrokenMidwayEndsWithAnErrorChunk() async throws {
        try await withHarness(accounts: { [Harness.geminiAccount(fakePort: $0)] }) { harness in
            let reply = try await harness.send(
                "/v1beta/models/drop-after-first-chunk:streamGenerateContent?alt=sse", body: Self.body, auth: .googAPIKey)
            #expect(reply.status == 200)
            let last = try #require(
                reply.body.replacingOccurrences(of: "\r\n", with: "\n").components(separatedBy: "\n\n").map {
                    $0.trimmingCharacters(in: .whitespacesAndNewlines)
                }.filter { !$0.isEmpty }.last)
            let data = try #require(last.hasPrefix("data: ") ? String(last.dropFirst(6)) : nil)
            let error = try #require((try JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any])?["error"] as? [String: Any])
            #expect(error["status"] as? String == "UNAVAILABLE" && error["code"] as? Int == 503)
        }
    }

    @Test func countTokensAndModelListsAnswerInGeminisShape() async throws {
        try await withHarness(accounts: Self.accounts) { harness in
            let count = try await harness.send("/v1beta/models/gemini-2.5-flash:countTokens", body: Self.body, auth: .googAPIKey)
            #expect(count.status == 200 && count.json["totalTokens"] as? Int == Int(FakeUsage.prompt))
            #expect(harness.fake.received.last?.path == "/v1beta/models/gemini-2.5-flash:countTokens")

            let list = try await harness.send("/v1beta/models", method: .GET, auth: .googAPIKey)
            let names = (list.json["models"] as? [[String: Any]])?.compactMap { $0["name"] as? String } ?? []
            #expect(names.contains("models/gemini-2.5-flash") && names.contains("models/gpt-4o-mini") && names.contains("models/claude-sonnet-4-5"))
            let one = try await harness.send("/v1beta/models/gemini-2.5-flash", method: .GET, auth: .googAPIKey)
            #expect(one.status == 200 && one.json["name"] as? String == "models/gemini-2.5-flash")
            #expect(try await harness.send("/v1beta/models/nope", method: .GET, auth: .googAPIKey).status == 404)

            let unauthorized = try await harness.send(
                "/v1beta/models/gemini-2.5-flash:generateContent", body: Self.body, key: "wrong", auth: .googAPIKey)
            #expect(unauthorized.status == 401)
            #expect((unauthorized.json["error"] as? [String: Any])?["status"] as? String == "UNAUTHENTICATED")
            #expect(try await harness.send("/v1beta/models/gemini-2.5-flash:embedContent", body: Self.body, auth: .googAPIKey).status == 404)
            let rows = try await harness.ledger(atLeast: 1)
            #expect(rows.contains { $0.dialect == "gemini_count_tokens" && $0.cost == .zero }, "counting leaves a row at zero cost")
        }
    }

    @Test func modelNamesWithASlashOrEscapesAreFound() async throws {
        let accounts: (Int) -> [Configuration.AccountDeclaration] = { port in
            [Harness.defaultAccounts(fakePort: port)[1].with(models: ["anthropic/claude-x"], modelMap: ["anthropic/claude-x": "claude-sonnet-4-5"])]
        }
        try await withHarness(accounts: accounts) { harness in
            for path in [
                "/v1beta/models/anthropic/claude-x:generateContent", "/v1beta/models/anthropic%2Fclaude-x:generateContent",
                "/v1beta/models/models/anthropic/claude-x:generateContent",
            ] {
                let reply = try await harness.send(path, body: Self.body, auth: .googAPIKey)
                #expect(reply.status == 200, "\(path): \(reply.body)")
            }
            let one = try await harness.send("/v1beta/models/anthropic/claude-x", method: .GET, auth: .googAPIKey)
            #expect(one.status == 200 && one.json["name"] as? String == "models/anthropic/claude-x")
        }
    }

    @Test func aStreamWaitingForAKeySlotGetsNoKeepalives() async throws {
        try await withHarness(
            accounts: { [Harness.geminiAccount(fakePort: $0)] },
            configure: {
                $0.keys[0].policy.concurrency = 1
                $0.keys[0].policy.maxWaiting = 2
                $0.keepaliveInterval = .milliseconds(100)
            }
        ) { harness in
            let path = "/v1beta/models/short-slow-stream:streamGenerateContent?alt=sse"
            async let first = harness.send(path, body: Self.body, auth: .googAPIKey)
            while harness.fake.currentInFlight == 0 { try await Task.sleep(for: .milliseconds(10)) }
            let second = try await harness.send(path, body: Self.body, auth: .googAPIKey)
            #expect(try await first.status == 200 && second.status == 200)
            #expect(second.body.hasPrefix("data: ") && !second.body.contains(": keepalive"))
            #expect(harness.fake.peakInFlight(key: Harness.geminiSecret) == 1)
        }
    }
}
