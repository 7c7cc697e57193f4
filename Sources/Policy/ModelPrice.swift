import SwitchboardCore

/// What one model costs per token, in exact picodollars, with its context tiers.
public struct ModelPrice: Sendable, Equatable {
    /// One per-token rate and the higher rates that apply above prompt-size thresholds.
    public struct Rate: Sendable, Equatable {
        /// The rate for prompts up to the first threshold.
        public var base: Money?
        /// `(threshold in tokens, rate)` pairs, ascending: a prompt larger than the
        /// threshold pays that rate (LiteLLM's `*_above_200k_tokens` fields).
        public var tiers: [Tier]

        /// A threshold and its rate.
        public struct Tier: Sendable, Equatable {
            public var aboveTokens: Int64
            public var price: Money
        }

        /// Creates a rate.
        public init(base: Money? = nil, tiers: [Tier] = []) {
            self.base = base
            self.tiers = tiers
        }

        /// The rate for a prompt of the given size, or nil when none is listed.
        public func at(promptTokens: Int64) -> Money? {
            tiers.last { promptTokens > $0.aboveTokens }?.price ?? base
        }

        var isEmpty: Bool { base == nil && tiers.isEmpty }
    }

    /// Uncached input.
    public var input = Rate()
    /// Output.
    public var output = Rate()
    /// Cache reads; input's rate when not listed.
    public var cacheRead = Rate()
    /// Five-minute cache writes; input's rate when not listed.
    public var cacheWrite5m = Rate()
    /// One-hour cache writes; the five-minute rate when not listed.
    public var cacheWrite1h = Rate()
    /// Reasoning output, where it is priced apart from other output.
    public var reasoning = Rate()
    /// The most output tokens the model writes in one answer, where the table says.
    public var maxOutputTokens: Int64?
    /// The most prompt tokens the model takes (its context window for input), where the table says.
    public var maxInputTokens: Int64?

    /// Creates an empty price.
    public init() {}

    /// The exact cost of the given usage.
    ///
    /// uncached·input + read·cache_read + w5m·creation + w1h·creation_1h + output,
    /// each at the tier the prompt size reaches; reasoning tokens pay their own rate
    /// only when the table lists one, else they are output.
    public func cost(_ usage: TokenUsage) -> Money { costs(usage).total }

    /// The exact cost of the given usage, class by class (reasoning counts as output),
    /// and what its cache reads saved.
    public func costs(_ usage: TokenUsage) -> TokenCosts {
        let prompt = usage.totalInput
        let inputRate = input.at(promptTokens: prompt) ?? .zero
        let readRate = cacheRead.at(promptTokens: prompt) ?? inputRate
        let write5mRate = cacheWrite5m.at(promptTokens: prompt) ?? inputRate
        let write1hRate = cacheWrite1h.at(promptTokens: prompt) ?? write5mRate
        let outputRate = output.at(promptTokens: prompt) ?? .zero
        var costs = TokenCosts(
            input: inputRate.times(usage.inputUncached), cacheRead: readRate.times(usage.cacheRead),
            cacheWrite5m: write5mRate.times(usage.cacheWrite5m), cacheWrite1h: write1hRate.times(usage.cacheWrite1h))
        costs.cacheSaved = max(.zero, inputRate.times(usage.cacheRead) - costs.cacheRead)
        if let reasoningRate = reasoning.at(promptTokens: prompt), usage.reasoning > 0 {
            let reasoningTokens = min(usage.reasoning, usage.output)
            costs.output = reasoningRate.times(reasoningTokens) + outputRate.times(usage.output - reasoningTokens)
        } else {
            costs.output = outputRate.times(usage.output)
        }
        return costs
    }
}
