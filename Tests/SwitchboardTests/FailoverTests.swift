import Foundation
import NIOHTTP1
import Storage
import SwitchboardApp
import SwitchboardCore
import SwitchboardTesting
import Testing

/// Failures upstream: which move the request to another account, which reach
/// the client, and in what form.
@Suite struct FailoverTests {
    /// Two OpenAI accounts for `gpt-4o-mini`: a broken one first, a healthy one second.
    static func brokenThenHealthy(_ broken: @escaping (Int) -> Configuration.AccountDeclaration) -> (Int) -> [Configuration.AccountDeclaration] {
        { port in
            let healthy = Harness.defaultAccounts(fakePort: port)[0].with(name: "healthy", models: ["gpt-4o-mini"], priority: 1)
            return [broken(port), healthy]
        }
    }

    @Test func aRefusedConnectionMovesToTheNextAccount() async throws {
        let accounts = Self.brokenThenHealthy { port in
            Harness.defaultAccounts(fakePort: port)[0].with(name: "refused", baseURL: "http://127.0.0.1:1/v1", models: ["gpt-4o-mini"], priority: 0)
        }
        try await withHarness(accounts: accounts) { harness in
            for stream in [false, true] {
                // A different conversation each time, so no sticky session skips the broken account.
                let body = #"{"model":"gpt-4o-mini","stream":\#(stream),"messages":[{"role":"user","content":"hi \#(stream)"}]}"#
                let reply = try await harness.send("/v1/chat/completions", body: body)
                #expect(reply.status == 200)
                let row = try await harness.row(reply.headers.first(name: "x-request-id"))
                #expect(row.accountName == "healthy" && row.attempts == 2 && row.outcome == .ok)
                #expect(row.route == "refused=failed(transient)")
            }
        }
    }

    @Test(arguments: ["fail-500", "fail-429", "fail-401", "fail-402", "fail-404", "slow-first-byte", "error-first-stream"])
    func upstreamFailuresMoveToTheNextAccount(model: String) async throws {
        let accounts = Self.brokenThenHealthy { port in
            Harness.defaultAccounts(fakePort: port)[0].with(name: "broken", models: ["gpt-4o-mini"], modelMap: ["gpt-4o-mini": model], priority: 0)
        }
        try await withHarness(accounts: accounts, configure: { $0.firstByteTimeout = .seconds(3) }) { harness in
            let reply = try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini", stream: true))
            #expect(reply.status == 200)
            #expect(reply.body.hasSuffix("data: [DONE]\n\n"))
            let row = try await harness.row(reply.headers.first(name: "x-request-id"))
            #expect(row.accountName == "healthy" && row.attempts == 2)
        }
    }

    @Test func aStreamWhoseFirstEventBlamesTheRequestIsTheAnswerNotAFailover() async throws {
        let accounts = Self.brokenThenHealthy { port in
            Harness.defaultAccounts(fakePort: port)[0].with(
                name: "strict", models: ["gpt-4o-mini"], modelMap: ["gpt-4o-mini": "invalid-first-stream"], priority: 0)
        }
        try await withHarness(accounts: accounts) { harness in
            let reply = try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini", stream: true))
            // Another account would refuse the same request: the client sees the upstream's error event.
            #expect(reply.status == 200)
            #expect(reply.body.contains("invalid_request_error") && reply.body.contains("fake invalid request"), "\(reply.body)")
            let row = try await harness.row(reply.headers.first(name: "x-request-id"))
            #expect(row.accountName == "strict" && row.attempts == 1)
            #expect(row.outcome == .upstreamError)
        }
    }

    @Test func whenEveryAttemptFailsTheStatusFollowsTheLastFailure() async throws {
        // Each model on one provider only, so no failover crosses to the other format.
        let accounts: (Int) -> [Configuration.AccountDeclaration] = { port in
            let (openAI, anthropic) = (Harness.defaultAccounts(fakePort: port)[0], Harness.defaultAccounts(fakePort: port)[1])
            return [
                openAI.with(models: ["fail-429", "fail-500", "slow-first-byte"]), anthropic.with(models: ["fail-529", "fail-401"]),
            ]
        }
        try await withHarness(accounts: accounts, configure: { $0.firstByteTimeout = .seconds(3) }) { harness in
            let limited = try await harness.send("/v1/chat/completions", body: Harness.chat("fail-429"))
            #expect(limited.status == 429)
            #expect(limited.headers.first(name: "retry-after") == "7")
            #expect((limited.json["error"] as? [String: Any])?["type"] as? String == "rate_limit_error")

            // Each failure cools its account; move past the cooldown so the next case reaches the upstream.
            harness.clock.advance(by: .seconds(3600))
            let overloaded = try await harness.send("/v1/messages", body: Harness.messages("fail-529"))
            #expect(overloaded.status == 529)
            #expect((overloaded.json["error"] as? [String: Any])?["type"] as? String == "overloaded_error")

            harness.clock.advance(by: .seconds(3600))
            let badCredential = try await harness.send("/v1/messages", body: Harness.messages("fail-401"))
            #expect(badCredential.status == 502)
            #expect(!badCredential.body.contains("fake upstream"), "upstream details are not leaked")

            harness.clock.advance(by: .seconds(3600))
            let broken = try await harness.send("/v1/chat/completions", body: Harness.chat("fail-500"))
            #expect(broken.status == 503)

            let slow = try await harness.send("/v1/chat/completions", body: Harness.chat("slow-first-byte"))
            #expect(slow.status == 504)

            let row = try await harness.row(limited.headers.first(name: "x-request-id"))
            #expect(row.status == 429 && row.outcome == .upstreamError && row.accountName == "openai-1")
        }
    }

