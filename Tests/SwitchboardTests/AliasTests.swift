import Engine
import Foundation
import NIOHTTP1
import Policy
import Storage
import SwitchboardApp
import SwitchboardCore
import SwitchboardTesting
import Testing

/// Model aliases (`models:`): ordered fallbacks, weighted shares, skipped
/// targets, their own failover limit; from the config file and the admin API.
@Suite struct AliasTests {
    static let token = "admin-token-0123456789abcdef"

    static func alias(_ name: String, _ json: String) throws -> ModelAlias {
        try AliasSettings.alias(name, try #require(try? JSONDecoder().decode(JSONValue.self, from: Data(json.utf8))))
    }

    func models(_ harness: Harness) -> [String] { harness.fake.received.map { $0.body["model"] as? String ?? "" } }

    @Test func anOrderedAliasFallsBackToTheNextTargetWhenEveryAccountOfTheFirstFails() async throws {
        try await withHarness(configure: { config in
            config.aliases = [try! Self.alias("fast", #"["fail-500", "gpt-4o-mini"]"#)]
        }) { harness in
            let reply = try await harness.send("/v1/chat/completions", body: Harness.chat("fast"))
            #expect(reply.status == 200)
            #expect(reply.json["model"] as? String == "gpt-4o-mini", "an answer relayed as is names the model that served")
            // fail-500 on the OpenAI account, then (translated) on the Anthropic one; then the fallback model.
            #expect(models(harness) == ["fail-500", "fail-500", "gpt-4o-mini"])
            let row = try await harness.row(reply.headers.first(name: "x-request-id"))
            #expect(row.model == "fast" && row.upstreamModel == "gpt-4o-mini" && row.attempts == 3 && row.accountName == "openai-1")
            // The first target serves when it can.
            harness.fake.reset()
            #expect(try await harness.send("/v1/chat/completions", body: Harness.chat("fast")).status == 200)
            #expect(models(harness).first == "fail-500")
        }
    }

    @Test func anAliasIsPricedByItsTargetWhenTheUpstreamNameHasNoPrice() async throws {
        try await withHarness(
            accounts: { port in [Harness.defaultAccounts(fakePort: port)[0].with(modelMap: ["gpt-4o-mini": "vendor/unpriced-mini"])] },
            configure: { config in config.aliases = [try! Self.alias("cheap", #"["gpt-4o-mini"]"#)] }
        ) { harness in
            let reply = try await harness.send("/v1/chat/completions", body: Harness.chat("cheap"))
            let row = try await harness.row(reply.headers.first(name: "x-request-id"))
            #expect(row.upstreamModel == "vendor/unpriced-mini" && row.priced && row.cost > .zero, "gpt-4o-mini's price, not none")
        }
    }

    @Test func anAliasesOwnFailoverLimitCapsItsAttempts() async throws {
        try await withHarness(configure: { config in
            config.aliases = [try! Self.alias("strict", #"{"targets": ["fail-500", "gpt-4o-mini"], "max_failovers": 0}"#)]
        }) { harness in
            let reply = try await harness.send("/v1/chat/completions", body: Harness.chat("strict"))
            #expect(reply.status >= 500)
            #expect(models(harness) == ["fail-500"], "one attempt, no failover")
        }
    }

    @Test func weightedTargetsShareTrafficInProportion() async throws {
        try await withHarness(configure: { config in
            config.aliases = [try! Self.alias("split", #"[{"model": "gpt-4o-mini", "weight": 3}, {"model": "claude-sonnet-4-5", "weight": 1}]"#)]
        }) { harness in
            for _ in 0..<200 {
                let reply = try await harness.send("/v1/chat/completions", body: Harness.chat("split"))
                #expect(reply.status == 200)
            }
            let served = models(harness)
            #expect(served.filter { $0 == "gpt-4o-mini" }.count == 150 && served.filter { $0 == "claude-sonnet-4-5" }.count == 50)
        }
        let rotation = AliasRotation()
        let alias = try Self.alias("r", #"[{"model": "a", "weight": 3}, {"model": "b", "weight": 1}]"#)
        let firsts = (0..<8).map { _ in rotation.order(alias).first!.model }
        #expect(firsts == ["a", "a", "b", "a", "a", "a", "b", "a"], "smooth: the lighter target is not left to the end")
        #expect(rotation.order(alias).map(\.model).count == 2, "the other target stays a fallback")
    }

    @Test func aFallbackWhoseContextWindowIsTooSmallIsSkippedWithTheReasonRecorded() async throws {
        try await withHarness(
            accounts: { port in
                Harness.defaultAccounts(fakePort: port).map { $0.with(models: $0.models + ["tiny-window"]) }
            },
            configure: { config in
                config.aliases = [try! Self.alias("long", #"["fail-500", "tiny-window", "gpt-4o-mini"]"#)]
                config.priceOverrides = Data(
                    #"{"tiny-window": {"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06, "max_input_tokens": 20}}"#.utf8)
            }
        ) { harness in
            let prompt = String(repeating: "a long prompt ", count: 40)
            let body = #"{"model":"long","messages":[{"role":"user","content":"\#(prompt)"}]}"#
            let reply = try await harness.send("/v1/chat/completions", body: body)
            #expect(reply.status == 200)
            #expect(!models(harness).contains("tiny-window"))
            let row = try await harness.row(reply.headers.first(name: "x-request-id"))
            #expect(row.route?.contains("tiny-window=context(") == true, "route: \(row.route ?? "")")
            #expect(row.upstreamModel == "gpt-4o-mini")
        }
    }

    @Test func aliasesAreListedAndManagedThroughTheAdminAPI() async throws {
        try await withHarness(configure: { $0.adminToken = Self.token }) { harness in
            let set = try await harness.admin(
                "/models/fast", method: .PUT, body: #"{"targets": ["gpt-4o-mini", {"model": "claude-sonnet-4-5", "weight": 2}]}"#, token: Self.token)
            #expect(set.status == 200)
            let targets = set.json["targets"] as? [[String: Any]] ?? []
            #expect(targets.map { $0["weight"] as? Int } == [1, 2], "weights on some targets: the others share at 1")
            let listed = try await harness.send("/v1/models", method: .GET)
            let ids = (listed.json["data"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            #expect(ids.contains("fast"))
            #expect(try await harness.send("/v1/chat/completions", body: Harness.chat("fast")).status == 200)
            for bad in [
                #"{"targets": []}"#, #"{"targets": ["bad"]}"#, #"{"targets": ["a", "a"]}"#, #"{"targets": ["a*"]}"#, #"{"targets": ["a"], "x": 1}"#,
            ] {
                let refused = try await harness.admin("/models/bad", method: .PUT, body: bad, token: Self.token)
                #expect(refused.status == 400, "\(bad): \(refused.status) \(refused.body)")
            }
            #expect(try await harness.admin("/models/fast", method: .DELETE, token: Self.token).status == 204)
            #expect(try await harness.send("/v1/chat/completions", body: Harness.chat("fast")).status == 404)
            #expect(try await harness.admin("/models/fast", method: .DELETE, token: Self.token).status == 404)
        }
    }

    @Test func theConfigFileDeclaresAliases() throws {
        let config = try loadConfiguration(
            """
            models:
              fast: [gpt-4o-mini, claude-haiku-4-5]
              split:
                targets: [{model: a, weight: 3}, b]
                max_failovers: 1
            """, environment: [:])
        #expect(config.aliases.map(\.name) == ["fast", "split"])
        #expect(config.aliases[1].targets == [.init(model: "a", weight: 3), .init(model: "b", weight: 1)] && config.aliases[1].maxFailovers == 1)
        #expect(throws: (any Error).self) { try loadConfiguration("models:\n  x: []\n", environment: [:]) }
    }
}
