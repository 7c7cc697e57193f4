import Engine
import Foundation
import NIOHTTP1
import Policy
import Storage
import SwitchboardApp
import SwitchboardCore
import SwitchboardTesting
import Testing

/// OpenAI Responses requests relayed to OpenAI accounts.
@Suite struct ResponsesTests {
    static func body(_ model: String = "gpt-4o-mini", stream: Bool = false, input: String = "hi", extra: String = "") -> String {
        #"{"model":"\#(model)","stream":\#(stream),"input":"\#(input)"\#(extra)}"#
    }

    @Test func jsonAnswerIsRelayedAndBilledFromItsUsage() async throws {
        try await withHarness { harness in
            let reply = try await harness.send("/v1/responses", body: Self.body())
            #expect(reply.status == 200 && reply.json["object"] as? String == "response")
            let output = try #require((reply.json["output"] as? [[String: Any]])?.first)
            #expect(((output["content"] as? [[String: Any]])?.first?["text"] as? String) == FakeUsage.text)
            #expect(harness.fake.received.last?.path == "/v1/responses")
            let row = try await harness.row(reply.headers.first(name: "x-request-id"))
            #expect(row.dialect == "openai_responses" && row.outcome == .ok && row.accountName == "openai-1")
            #expect(row.usage == TokenUsage(inputUncached: FakeUsage.prompt, output: FakeUsage.output) && !row.usageIncomplete)
            #expect(row.cost > .zero)
        }
    }

    @Test func typedStreamIsRelayedAtBothPathsWithCachedTokensBilledAsCacheReads() async throws {
        let accounts: (Int) -> [Configuration.AccountDeclaration] = { port in
            [Harness.defaultAccounts(fakePort: port)[0].with(models: ["gpt-4o-mini-cached"])]
        }
        try await withHarness(accounts: accounts) { harness in
            for path in ["/v1/responses", "/openai/v1/responses"] {
                let reply = try await harness.send(path, body: Self.body("gpt-4o-mini-cached", stream: true))
                #expect(reply.status == 200)
                let types = reply.body.components(separatedBy: "\n").filter { $0.hasPrefix("event: ") }
                #expect(types.first == "event: response.created" && types.last == "event: response.completed")
                #expect(types.contains("event: response.output_text.delta"))
                let row = try await harness.row(reply.headers.first(name: "x-request-id"))
                #expect(row.outcome == .ok && row.stream && !row.usageIncomplete)
                #expect(row.usage.cacheRead == FakeUsage.cacheRead && row.usage.inputUncached == FakeUsage.prompt)
            }
        }
    }

    @Test func aStreamBrokenMidwayEndsWithResponseFailed() async throws {
        try await withHarness { harness in
            let reply = try await harness.send("/v1/responses", body: Self.body("drop-after-first-chunk", stream: true))
            #expect(reply.status == 200)
            #expect(reply.body.hasPrefix("event: response.created"))
            let last = try #require(reply.body.components(separatedBy: "\n\n").filter { !$0.isEmpty }.last)
            #expect(last.hasPrefix("event: response.failed\ndata: "))
            let data = try #require(last.components(separatedBy: "data: ").last)
            let event = try #require(try JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any])
            #expect(event["type"] as? String == "response.failed")
            let response = try #require(event["response"] as? [String: Any])
            #expect(response["status"] as? String == "failed" && (response["error"] as? [String: Any])?["message"] != nil)
            let row = try await harness.row(reply.headers.first(name: "x-request-id"))
            #expect(row.outcome == .upstreamError)
        }
    }

    @Test func toolOutputWithoutItsCallIsRefusedWithAFix() async throws {
        try await withHarness { harness in
            let orphan = #"{"model":"gpt-4o-mini","input":[{"type":"function_call_output","call_id":"call_9","output":"42"}]}"#
            let refused = try await harness.send("/v1/responses", body: orphan)
            #expect(refused.status == 400)
            let error = try #require(refused.json["error"] as? [String: Any])
            let message = try #require(error["message"] as? String)
            #expect(message.contains("call_9") && message.contains("previous_response_id") && message.contains("item_reference"))
            #expect(error["param"] as? String == "input")
            #expect(harness.fake.received.isEmpty, "nothing went upstream")

            let paired =
                #"{"model":"gpt-4o-mini","input":[{"type":"function_call","call_id":"call_9","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"call_9","output":"42"}]}"#
            #expect(try await harness.send("/v1/responses", body: paired).status == 200)
            let chained =
                #"{"model":"gpt-4o-mini","previous_response_id":"resp_1","input":[{"type":"function_call_output","call_id":"call_9","output":"42"}]}"#
            #expect(try await harness.send("/v1/responses", body: chained).status == 200)
            let referenced =
                #"{"model":"gpt-4o-mini","input":[{"type":"item_reference","id":"fc_1"},{"type":"function_call_output","call_id":"call_9","output":"42"}]}"#
            #expect(try await harness.send("/v1/responses", body: referenced).status == 200, "a reference names an item id, not the call id")
            // Codex answers its local shell calls with function_call_output.
            let shell =
                #"{"model":"gpt-4o-mini","input":[{"type":"local_shell_call","call_id":"call_7","status":"completed","action":{"type":"exec","command":["ls"]}},{"type":"function_call_output","call_id":"call_7","output":"a.txt"}]}"#
            #expect(try await harness.send("/v1/responses", body: shell).status == 200)
        }
    }

