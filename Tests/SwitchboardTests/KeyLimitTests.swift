import AsyncHTTPClient
import Engine
import Foundation
import NIOCore
import NIOHTTP1
import Policy
import Storage
import SwitchboardApp
import SwitchboardCore
import SwitchboardTesting
import Testing

/// Key limits on loopback, hammered by many concurrent clients: they hold
/// exactly, refusals cost nothing, and slots and holds always come back.
@Suite struct KeyLimitTests {
    static func chat(_ n: Int, model: String = "gpt-4o-mini", stream: Bool = false) -> String {
        #"{"model":"\#(model)","stream":\#(stream),"max_tokens":16,"messages":[{"role":"user","content":"request \#(n)"}]}"#
    }

    /// Sends `count` requests at once; returns their replies.
    func burst(_ harness: Harness, _ count: Int, body: @escaping @Sendable (Int) -> String = { chat($0) }) async throws -> [Harness.Reply] {
        try await withThrowingTaskGroup(of: Harness.Reply.self) { group in
            for n in 0..<count { group.addTask { try await harness.send("/v1/chat/completions", body: body(n)) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    func keyUsage(_ harness: Harness) throws -> KeyUsage {
        let gateway = harness.switchboard.gateway
        let key = try #require(gateway.authenticate(Harness.key))
        return gateway.limiter.usage(of: key)
    }

    @Test func concurrencyIsNeverExceededAndRefusalsAre429() async throws {
        try await withHarness(configure: { $0.keys[0].policy.concurrency = 3 }) { harness in
            let replies = try await burst(harness, 30) {
                #"{"model":"short-slow-stream","stream":true,"messages":[{"role":"user","content":"c\#($0)"}]}"#
            }
            #expect(harness.fake.peakInFlight(key: Harness.openAISecret) <= 3)
            let refused = replies.filter { $0.status == 429 }
            #expect(replies.filter { $0.status == 200 }.count >= 3 && !refused.isEmpty)
            #expect(refused.allSatisfy { ($0.json["error"] as? [String: Any])?["code"] as? String == "key_concurrency_limited" })
            #expect(refused.allSatisfy { $0.headers.first(name: "retry-after") != nil })
            #expect(try keyUsage(harness).inFlight == 0)
        }
    }

    @Test func aQueueLetsEveryoneThroughAtTheCapAndSlotsComeBack() async throws {
        // Priced, so every request also holds money that must come back.
        let price = #"{"input_cost_per_token":0.000001,"output_cost_per_token":0.000002}"#
        let prices = Data(#"{"slow-stream":\#(price),"short-slow-stream":\#(price),"fail-500":\#(price),"slow-first-byte":\#(price)}"#.utf8)
        try await withHarness(configure: {
            $0.keys[0].policy.concurrency = 3
            $0.keys[0].policy.maxWaiting = 30
            $0.keys[0].policy.balance = Money(picos: Money.picosPerDollar)
            $0.priceOverrides = prices
            $0.firstByteTimeout = .seconds(3)
            $0.pool.transientFailures = 100  // keep the account serving through the failures below
            // Ten rounds of three wait in the queue: on a loaded machine that can pass the
            // default 30 s wait, and this test is about slots, not about waiting too long.
            $0.keyWaitTimeout = .seconds(600)
        }) { harness in
            let replies = try await burst(harness, 30) {
                #"{"model":"short-slow-stream","stream":true,"messages":[{"role":"user","content":"q\#($0)"}]}"#
            }
            #expect(replies.allSatisfy { $0.status == 200 })
            #expect(harness.fake.peakInFlight(key: Harness.openAISecret) == 3)
            // Clients that leave mid-stream, and upstream failures, give their slots back.
            for n in 0..<3 {
                try await harness.startStreamAndLeave(#"{"model":"slow-stream","stream":true,"messages":[{"role":"user","content":"gone \#(n)"}]}"#)
            }
            _ = try await burst(harness, 6) { #"{"model":"fail-500","messages":[{"role":"user","content":"f\#($0)"}]}"# }
            let timedOut = try await burst(harness, 3) { #"{"model":"slow-first-byte","messages":[{"role":"user","content":"t\#($0)"}]}"# }
            #expect(timedOut.allSatisfy { $0.status == 504 })
            for _ in 0..<200 where try keyUsage(harness).inFlight > 0 { try await Task.sleep(for: .milliseconds(50)) }
            #expect(try keyUsage(harness).inFlight == 0, "slots leaked")
            #expect(try keyUsage(harness).held == .zero)
        }
    }

    @Test func aRateWindowOfRNeverAdmitsMoreThanR() async throws {
        try await withHarness(configure: { $0.keys[0].policy.rateLimit = .init(windowMinutes: 1, requests: 5) }) { harness in
            let replies = try await burst(harness, 20)
            let counts = Dictionary(grouping: replies.map(\.status), by: { $0 }).mapValues(\.count)
            #expect(counts == [200: 5, 429: 15])
            let refused = replies.filter { $0.status == 429 }
            #expect(refused.allSatisfy { ($0.json["error"] as? [String: Any])?["code"] as? String == "key_rate_limited" })
            #expect(refused.allSatisfy { Int($0.headers.first(name: "retry-after") ?? "") ?? 0 >= 1 })
            let ok = try #require(replies.first { $0.status == 200 })
            #expect(ok.headers.first(name: "x-ratelimit-limit-requests") == "5")
            #expect(harness.fake.received.count == 5, "refused requests never reach the upstream")
            // The window slides: a minute later there is room again, and no more than R.
            harness.clock.advance(by: .seconds(60))
            #expect(try await burst(harness, 8).filter { $0.status == 200 }.count == 5)
            // A stream carries the same headers.
            harness.clock.advance(by: .seconds(60))
            let stream = try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini", stream: true))
            #expect(stream.status == 200 && stream.headers.first(name: "x-ratelimit-remaining-requests") == "4")
        }
    }

    @Test func twoHundredConcurrentRequestsNeverSpendMoreThanTheBalance() async throws {
        let balance = Money.picosPerDollar  // $1.00
        // A dear price, so $1.00 buys about fifteen of the fake's answers (21 in, 9 out: $0.066 each).
        let prices = Data(#"{"gpt-4o-mini":{"input_cost_per_token":0.001,"output_cost_per_token":0.005}}"#.utf8)
        try await withHarness(configure: {
            $0.keys[0].policy.balance = Money(picos: balance)
            $0.priceOverrides = prices
        }) { harness in
            let replies = try await burst(harness, 200)
            let served = replies.filter { $0.status == 200 }
            let refused = replies.filter { $0.status == 429 }
            #expect(!served.isEmpty && served.count + refused.count == 200)
            #expect(refused.allSatisfy { ($0.json["error"] as? [String: Any])?["type"] as? String == "insufficient_quota" })
            #expect(refused.allSatisfy { $0.headers.first(name: "x-should-retry") == "false" })
            let rows = try await harness.ledger(atLeast: 200)
            let spent = rows.reduce(Int64(0)) { $0 + $1.cost.picos }
            #expect(spent <= balance, "spent \(spent) of \(balance)")
            #expect(rows.filter { $0.outcome == .ok }.count == served.count)
            // Keep asking one at a time until refused: still never over.
            var more = 0
            while try await harness.send("/v1/chat/completions", body: Self.chat(1000 + more)).status == 200 { more += 1 }
            let final = try await harness.ledger(atLeast: 200 + more + 1).reduce(Int64(0)) { $0 + $1.cost.picos }
            #expect(final <= balance)
            let usage = try keyUsage(harness)
            #expect(usage.held == .zero && usage.spent.picos == final && (usage.balanceRemaining ?? Money(picos: -1)) >= .zero)
        }
    }

    @Test func anExhaustedBalanceIsAnthropicsBillingError() async throws {
        try await withHarness(configure: { $0.keys[0].policy.balance = Money(picos: 0) }) { harness in
            let anthropic = try await harness.send("/v1/messages", body: Harness.messages("claude-sonnet-4-5"))
            #expect(anthropic.status == 402)
            #expect((anthropic.json["error"] as? [String: Any])?["type"] as? String == "billing_error")
            #expect(anthropic.headers.first(name: "x-should-retry") == "false")
            #expect(harness.fake.received.isEmpty)
        }
    }

    @Test func absurdMaxTokensAreRefusedBeforeTheyReachAnyBudget() async throws {
        try await withHarness(configure: { $0.keys[0].policy.balance = Money(picos: 1_000_000_000_000) }) { harness in
            for value in ["9223372036854775807", "-1000000000000000", "0", "1e30"] {
                let body = #"{"model":"gpt-4o-mini","max_tokens":\#(value),"messages":[{"role":"user","content":"x"}]}"#
                let reply = try await harness.send("/v1/chat/completions", body: body)
                #expect(reply.status == 400, "max_tokens \(value)")
                #expect((reply.json["error"] as? [String: Any])?["param"] as? String == "max_tokens")
            }
            #expect(try keyUsage(harness).held == .zero)
            #expect(try await harness.send("/v1/chat/completions", body: Self.chat(1)).status == 200)
        }
    }

    @Test func allowListsRefuseWith403() async throws {
        try await withHarness(configure: {
            $0.keys[0].policy.models = ["gpt-*", "claude-sonnet-*"]
            $0.keys[0].policy.clients = ["claude-cli/*", "OpenAI/*"]
            $0.keys[0].policy.providers = [.openai]
        }) { harness in
            let claude = [("user-agent", "claude-cli/2.0.1 (external, cli)")]
            #expect(try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini"), headers: claude).status == 200)
            let model = try await harness.send("/v1/chat/completions", body: Harness.chat("echo"), headers: claude)
            #expect(model.status == 403 && (model.json["error"] as? [String: Any])?["code"] as? String == "model_not_allowed")
            let client = try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini"), headers: [("user-agent", "curl/8")])
            #expect(client.status == 403)
            let provider = try await harness.send("/v1/messages", body: Harness.messages("claude-sonnet-4-5"), headers: claude)
            #expect(provider.status == 403)
            #expect((provider.json["error"] as? [String: Any])?["type"] as? String == "permission_error")
            let models = try await harness.send("/v1/models", method: .GET, headers: claude)
            let ids = ((models.json["data"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String }
            #expect(ids == ["gpt-4o-mini"], "the model list shows only what the key may use")
            #expect(harness.fake.received.count == 1)
        }
    }
}

@Suite struct KeyQueueKeepaliveTests {
    @Test(arguments: [("/v1/chat/completions", true), ("/v1/messages", false)])
    func aStreamingClientWaitingForASlotGetsKeepalivesThenItsStream(path: String, openAI: Bool) async throws {
        try await withHarness(configure: {
            $0.keys[0].policy.concurrency = 1
            $0.keys[0].policy.maxWaiting = 2
            $0.keepaliveInterval = .milliseconds(200)
        }) { harness in
            let row = try await queuedStreamGetsKeepalivesThenItsStream(harness, path: path, openAI: openAI)
            #expect(harness.fake.peakInFlight(key: openAI ? Harness.openAISecret : Harness.anthropicSecret) == 1)
            #expect(row.outcome == .ok && row.usage.output > 0)
        }
    }
}

/// Holds the one slot with a held stream, sends a second stream that must
/// queue, passes two keepalive intervals on the gateway's clock (its sleepers:
/// the keepalive timer and the queue's timeout), lets the first go, and checks
/// the second heard keepalives before its whole stream. Returns its row.
func queuedStreamGetsKeepalivesThenItsStream(_ harness: Harness, path: String, openAI: Bool) async throws -> LedgerRow {
    func body(_ model: String) -> String {
        openAI
            ? #"{"model":"\#(model)","stream":true,"messages":[{"role":"user","content":"k"}]}"#
            : #"{"model":"\#(model)","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"k"}]}"#
    }
    async let first = harness.send(path, body: body("held-stream"))
    try await harness.eventually { harness.fake.currentInFlight == 1 }
    async let second = harness.send(path, body: body("short-slow-stream"))
    try await harness.tick(.milliseconds(200), whenSleepers: 2)
    try await harness.tick(.milliseconds(200), whenSleepers: 2)
    try await harness.eventually { harness.clock.sleeperCount >= 2 }
    harness.fake.releaseHeld()
    let (held, waited) = (try await first, try await second)
    #expect(held.status == 200 && waited.status == 200)
    let keepalive = openAI ? ": keepalive\n\n" : "event: ping\ndata: {\"type\": \"ping\"}\n\n"
    #expect(waited.body.hasPrefix(keepalive + keepalive), "keepalives come first, while the request waits")
    #expect(waited.body.hasSuffix(openAI ? "data: [DONE]\n\n" : "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"))
    return try await harness.row(waited.headers.first(name: "x-request-id"))
}
