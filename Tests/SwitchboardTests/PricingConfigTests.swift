import Engine
import Foundation
import NIOHTTP1
import Storage
import SwitchboardApp
import SwitchboardCore
import SwitchboardTesting
import Testing

/// Prices from the config file, and what happens to models without one.
@Suite struct PricingConfigTests {
    @Test func aConfigPriceOverridesTheTableExactly() async throws {
        let config = try loadConfiguration(
            """
            prices:
              echo: {input_cost_per_token: 1.0e-06, output_cost_per_token: 2.0e-06}
            """)
        try await withHarness(configure: { $0.priceOverrides = config.priceOverrides }) { harness in
            let reply = try await harness.send("/v1/chat/completions", body: Harness.chat("echo"))
            let row = try await harness.row(reply.headers.first(name: "x-request-id"))
            // 21 prompt tokens at $1/M and 9 output tokens at $2/M.
            #expect(row.priced && row.cost == Money(picos: 21 * 1_000_000 + 9 * 2_000_000))
            #expect(harness.switchboard.gateway.unpricedRequests == 0)
        }
    }

    @Test func unpricedModelsAreServedAtZeroAndCountedUnlessRefused() async throws {
        try await withHarness { harness in
            let reply = try await harness.send("/v1/chat/completions", body: Harness.chat("echo"))
            #expect(reply.status == 200)
            let row = try await harness.row(reply.headers.first(name: "x-request-id"))
            #expect(!row.priced && row.cost == .zero)
            #expect(harness.switchboard.gateway.unpricedRequests == 1)
        }
        try await withHarness(configure: { $0.refuseUnpriced = true }) { harness in
            let refused = try await harness.send("/v1/chat/completions", body: Harness.chat("echo"))
            #expect(refused.status == 400)
            #expect(harness.fake.received.isEmpty)
            #expect(try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini")).status == 200)
        }
    }

    @Test func badPriceEntriesAreRefusedAtLoad() {
        #expect(throws: ConfigurationError.self) { try loadConfiguration("prices: {m: {colour: blue}}") }
    }
}