    @Test func aContinuationGoesToTheAccountThatStoredTheResponse() async throws {
        let accounts: (Int) -> [Configuration.AccountDeclaration] = { port in
            let first = Harness.defaultAccounts(fakePort: port)[0]
            return [first, first.with(name: "openai-2")]
        }
        try await withHarness(accounts: accounts) { harness in
            for stream in [false, true] {
                let first = try await harness.send("/v1/responses", body: Self.body(stream: stream))
                let stored = try await harness.row(first.headers.first(name: "x-request-id"))
                // Least recently used would pick the other account next; the stored response decides instead.
                for turn in 0..<3 {
                    // Each turn's input differs, so only the stored response ties them together.
                    let next = try await harness.send(
                        "/v1/responses", body: Self.body(stream: stream, input: "turn \(turn)", extra: #","previous_response_id":"resp_fake""#))
                    #expect(try await harness.row(next.headers.first(name: "x-request-id")).accountName == stored.accountName)
                }
            }
        }
    }

    @Test func aStreamRefusedWhileWaitingStartsWithResponseCreated() async throws {
        try await withHarness(configure: {
            $0.keys[0].policy.concurrency = 1
            $0.keys[0].policy.maxWaiting = 1
            $0.keyWaitTimeout = .milliseconds(300)
            $0.keepaliveInterval = .milliseconds(100)
        }) { harness in
            async let holder = harness.send("/v1/responses", body: Self.body("held-stream", stream: true))
            try await harness.eventually { harness.fake.currentInFlight == 1 }
            async let waiting = harness.send("/v1/responses", body: Self.body(stream: true))
            // One keepalive, then the queue's timeout, on the gateway's clock.
            try await harness.tick(.milliseconds(100), whenSleepers: 2)
            try await harness.tick(.milliseconds(300), whenSleepers: 2)
            let refused = try await waiting
            harness.fake.releaseHeld()
            _ = try await holder
            let names = refused.body.components(separatedBy: "\n").filter { $0.hasPrefix("event: ") }
            #expect(names == ["event: response.created", "event: response.failed"], "the SDK's stream helper needs the start first: \(refused.body)")
            #expect(refused.body.hasPrefix(": keepalive"))
        }
    }

    @Test func defaultInstructionsAreAddedOnlyWhenMissingAndNeverForCodex() async throws {
        let accounts: (Int) -> [Configuration.AccountDeclaration] = { port in
            var openAI = Harness.defaultAccounts(fakePort: port)[0]
            openAI.defaultInstructions = "Be brief."
            return [openAI]
        }
        try await withHarness(accounts: accounts) { harness in
            func sentInstructions() throws -> Any? {
                let raw = try #require(harness.fake.received.last?.rawBody)
                let json = try #require(try JSONSerialization.jsonObject(with: Data(raw.utf8)) as? [String: Any])
                return json["instructions"]
            }
            _ = try await harness.send("/v1/responses", body: Self.body())
            #expect(try sentInstructions() as? String == "Be brief.")
            _ = try await harness.send("/v1/responses", body: Self.body(extra: #","instructions":null"#))
            #expect(try sentInstructions() as? String == "Be brief.")
            let mine = try await harness.send("/v1/responses", body: Self.body(extra: ",\"instructions\":\"Mine.\""))
            #expect(mine.status == 200, "\(mine.body)")
            #expect(try sentInstructions() as? String == "Mine.", "\(harness.fake.received.last?.rawBody ?? "")")
            _ = try await harness.send("/v1/responses", body: Self.body(), headers: [("originator", "codex_cli_rs")])
            #expect(try sentInstructions() == nil)
            _ = try await harness.send("/v1/responses", body: Self.body(), headers: [("user-agent", "codex_cli_rs/0.63.0 (Linux)")])
            #expect(try sentInstructions() == nil)
        }
    }
}
