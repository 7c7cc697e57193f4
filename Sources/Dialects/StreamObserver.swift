import Foundation
public import NIOCore
public import SwitchboardCore

/// What a relay does with one upstream event.
public enum StreamVerdict: Sendable, Equatable {
    /// Send it to the client as it arrived.
    case forward
    /// Keep it from the client (the gateway asked for it, the client did not).
    case drop
    /// Send these bytes instead (a translated stream; possibly none).
    case replace(ByteBuffer)
}

/// Watches a same-dialect stream go by: collects usage, notices the end and
/// in-stream errors, and says which events the client should not see.
public protocol StreamObserver: Sendable {
    /// Looks at one event and says whether to forward it.
    mutating func observe(_ event: SSEEvent) -> StreamVerdict
    /// The usage reported so far, if any.
    var usage: TokenUsage? { get }
    /// Whether the stream's own end marker was seen.
    var completed: Bool { get }
    /// The error type an upstream reported inside the stream, if any (no message).
    var upstreamErrorType: String? { get }
    /// An end marker the client still needs when the upstream ended the stream
    /// without its own (nil when none is missing).
    var missingEnd: String? { get }
    /// The id the upstream gave the answer, where later requests can name it.
    var answerID: String? { get }
}

extension StreamObserver {
    public var answerID: String? { nil }
}

/// Makes the observer for a dialect.
public func makeStreamObserver(for request: ClientRequest) -> any StreamObserver {
    switch request.dialect {
    case .openAIChat: return OpenAIChatStreamObserver(clientWantsUsage: request.clientWantsUsage)
    case .anthropicMessages: return AnthropicStreamObserver()
    case .openAIResponses: return ResponsesStreamObserver()
    case .gemini: return GeminiStreamObserver()
    }
}

/// Chat Completions streams: data-only events ending in `data: [DONE]`.
///
/// The gateway always asks upstream for `include_usage`; when the client did not,
/// the extra usage chunk (empty `choices`) is read and dropped, because clients
/// index `choices[0]`.
public struct OpenAIChatStreamObserver: StreamObserver {
    let clientWantsUsage: Bool
    public private(set) var usage: TokenUsage?
    public private(set) var completed = false
    public private(set) var upstreamErrorType: String?
    /// Whether `data: [DONE]` itself arrived.
    private var sawDone = false

    /// Creates an observer.
    public init(clientWantsUsage: Bool) { self.clientWantsUsage = clientWantsUsage }

    /// The usage chunk comes last, after the finish reason; an upstream that then
    /// closes without `[DONE]` finished its answer, and the client gets the marker.
    public var missingEnd: String? { completed && !sawDone ? "data: [DONE]\n\n" : nil }

    public mutating func observe(_ event: SSEEvent) -> StreamVerdict {
        guard event.hasData else { return .forward }
        if event.data == "[DONE]" {
            completed = true
            sawDone = true
            return .forward
        }
        var data = event.data
        return data.withUTF8 { bytes in
            let raw = UnsafeRawBufferPointer(bytes)
            // Most chunks carry `"usage":null` and no error: skip parsing them.
            guard Self.mayHaveObject(namedOneOf: Self.usageOrError, in: raw) else {
                return .forward
            }
            let reader = JSONReader(raw)
            guard let root = try? reader.validateDocument(), root.kind == .object else { return .forward }
            if let error = reader.member("error", of: root), error.kind == .object {
                upstreamErrorType = reader.member("type", of: error).flatMap(reader.string) ?? "error"
                return .forward
            }
            guard let usageSpan = reader.member("usage", of: root), usageSpan.kind == .object else { return .forward }
            usage = UsageReader.openAIChat(reader, usage: usageSpan)
            let choices = reader.member("choices", of: root)
            let usageOnly = choices.map { reader.isEmptyContainer($0) } ?? true
            if usageOnly { completed = true }
            return usageOnly && !clientWantsUsage ? .drop : .forward
        }
    }
}

extension OpenAIChatStreamObserver {
    static let usageOrError: [StaticString] = ["usage", "error"]

    /// Whether a member named one of `names` holds an object anywhere in the
    /// text (one pass, `MemberScanner`). A top-level one always matches, so a
    /// miss proves there is none; a nested one only costs a full parse.
    static func mayHaveObject(namedOneOf names: [StaticString], in bytes: UnsafeRawBufferPointer) -> Bool {
        var scanner = MemberScanner(bytes)
        while let member = scanner.next() {
            if scanner.holdsObject(member), scanner.name(of: member, isOneOf: names) { return true }
        }
        return false
    }
}

/// Messages streams: named events from `message_start` to `message_stop`.
/// Input and cache counts come with `message_start`; the last `message_delta`
/// carries the final (cumulative) output count.
public struct AnthropicStreamObserver: StreamObserver {
    private var parts = UsageReader.AnthropicParts()
    private var sawUsage = false
    public private(set) var completed = false
    public private(set) var upstreamErrorType: String?

    /// Creates an observer.
    public init() {}

    public var usage: TokenUsage? { sawUsage ? parts.usage : nil }

    /// `message_stop` is the only end; nothing stands in for it.
    public var missingEnd: String? { nil }

    public mutating func observe(_ event: SSEEvent) -> StreamVerdict {
        switch event.event {
        case "message_start": read(event, path: ["message", "usage"])
        case "message_delta": read(event, path: ["usage"])
        case "message_stop": completed = true
        case "error":
            var data = event.data
            upstreamErrorType =
                data.withUTF8 { bytes in
                    let reader = JSONReader(UnsafeRawBufferPointer(bytes))
                    guard let root = try? reader.validateDocument() else { return nil }
                    return reader.value(at: ["error", "type"], in: root).flatMap(reader.string)
                } ?? "error"
        default: break
        }
        return .forward
    }

    private mutating func read(_ event: SSEEvent, path: [String]) {
        var data = event.data
        let found: UsageReader.AnthropicParts? = data.withUTF8 { bytes in
            let reader = JSONReader(UnsafeRawBufferPointer(bytes))
            guard let root = try? reader.validateDocument(), let usage = reader.value(at: path, in: root) else { return nil }
            return UsageReader.anthropicParts(reader, usage: usage)
        }
        if let found {
            parts.merge(found)
            sawUsage = true
        }
    }
}
