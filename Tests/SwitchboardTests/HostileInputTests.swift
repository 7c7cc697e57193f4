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

@testable import Storage

/// What a hostile client or upstream sends: every case gets the right error in
/// the route's shape, the process lives, and the ledger stays exact.
@Suite struct HostileInputTests {
    static func code(_ reply: Harness.Reply) -> String? {
        (reply.json["error"] as? [String: Any])?["code"] as? String
    }

    @Test func streamMustBeABoolean() async throws {
        try await withHarness { harness in
            for value in [#""true""#, "1", "{}", "[]"] {
                let chat = try await harness.send(
                    "/v1/chat/completions", body: #"{"model":"gpt-4o-mini","stream":\#(value),"messages":[{"role":"user","content":"hi"}]}"#)
                #expect(chat.status == 400 && Self.code(chat) == "invalid_request", "stream: \(value)")
                #expect((chat.json["error"] as? [String: Any])?["param"] as? String == "stream")
                let messages = try await harness.send(
                    "/v1/messages",
                    body: #"{"model":"claude-sonnet-4-5","max_tokens":8,"stream":\#(value),"messages":[{"role":"user","content":"hi"}]}"#)
                #expect(messages.status == 400 && messages.json["type"] as? String == "error")
            }
            // null and absent mean "not streaming", as the providers read them.
            let null = try await harness.send("/v1/chat/completions", body: #"{"model":"gpt-4o-mini","stream":null,"messages":[]}"#)
            #expect(null.status == 200)
            #expect(harness.fake.received.count == 1, "nothing malformed reached the upstream")
        }
    }

    @Test func invalidUTF8AndLoneSurrogatesAre400() async throws {
        try await withHarness { harness in
            let cases: [[UInt8]] = [
                Array(#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":""#.utf8) + [0xC0, 0xAF] + Array(#""}]}"#.utf8),
                Array(#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":""#.utf8) + [0xED, 0xA0, 0x80] + Array(#""}]}"#.utf8),
                Array(#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":""#.utf8) + [0xE2, 0x82] + Array(#""}]}"#.utf8),
                Array(#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"\ud800 alone"}]}"#.utf8),
            ]
            for bytes in cases {
                let reply = try await harness.sendBytes("/v1/chat/completions", body: bytes)
                #expect(reply.status == 400 && Self.code(reply) == "invalid_json")
            }
            // A proper pair and real multibyte text pass.
            let fine = try await harness.send(
                "/v1/chat/completions", body: #"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"\ud83d\ude00 héllo ✓"}]}"#)
            #expect(fine.status == 200)
        }
    }

    @Test func aDuplicatedDecidingFieldIs400() async throws {
        try await withHarness { harness in
            let reply = try await harness.send(
                "/v1/chat/completions", body: #"{"model":"gpt-4o-mini","model":"fail-500","messages":[]}"#)
            #expect(reply.status == 400 && (reply.json["error"] as? [String: Any])?["param"] as? String == "model")
            let maxTokens = try await harness.send(
                "/v1/messages", body: #"{"model":"claude-sonnet-4-5","max_tokens":1,"max_tokens":100000,"messages":[]}"#)
            #expect(maxTokens.status == 400)
            #expect(harness.fake.received.isEmpty)
        }
    }

    @Test func hugeOrControlCharacterModelNamesAre400BeforeAnythingIsRecorded() async throws {
        try await withHarness { harness in
            let huge = String(repeating: "m", count: 5 * 1024 * 1024)
            let reply = try await harness.send("/v1/chat/completions", body: #"{"model":"\#(huge)","messages":[]}"#)
            #expect(reply.status == 400 && !reply.body.contains(String(repeating: "m", count: 300)))
            let newline = try await harness.send("/v1/chat/completions", body: #"{"model":"gpt\nINFO forged","messages":[]}"#)
            #expect(newline.status == 400)
            let gemini = try await harness.send(
                "/v1beta/models/\(String(repeating: "g", count: 300)):generateContent", body: #"{"contents":[]}"#, auth: .googAPIKey)
            #expect(gemini.status == 400 && (gemini.json["error"] as? [String: Any])?["status"] as? String == "INVALID_ARGUMENT")
            #expect(try await harness.ledger(atLeast: 0).isEmpty, "no row for a request refused before admission")
            #expect(harness.switchboard.gateway.stats.malformedRequests == 3)
        }
    }

    /// A $0.01 balance, and requests that ask for a small cap in one field and a
    /// large one in another, or for many answers: the hold covers the worst case,
    /// so spending never passes the balance.
    @Test func holdsCoverTheLargestCapTimesTheAnswersAsked() async throws {
        let price = #"{"input_cost_per_token":0.000001,"output_cost_per_token":0.000002}"#
        try await withHarness(configure: {
            $0.keys[0].policy.balance = Money(dollars: "0.01")
            $0.priceOverrides = Data(#"{"honour-cap":\#(price)}"#.utf8)
        }) { harness in
            let twoCaps = #"{"model":"honour-cap","max_tokens":1,"max_completion_tokens":100000,"messages":[{"role":"user","content":"hi"}]}"#
            let refused = try await harness.send("/v1/chat/completions", body: twoCaps)
            #expect(refused.status == 429 && Self.code(refused) == "insufficient_quota", "100,000 tokens at $2/M cannot fit in $0.01")
            let many = #"{"model":"honour-cap","n":128,"max_tokens":10,"messages":[{"role":"user","content":"hi"}]}"#
            var served = 0
            for _ in 0..<10 where try await harness.send("/v1/chat/completions", body: many).status == 200 { served += 1 }
            let spent = try await harness.ledger(atLeast: served + 1).reduce(Money.zero) { $0 + $1.cost }
            #expect(served >= 1 && spent <= Money(dollars: "0.01")!, "spent \(spent) over \(served) requests")
        }
    }

    /// A translation can ask for more than the client wrote: Anthropic's
    /// thinking budget goes on top of the cap. The hold covers what is sent.
    @Test func theHoldCoversWhatATranslationAsksFor() async throws {
        let price = #"{"input_cost_per_token":0.000001,"output_cost_per_token":0.000002}"#
        let anthropicOnly: (Int) -> [Configuration.AccountDeclaration] = { [Harness.defaultAccounts(fakePort: $0)[1]] }
        try await withHarness(
            accounts: anthropicOnly,
            configure: {
                $0.keys[0].policy.balance = Money(dollars: "0.01")
                $0.priceOverrides = Data(#"{"honour-cap":\#(price)}"#.utf8)
            }
        ) { harness in
            let thinking = #"{"model":"honour-cap","max_tokens":100,"reasoning_effort":"high","messages":[{"role":"user","content":"hi"}]}"#
            let refused = try await harness.send("/v1/chat/completions", body: thinking)
            #expect(refused.status == 429 && Self.code(refused) == "insufficient_quota", "24,676 tokens sent upstream at $2/M do not fit in $0.01")
            let plain = #"{"model":"honour-cap","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}"#
            #expect(try await harness.send("/v1/chat/completions", body: plain).status == 200)
            let spent = try await harness.ledger(atLeast: 2).reduce(Money.zero) { $0 + $1.cost }
            #expect(spent <= Money(dollars: "0.01")!)
        }
    }

    @Test func absurdUsageOnTheDearestModelSaturatesAndNothingTraps() async throws {
        // The dearest output rate in the bundled table, given to the fake's model.
        let table = try PriceTable.bundled()
        let dearest = try #require(table.entries.max { ($0.value.output.base ?? .zero) < ($1.value.output.base ?? .zero) })
        let rate = try #require(dearest.value.output.base)
        let input = dearest.value.input.base ?? rate
        let override = #"{"absurd-usage":{"input_cost_per_token":\#(input.dollarsString),"output_cost_per_token":\#(rate.dollarsString)}}"#
        try await withHarness(configure: {
            $0.priceOverrides = Data(override.utf8)
            $0.keys[0].policy.dailyCost = Money(dollars: "1000000")
        }) { harness in
            for _ in 0..<100 {
                let reply = try await harness.send("/v1/chat/completions", body: Harness.chat("absurd-usage"))
                #expect(reply.status == 200 || reply.status == 429)
            }
            let rows = try await harness.ledger(atLeast: 100)
            let served = rows.filter { $0.status == 200 }
            #expect(!served.isEmpty && served.allSatisfy { $0.usage.output == 1_000_000_000 && $0.cost > .zero })
            // The process lives, the key's numbers saturate, and admins can read them.
            #expect(try await harness.send("/v1/usage", method: .GET).status == 200)
            #expect(try await harness.switchboard.storeContext.store.keyBaselines(now: Date()).first?.value.spent ?? .zero > .zero)
            #expect(try await harness.switchboard.storeContext.store.usageReport(since: nil).total.requests == 100)
        }
    }

    @Test func aTopUpThatWouldOverflowIsRefusedWith400() async throws {
        let token = "admin-token-0123456789abcdef"
        try await withHarness(configure: {
            $0.adminToken = token
            $0.keys[0].policy.balance = Money(dollars: "5")
            $0.users = [UserEntry(id: 0, name: "u", balance: Money(dollars: "9000000"))]
        }) { harness in
            let huge = try await harness.admin("/keys/test-key/topup", method: .POST, body: #"{"amount_usd":"9000000000000000000"}"#, token: token)
            #expect(huge.status == 400)
            // Each top-up fits alone, but not on top of the balance.
            let past = try await harness.admin("/users/u/topup", method: .POST, body: #"{"amount_usd":"9000000"}"#, token: token)
            #expect(past.status == 400 && past.body.contains("not applied"))
            let fine = try await harness.admin("/keys/test-key/topup", method: .POST, body: #"{"amount_usd":"1"}"#, token: token)
            #expect(fine.status == 200 && fine.json["balance_usd"] as? String == "6")
        }
    }

    @Test func aStoredPolicyThatCannotBeReadRefusesItsKey() async throws {
        try await withHarness { harness in
            #expect(try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini")).status == 200)
            let store = try #require(harness.switchboard.storeContext.store as? SQLStore)
            _ = try await store.query("UPDATE keys SET policy = '{\"balance_picos\": 9.3e18, \"concurrency\": \"lots\"}'")
            _ = try await store.query("UPDATE settings SET value = CAST(value AS INTEGER) + 1 WHERE name = 'revision'")
            await harness.switchboard.refresher.refreshIfChanged()
            // The key is refused: never run without its limits.
            var status = 0
            for _ in 0..<100 {
                status = try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini")).status
                if status == 401 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(status == 401)
            let record = try #require(try await store.listKeys().first)
            #expect(record.unreadable != nil && record.state(now: Date()) == "unreadable")
        }
    }
}
