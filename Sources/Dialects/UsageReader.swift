public import SwitchboardCore

/// Reads token usage from each dialect's usage object and normalises it.
public enum UsageReader {
    /// The most tokens one request is taken to report: upstreams are not trusted
    /// with the arithmetic (a negative or huge count must not trap or overflow a cost).
    static let maxCount: Int64 = 1_000_000_000

    /// A token count as reported, within 0…`maxCount`: an absurd or oddly
    /// written one (`1e15`, `-5`, `3.0`) saturates rather than reading as none.
    static func count(_ reader: JSONReader, _ span: JSONSpan) -> Int64? {
        reader.saturatingInt64(span).map { min(max($0, 0), maxCount) }
    }

    /// OpenAI Chat usage: `prompt_tokens` includes cached tokens, `completion_tokens`
    /// includes reasoning.
    public static func openAIChat(_ reader: JSONReader, usage: JSONSpan) -> TokenUsage? {
        guard usage.kind == .object else { return nil }
        func int(_ name: String, _ inner: String? = nil) -> Int64 {
            reader.value(name, inner, in: usage).flatMap { count(reader, $0) } ?? 0
        }
        let prompt = int("prompt_tokens")
        let cached = int("prompt_tokens_details", "cached_tokens")
        let written = int("prompt_tokens_details", "cache_write_tokens")
        return TokenUsage(
            inputUncached: max(0, prompt - cached - written),
            cacheRead: cached,
            cacheWrite5m: written,
            output: int("completion_tokens"),
            reasoning: int("completion_tokens_details", "reasoning_tokens"))
    }

    /// OpenAI Responses usage: `input_tokens` includes cached tokens, `output_tokens`
    /// includes reasoning.
    public static func openAIResponses(_ reader: JSONReader, usage: JSONSpan) -> TokenUsage? {
        guard usage.kind == .object else { return nil }
        func int(_ name: String, _ inner: String? = nil) -> Int64 {
            reader.value(name, inner, in: usage).flatMap { count(reader, $0) } ?? 0
        }
        let input = int("input_tokens")
        let cached = int("input_tokens_details", "cached_tokens")
        return TokenUsage(
            inputUncached: max(0, input - cached), cacheRead: cached,
            output: int("output_tokens"), reasoning: int("output_tokens_details", "reasoning_tokens"))
    }

    /// Gemini `usageMetadata`: `promptTokenCount` includes cached content; tool-use
    /// prompt tokens are extra input and thoughts extra output.
    public static func gemini(_ reader: JSONReader, usage: JSONSpan) -> TokenUsage? {
        guard usage.kind == .object else { return nil }
        func int(_ name: String) -> Int64 { reader.member(name, of: usage).flatMap { count(reader, $0) } ?? 0 }
        let prompt = int("promptTokenCount") + int("toolUsePromptTokenCount")
        let cached = int("cachedContentTokenCount")
        let thoughts = int("thoughtsTokenCount")
        return TokenUsage(
            inputUncached: max(0, prompt - cached), cacheRead: cached,
            output: int("candidatesTokenCount") + thoughts, reasoning: thoughts)
    }

    /// Anthropic usage as reported, with every field optional: stream events report
    /// parts, and a later event's fields replace an earlier one's.
    public struct AnthropicParts: Sendable, Equatable {
        public var input: Int64?
        public var cacheRead: Int64?
        public var cacheCreation: Int64?
        public var cacheCreation5m: Int64?
        public var cacheCreation1h: Int64?
        public var output: Int64?

        /// No parts seen yet.
        public init() {}

        /// Takes every field `later` reports.
        public mutating func merge(_ later: AnthropicParts) {
            input = later.input ?? input
            cacheRead = later.cacheRead ?? cacheRead
            cacheCreation = later.cacheCreation ?? cacheCreation
            cacheCreation5m = later.cacheCreation5m ?? cacheCreation5m
            cacheCreation1h = later.cacheCreation1h ?? cacheCreation1h
            output = later.output ?? output
        }

        /// The normalised usage. `input_tokens` already excludes cache tokens; the
        /// 5-minute/1-hour split is used when reported, else every write counts as 5-minute.
        public var usage: TokenUsage {
            let split = (cacheCreation5m ?? 0) + (cacheCreation1h ?? 0)
            let total = cacheCreation ?? split
            let oneHour = cacheCreation1h ?? 0
            return TokenUsage(
                inputUncached: input ?? 0,
                cacheRead: cacheRead ?? 0,
                cacheWrite5m: max(0, total - oneHour),
                cacheWrite1h: oneHour,
                output: output ?? 0)
        }
    }

    /// Reads an Anthropic usage object into parts.
    public static func anthropicParts(_ reader: JSONReader, usage: JSONSpan) -> AnthropicParts {
        var parts = AnthropicParts()
        guard usage.kind == .object else { return parts }
        func int(_ name: String, _ inner: String? = nil) -> Int64? { reader.value(name, inner, in: usage).flatMap { count(reader, $0) } }
        parts.input = int("input_tokens")
        parts.cacheRead = int("cache_read_input_tokens")
        parts.cacheCreation = int("cache_creation_input_tokens")
        parts.cacheCreation5m = int("cache_creation", "ephemeral_5m_input_tokens")
        parts.cacheCreation1h = int("cache_creation", "ephemeral_1h_input_tokens")
        parts.output = int("output_tokens")
        return parts
    }

    /// Usage from a complete (non-streamed) response body in the given dialect.
    public static func fromResponseBody(_ bytes: UnsafeRawBufferPointer, dialect: Dialect) -> TokenUsage? {
        answer(bytes, dialect: dialect).usage
    }

    /// Usage and the answer's own `id` from a complete response body, in one pass.
    public static func answer(_ bytes: UnsafeRawBufferPointer, dialect: Dialect) -> (usage: TokenUsage?, id: String?) {
        let reader = JSONReader(bytes)
        guard let root = try? reader.validateDocument() else { return (nil, nil) }
        let id = reader.member("id", of: root).flatMap(reader.string)
        guard let span = reader.member(dialect == .gemini ? "usageMetadata" : "usage", of: root) else { return (nil, id) }
        return (normalised(reader, usage: span, dialect: dialect), id)
    }

    /// A dialect's usage object as normalised usage.
    private static func normalised(_ reader: JSONReader, usage: JSONSpan, dialect: Dialect) -> TokenUsage? {
        switch dialect {
        case .openAIChat: return openAIChat(reader, usage: usage)
        case .openAIResponses: return openAIResponses(reader, usage: usage)
        case .gemini: return gemini(reader, usage: usage)
        case .anthropicMessages:
            guard usage.kind == .object else { return nil }
            return anthropicParts(reader, usage: usage).usage
        }
    }
}
