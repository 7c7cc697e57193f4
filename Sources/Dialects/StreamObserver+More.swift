public import SwitchboardCore

/// Responses streams: typed events (`event:` names match `data.type`), no
/// `[DONE]`. The final `response.completed` (or `.incomplete`, or `.failed`)
/// carries the whole response with its usage.
public struct ResponsesStreamObserver: StreamObserver {
    public private(set) var usage: TokenUsage?
    /// The response's id, from `response.created`: a `previous_response_id` later.
    public private(set) var answerID: String?
    public private(set) var completed = false
    public private(set) var upstreamErrorType: String?

    /// Creates an observer.
    public init() {}

    /// The terminal event is the only end; nothing stands in for it.
    public var missingEnd: String? { nil }

    public mutating func observe(_ event: SSEEvent) -> StreamVerdict {
        guard event.hasData else { return .forward }
        // Deltas are most of a stream: decide by the event name without parsing.
        if let name = event.event, !Self.readWhole.contains(name) { return .forward }
        var data = event.data
        data.withUTF8 { bytes in
            let reader = JSONReader(UnsafeRawBufferPointer(bytes))
            guard let root = try? reader.validateDocument(), root.kind == .object,
                let type = reader.member("type", of: root).flatMap(reader.string), Self.readWhole.contains(type)
            else { return }
            if type == "response.created" {
                answerID = reader.value(at: ["response", "id"], in: root).flatMap(reader.string)
                return
            }
            if type == "error" {
                upstreamErrorType = reader.member("code", of: root).flatMap(reader.string) ?? "error"
                return
            }
            if let span = reader.value(at: ["response", "usage"], in: root) { usage = UsageReader.openAIResponses(reader, usage: span) }
            completed = true
            if type == "response.failed" {
                upstreamErrorType = reader.value(at: ["response", "error", "code"], in: root).flatMap(reader.string) ?? "server_error"
            }
        }
        return .forward
    }

    /// The events read whole: the start (for the response id), the ends, and the stream-level `error`.
    static let readWhole: Set<String> = ["response.created", "response.completed", "response.incomplete", "response.failed", "error"]
}

/// Gemini streams: data-only frames, each a whole `GenerateContentResponse`
/// chunk; usage is cumulative and the last chunk has a `finishReason`. An
/// error arrives as a chunk holding only `error`.
public struct GeminiStreamObserver: StreamObserver {
    public private(set) var usage: TokenUsage?
    public private(set) var completed = false
    public private(set) var upstreamErrorType: String?

    /// Creates an observer.
    public init() {}

    /// Gemini streams have no end marker: the finish reason is the end.
    public var missingEnd: String? { nil }

    public mutating func observe(_ event: SSEEvent) -> StreamVerdict {
        guard event.hasData else { return .forward }
        var data = event.data
        data.withUTF8 { bytes in
            let reader = JSONReader(UnsafeRawBufferPointer(bytes))
            guard let root = try? reader.validateDocument(), root.kind == .object else { return }
            if let error = reader.member("error", of: root), error.kind == .object {
                upstreamErrorType = reader.member("status", of: error).flatMap(reader.string) ?? "error"
                return
            }
            if let span = reader.member("usageMetadata", of: root), let found = UsageReader.gemini(reader, usage: span) { usage = found }
            // A prompt blocked by safety settings: no candidates, and nothing more will come.
            if reader.value(at: ["promptFeedback", "blockReason"], in: root) != nil { completed = true }
            if let candidates = reader.member("candidates", of: root), candidates.kind == .array {
                for candidate in reader.elements(of: candidates) where candidate.kind == .object {
                    if let reason = reader.member("finishReason", of: candidate), reason.kind == .string { completed = true }
                }
            }
        }
        return .forward
    }
}