    @Test func theClientsOwnMistakeIsReturnedAndNotRetried() async throws {
        let accounts: (Int) -> [Configuration.AccountDeclaration] = { port in
            let base = Harness.defaultAccounts(fakePort: port)[0]
            return [base.with(name: "a", models: ["fail-400"], priority: 0), base.with(name: "b", models: ["fail-400"], priority: 1)]
        }
        try await withHarness(accounts: accounts) { harness in
            let reply = try await harness.send("/v1/chat/completions", body: Harness.chat("fail-400"))
            #expect(reply.status == 400)
            #expect((reply.json["error"] as? [String: Any])?["code"] as? String == "fake_400")
            #expect(harness.fake.received.count == 1)
            let row = try await harness.row(reply.headers.first(name: "x-request-id"))
            #expect(row.outcome == .clientError && row.attempts == 1)
        }
    }

    @Test func anOpenAIStreamThatEndsAfterItsUsageWithoutDoneIsComplete() async throws {
        try await withHarness { harness in
            let reply = try await harness.send("/v1/chat/completions", body: Harness.chat("no-end-marker", stream: true))
            #expect(reply.body.hasSuffix("data: [DONE]\n\n"), "the client still gets the end marker")
            #expect(!reply.body.contains(#""error""#))
            let row = try await harness.row(reply.headers.first(name: "x-request-id"))
            #expect(row.outcome == .ok && !row.usageIncomplete && row.usage.output == 9)
            // Anthropic's only end is message_stop: without it the stream is cut.
            let cut = try await harness.send("/v1/messages", body: Harness.messages("no-end-marker", stream: true))
            #expect(cut.body.contains("event: error"))
        }
    }

    @Test func failoverStopsAfterTheConfiguredNumberOfSwitches() async throws {
        let accounts: (Int) -> [Configuration.AccountDeclaration] = { port in
            let base = Harness.defaultAccounts(fakePort: port)[0]
            return (0..<5).map { (index: Int) in base.with(name: "a\(index)", models: ["fail-500"], priority: index) }
        }
        try await withHarness(accounts: accounts, configure: { $0.maxFailovers = 2 }) { harness in
            let reply = try await harness.send("/v1/chat/completions", body: Harness.chat("fail-500"))
            #expect(reply.status == 503)
            #expect(harness.fake.received.count == 3, "one attempt and two switches")
        }
    }

    @Test(arguments: [("/v1/chat/completions", true), ("/v1/messages", false)])
    func afterTheFirstByteAFailureEndsTheStreamWithAnErrorEvent(path: String, openAI: Bool) async throws {
        try await withHarness { harness in
            for model in ["drop-after-first-chunk", "truncated-stream", "cut-mid-event"] {
                let body = openAI ? Harness.chat(model, stream: true) : Harness.messages(model, stream: true)
                let reply = try await harness.send(path, body: body)
                #expect(reply.status == 200)
                let frames = reply.body.components(separatedBy: "\n\n").filter { !$0.isEmpty }
                #expect(frames.count >= 2)
                let last = try #require(frames.last)
                // The error is a whole event of its own, which the client's parser can read.
                let prefix = openAI ? "data: " : "event: error\ndata: "
                #expect(last.hasPrefix(prefix), "\(model): \(last)")
                let json = try #require(try JSONSerialization.jsonObject(with: Data(last.dropFirst(prefix.count).utf8)) as? [String: Any])
                #expect(json["error"] != nil)
                #expect(harness.fake.received.filter { $0.body["model"] as? String == model }.count == 1, "no retry after bytes reached the client")
                let row = try await harness.row(reply.headers.first(name: "x-request-id"))
                #expect(row.outcome == .upstreamError && row.usageIncomplete)
            }
        }
    }

    @Test(arguments: [("/v1/chat/completions", true), ("/v1/messages", false)])
    func aStreamThatGoesSilentEndsWithATimeoutEvent(path: String, openAI: Bool) async throws {
        try await withHarness(configure: { $0.streamIdleTimeout = .seconds(2) }) { harness in
            // The upstream sends its first event, then nothing until the test is done.
            let body = openAI ? Harness.chat("held-stream", stream: true) : Harness.messages("held-stream", stream: true)
            let reply = try await harness.send(path, body: body)
            harness.fake.releaseHeld()
            #expect(reply.status == 200)
            #expect(reply.body.contains("upstream_timeout") || reply.body.contains("timeout_error"))
            let row = try await harness.row(reply.headers.first(name: "x-request-id"))
            #expect(row.outcome == .upstreamError && row.errorCode == "idle_timeout")
        }
    }
}
