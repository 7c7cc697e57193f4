import Foundation
import Policy
import SwitchboardCore
import Testing

@Suite struct PriceTableTests {
    func fixture() throws -> PriceTable { try PriceTable(contentsOf: try Fixture.path("prices-fixture.json")) }

    @Test func skipsTheSampleSpecAndReadsEveryRate() throws {
        let table = try fixture()
        #expect(Set(table.entries.keys) == ["test-model-a", "test-model-tiered", "test-model-openai"])
        let a = try #require(table.entries["test-model-a"])
        #expect(a.input.base == Money(dollars: "1e-06"))
        #expect(a.cacheWrite1h.base == Money(dollars: "2e-06"))
    }

    @Test func costIsExactForEveryKindOfToken() throws {
        let price = try #require(try fixture().price(for: "test-model-a"))
        let usage = TokenUsage(inputUncached: 1000, cacheRead: 2000, cacheWrite5m: 300, cacheWrite1h: 400, output: 500)
        // 1000·1e-6 + 2000·1e-7 + 300·1.25e-6 + 400·2e-6 + 500·2e-6 = 0.001 + 0.0002 + 0.000375 + 0.0008 + 0.001
        #expect(price.cost(usage) == Money(dollars: "0.003375"))
    }

    @Test func tiersApplyAboveTheirThreshold() throws {
        let price = try #require(try fixture().price(for: "test-model-tiered"))
        let small = TokenUsage(inputUncached: 200_000, output: 1000)
        #expect(price.cost(small) == Money(dollars: "0.615"))  // 200k·3e-6 + 1000·1.5e-5
        let large = TokenUsage(inputUncached: 150_000, cacheRead: 50_001, output: 1000)
        // prompt 200,001 > 200k: 150k·6e-6 + 50,001·6e-7 + 1000·2.25e-5
        #expect(price.cost(large) == Money(dollars: "0.9525006"))
    }

    @Test func missingCacheRatesFallBack() throws {
        let price = try #require(try fixture().price(for: "test-model-openai"))
        // No cache write rate: writes pay input; no 1h rate: the 5m (here input) rate.
        let usage = TokenUsage(inputUncached: 10, cacheRead: 10, cacheWrite5m: 10, cacheWrite1h: 10, output: 10)
        #expect(price.cost(usage) == Money(dollars: "0.00001125"))  // 10·(1.5e-7·3 + 7.5e-8 + 6e-7)
    }

    /// The table compiled into the binary is the JSON file in the repository
    /// (scripts/update-prices.py writes both): a table updated without
    /// regenerating the Swift file fails here.
    @Test func theCompiledTableIsTheJSONFile() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../Sources/Policy/Resources/model_prices.json")
        let text = try String(contentsOf: file, encoding: .utf8)
        #expect(PriceTable.bundledText + "\n" == text)
    }

    @Test func lookupTriesDatesAndProviderPrefixes() throws {
        let table = try PriceTable.bundled()
        #expect(table.price(for: "claude-sonnet-4-5") != nil)
        #expect(table.price(for: "gpt-4o-mini") != nil)
        #expect(table.price(for: "claude-sonnet-4-5-20990101") == table.price(for: "claude-sonnet-4-5"))
        #expect(table.price(for: "anthropic/claude-sonnet-4-5") == table.price(for: "claude-sonnet-4-5"))
        #expect(table.price(for: "no-such-model") == nil)
    }

    @Test func bundledPricesMatchTheProvidersListPrices() throws {
        let table = try PriceTable.bundled()
        let sonnet = try #require(table.price(for: "claude-sonnet-4-5"))
        #expect(sonnet.input.base == Money(dollars: "3e-06"))
        #expect(sonnet.output.base == Money(dollars: "1.5e-05"))
        #expect(sonnet.cacheRead.base == Money(dollars: "3e-07"))
        #expect(sonnet.cacheWrite5m.base == Money(dollars: "3.75e-06"))
        #expect(sonnet.cacheWrite1h.base == Money(dollars: "6e-06"))
        let mini = try #require(table.price(for: "gpt-4o-mini"))
        #expect(mini.input.base == Money(dollars: "1.5e-07"))
        #expect(mini.output.base == Money(dollars: "6e-07"))
        #expect(table.entries.count > 100)
    }

    @Test func refusesAFileThatIsNotATable() {
        #expect(throws: PriceTable.LoadError.self) { _ = try PriceTable(json: Data("[1,2]".utf8)) }
        #expect(throws: PriceTable.LoadError.self) { _ = try PriceTable(contentsOf: "/nonexistent/prices.json") }
    }
}
