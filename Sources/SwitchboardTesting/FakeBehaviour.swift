/// How the fake upstream answers, chosen by the model name it receives, so a
/// test picks a failure by asking for a model.
public enum FakeBehaviour: Equatable, Sendable {
    /// A normal answer.
    case normal
    /// A normal answer whose usage includes prompt-cache tokens.
    case cached
    /// A normal answer whose text is a JSON summary of what the fake received.
    case echo
    /// An error status in the provider's format (401, 429 with Retry-After, 500, 529, 400).
    case status(Int)
    /// Waits before sending the response head.
    case slowFirstByte(milliseconds: Int)
    /// Sends the first stream event, then breaks the connection.
    case dropAfterFirstChunk
    /// Ends the stream cleanly before its usage and end marker.
    case truncatedStream
    /// Sends every event but the very last (OpenAI's `[DONE]`, Anthropic's `message_stop`).
    case noEndMarker
    /// Sends one event and half of the next, then breaks the connection.
    case cutMidEvent
    /// Sends a few events, then goes silent for a long time.
    case stallMidStream(milliseconds: Int)
    /// Answers 200 but the stream's first event is an overloaded error.
    case errorFirstStream
    /// Answers 200 but the stream's first event says the request was invalid (the caller's fault).
    case invalidFirstStream
    /// Streams many events with a pause between them (for slow and gone clients).
    case slowStream(events: Int, pauseMilliseconds: Int)
    /// Streams many large events as fast as the reader takes them (for backpressure).
    case bigStream(events: Int, bytesPerEvent: Int)
    /// Sends the first event, then holds the stream open until the test calls
    /// `FakeUpstream.releaseHeld()` (or 30 s pass): a slot held for exactly as long as a test needs.
    case held
    /// Reports as many output tokens as the request allowed: the largest of
    /// `max_tokens` and `max_completion_tokens`, times `n`.
    case honourCap
    /// Reports `1e15` input and output tokens, written in exponent form.
    case absurdUsage
    /// Refuses as a provider does for a suspended or disabled account (each provider's own status and words).
    case banned

    /// The behaviour a model name asks for.
    public init(model: String) {
        switch model {
        case let m where m.hasSuffix("-cached"): self = .cached
        case "echo": self = .echo
        case "fail-400": self = .status(400)
        case "fail-401": self = .status(401)
        case "fail-402": self = .status(402)
        case "fail-404": self = .status(404)
        case "fail-429": self = .status(429)
        case "fail-500": self = .status(500)
        case "fail-529": self = .status(529)
        case "slow-first-byte": self = .slowFirstByte(milliseconds: 10_000)
        case "drop-after-first-chunk": self = .dropAfterFirstChunk
        case "truncated-stream": self = .truncatedStream
        case "no-end-marker": self = .noEndMarker
        case "cut-mid-event": self = .cutMidEvent
        case "stall-mid-stream": self = .stallMidStream(milliseconds: 5_000)
        case "error-first-stream": self = .errorFirstStream
        case "invalid-first-stream": self = .invalidFirstStream
        case "slow-stream": self = .slowStream(events: 200, pauseMilliseconds: 20)
        case "short-slow-stream": self = .slowStream(events: 20, pauseMilliseconds: 50)
        // Two minutes, an event a second: `LONG_STREAMS=N bench/run.sh`.
        case "long-stream": self = .slowStream(events: 120, pauseMilliseconds: 1_000)
        case "big-stream": self = .bigStream(events: 200_000, bytesPerEvent: 2_500)
        case "held-stream": self = .held
        case "honour-cap": self = .honourCap
        case "absurd-usage": self = .absurdUsage
        case "banned-account": self = .banned
        default: self = .normal
        }
    }
}

/// The usage the fake reports, fixed so tests can assert exact ledger rows.
public enum FakeUsage {
    /// Prompt tokens (all of them, cached included) and output tokens.
    public static let prompt: Int64 = 21
    public static let output: Int64 = 9
    /// For `-cached` models: tokens read from and written to the cache.
    public static let cacheRead: Int64 = 100
    public static let cacheWrite5m: Int64 = 30
    public static let cacheWrite1h: Int64 = 20
    /// The words of every answer; streams send one per event.
    public static let words = ["Hello", " from", " the", " fake", " upstream", "."]
    /// The whole answer text.
    public static var text: String { words.joined() }
}
