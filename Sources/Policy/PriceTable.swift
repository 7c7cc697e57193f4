import Foundation
import SwitchboardCore

/// Model prices, read from a file in the format of LiteLLM's
/// `model_prices_and_context_window.json`.
public struct PriceTable: Sendable {
    /// Prices by the table's own key.
    public private(set) var entries: [String: ModelPrice]

    /// A table with the given entries.
    public init(entries: [String: ModelPrice] = [:]) { self.entries = entries }

    /// Why a price file could not be used.
    public struct LoadError: Error, CustomStringConvertible {
        public var description: String
    }

    /// The table bundled with Switchboard (compiled into the binary).
    public static func bundled() throws -> PriceTable {
        try PriceTable(json: Data(BundledPrices.json.utf8))
    }

    /// The bundled table's text, as compiled in.
    public static var bundledText: String { BundledPrices.json }

    /// Reads a table from a file.
    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LoadError(description: "cannot read the price file at \(path)")
        }
        try self.init(json: data)
    }

    /// Reads a table from JSON text. Entries without any per-token price (and
    /// LiteLLM's `sample_spec`) are skipped; non-price fields are ignored.
    public init(json: Data) throws {
        guard let root = try? JSONSerialization.jsonObject(with: json) as? [String: Any] else {
            throw LoadError(description: "the price file is not a JSON object")
        }
        var entries: [String: ModelPrice] = [:]
        for (name, value) in root where name != "sample_spec" {
            guard let fields = value as? [String: Any], let price = Self.price(from: fields) else { continue }
            entries[name] = price
        }
        self.entries = entries
    }

    /// This table with `overrides` replacing or adding entries (per-model prices
    /// from the config file).
    public func overriding(with overrides: PriceTable) -> PriceTable {
        PriceTable(
            entries: entries.merging(overrides.entries) { old, new in
                var merged = new
                merged.maxOutputTokens = new.maxOutputTokens ?? old.maxOutputTokens
                merged.maxInputTokens = new.maxInputTokens ?? old.maxInputTokens
                return merged
            })
    }

    /// The price for a model: the exact name, then without a `-YYYYMMDD` date
    /// suffix, then prefixed with the provider (`gemini/…`), then without a
    /// provider prefix the client may have added.
    public func price(for model: String, provider: Provider? = nil) -> ModelPrice? {
        // The name as given first (what most requests send): the other spellings cost allocations.
        if let price = entries[model] { return price }
        for candidate in Self.lookupNames(model, provider: provider).dropFirst() {
            if let price = entries[candidate] { return price }
        }
        return nil
    }

    static func lookupNames(_ model: String, provider: Provider?) -> [String] {
        var names = [model]
        if let undated = stripDateSuffix(model) { names.append(undated) }
        if let provider {
            names += names.map { "\(provider.rawValue)/\($0)" }
        }
        if let slash = model.firstIndex(of: "/") {
            let bare = String(model[model.index(after: slash)...])
            names.append(bare)
            if let undated = stripDateSuffix(bare) { names.append(undated) }
        }
        return names
    }

    /// `claude-sonnet-4-5-20250929` → `claude-sonnet-4-5`.
    static func stripDateSuffix(_ model: String) -> String? {
        let utf8 = Array(model.utf8)
        guard utf8.count > 9, utf8[utf8.count - 9] == UInt8(ascii: "-"),
            utf8[(utf8.count - 8)...].allSatisfy({ $0 >= 48 && $0 <= 57 })
        else { return nil }
        return String(decoding: utf8[..<(utf8.count - 9)], as: UTF8.self)
    }

    /// The rate field names, mapped to where they go.
    private static var rateFields: [(String, WritableKeyPath<ModelPrice, ModelPrice.Rate>)] {
        [
            ("input_cost_per_token", \.input),
            ("output_cost_per_token", \.output),
            ("cache_read_input_token_cost", \.cacheRead),
            ("cache_creation_input_token_cost_above_1hr", \.cacheWrite1h),
            ("cache_creation_input_token_cost", \.cacheWrite5m),
            ("output_cost_per_reasoning_token", \.reasoning),
        ]
    }

    static func price(from fields: [String: Any]) -> ModelPrice? {
        var price = ModelPrice()
        var found = false
        for (key, value) in fields {
            // A negative price would pay clients for using the model: not a price.
            guard let number = value as? NSNumber, !(value is Bool), let money = Money(dollars: number.doubleValue), money >= .zero else {
                continue
            }
            guard let (path, threshold) = rateTarget(for: key) else { continue }
            found = true
            if let threshold {
                price[keyPath: path].tiers.append(.init(aboveTokens: threshold, price: money))
                price[keyPath: path].tiers.sort { $0.aboveTokens < $1.aboveTokens }
            } else {
                price[keyPath: path].base = money
            }
        }
        // The model's own output ceiling, for holding requests that name none.
        for name in ["max_output_tokens", "max_tokens"] {
            if let number = fields[name] as? NSNumber, !(fields[name] is Bool) {
                let value = number.doubleValue
                if value >= 1, value <= 1e9 { price.maxOutputTokens = Int64(value) }
                break
            }
        }
        if let number = fields["max_input_tokens"] as? NSNumber, !(fields["max_input_tokens"] is Bool) {
            let value = number.doubleValue
            if value >= 1, value <= 1e10 { price.maxInputTokens = Int64(value) }
        }
        return found ? price : nil
    }

    /// Maps `input_cost_per_token` or `input_cost_per_token_above_200k_tokens` to
    /// its rate and threshold; service-tier variants (`_batches`, `_priority`, …)
    /// are not standard-tier prices and map to nothing.
    static func rateTarget(for key: String) -> (WritableKeyPath<ModelPrice, ModelPrice.Rate>, Int64?)? {
        for (field, path) in rateFields where key.hasPrefix(field) {
            let rest = key.dropFirst(field.count)
            if rest.isEmpty { return (path, nil) }
            guard rest.hasPrefix("_above_"), rest.hasSuffix("k_tokens") else { continue }
            let number = rest.dropFirst("_above_".count).dropLast("k_tokens".count)
            guard let thousands = Int64(number), case (let tokens, false) = thousands.multipliedReportingOverflow(by: 1000) else { continue }
            return (path, tokens)
        }
        return nil
    }
}
