/// Token counts of one request, normalised across dialects.
///
/// Each dialect counts differently (Anthropic's `input_tokens` excludes cache
/// tokens, OpenAI's `prompt_tokens` includes them); adapters convert into this
/// shape so that pricing and the ledger see one meaning.
public struct TokenUsage: Hashable, Sendable {
    /// Input tokens neither read from nor written to a prompt cache.
    public var inputUncached: Int64
    /// Input tokens read from a prompt cache.
    public var cacheRead: Int64
    /// Input tokens written to a cache that lives five minutes.
    public var cacheWrite5m: Int64
    /// Input tokens written to a cache that lives one hour.
    public var cacheWrite1h: Int64
    /// Output tokens, reasoning included.
    public var output: Int64
    /// The part of `output` spent on reasoning, where the upstream reports it.
    public var reasoning: Int64

    /// Creates usage from its parts.
    public init(
        inputUncached: Int64 = 0, cacheRead: Int64 = 0, cacheWrite5m: Int64 = 0,
        cacheWrite1h: Int64 = 0, output: Int64 = 0, reasoning: Int64 = 0
    ) {
        self.inputUncached = inputUncached
        self.cacheRead = cacheRead
        self.cacheWrite5m = cacheWrite5m
        self.cacheWrite1h = cacheWrite1h
        self.output = output
        self.reasoning = reasoning
    }

    /// No tokens.
    public static let zero = TokenUsage()

    /// Every input token, cached or not: the prompt size the pricing tiers look at.
    public var totalInput: Int64 { inputUncached.saturatingAdd(cacheRead).saturatingAdd(cacheWrite5m).saturatingAdd(cacheWrite1h) }

    /// Input and output together.
    public var total: Int64 { totalInput.saturatingAdd(output) }
}

extension Int64 {
    /// The sum, held at the bounds instead of trapping: counts from outside never overflow.
    public func saturatingAdd(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }

    /// The difference, held at the bounds instead of trapping.
    public func saturatingSubtract(_ other: Int64) -> Int64 {
        let (difference, overflow) = subtractingReportingOverflow(other)
        return overflow ? (other < 0 ? .max : .min) : difference
    }

    /// The product, held at the bounds instead of trapping.
    public func saturatingMultiply(_ other: Int64) -> Int64 {
        let (product, overflow) = multipliedReportingOverflow(by: other)
        return overflow ? ((self < 0) != (other < 0) ? .min : .max) : product
    }
}

/// What usage costs, class by class, at list price: the classes sum to the
/// whole (`total`), each exact in picodollars.
public struct TokenCosts: Sendable, Equatable {
    public var input: Money
    public var cacheRead: Money
    public var cacheWrite5m: Money
    public var cacheWrite1h: Money
    /// Output, reasoning included.
    public var output: Money
    /// What the cache reads saved: the same tokens at the uncached input rate,
    /// less `cacheRead` (never below zero). Not a cost, so not in `total`.
    public var cacheSaved: Money

    public init(
        input: Money = .zero, cacheRead: Money = .zero, cacheWrite5m: Money = .zero, cacheWrite1h: Money = .zero, output: Money = .zero,
        cacheSaved: Money = .zero
    ) {
        self.input = input
        self.cacheRead = cacheRead
        self.cacheWrite5m = cacheWrite5m
        self.cacheWrite1h = cacheWrite1h
        self.output = output
        self.cacheSaved = cacheSaved
    }

    /// Nothing.
    public static let zero = TokenCosts()

    /// The classes together.
    public var total: Money { input + cacheRead + cacheWrite5m + cacheWrite1h + output }
}
