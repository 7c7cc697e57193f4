import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The bodies the fake sends, in each provider's exact shape.
struct FakeAnswer: Sendable {
    let format: FakeUpstream.Format
    let model: String
    let behaviour: FakeBehaviour
    let text: String
    let includeUsage: Bool
    /// The tool the answer calls: the first one the request offers, if any.
    let toolName: String?
    /// The output tokens the answer reports.
    let outputTokens: Int64

    /// Stands for `1e15` in encoded usage (`absurd-usage`), replaced as the body is written.
    static let absurdMarker: Int64 = 987_654_321_987

    init(format: FakeUpstream.Format, model: String, behaviour: FakeBehaviour, request: [String: Any], headers: [String: String]) {
        self.format = format
        self.model = model
        self.behaviour = behaviour
        self.includeUsage = ((request["stream_options"] as? [String: Any])?["include_usage"] as? Bool) ?? false
        // A request that brings a tool's result back gets the model's answer, so tool loops end.
        self.toolName = FakeTool.bringsToolResult(request) ? nil : FakeTool.firstToolName(request)
        switch behaviour {
        case .honourCap:
            let cap = [request["max_tokens"], request["max_completion_tokens"]].compactMap { ($0 as? NSNumber)?.int64Value }.max() ?? 16
            self.outputTokens = cap * ((request["n"] as? NSNumber)?.int64Value ?? 1)
        case .absurdUsage: self.outputTokens = Self.absurdMarker
        default: self.outputTokens = FakeUsage.output
        }
        if behaviour == .echo {
            let summary: [String: Any] = [
                "model": model,
                "anthropic_beta": headers["anthropic-beta"] ?? "",
                "anthropic_version": headers["anthropic-version"] ?? "",
                "user_agent": headers["user-agent"] ?? "",
                "stream_options": request["stream_options"].map { "\($0)" } ?? "",
                "client_credential_seen": headers.keys.contains("x-goog-api-key"),
            ]
            let data = (try? JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys])) ?? Data()
            self.text = String(decoding: data, as: UTF8.self)
        } else {
            self.text = FakeStructured.answer(format: format, request: request) ?? FakeUsage.text
        }
    }

    var cached: Bool { behaviour == .cached }

    // MARK: Usage

    var openAIUsage: [String: Any] {
        var usage: [String: Any] = [
            "prompt_tokens": behaviour == .absurdUsage ? Self.absurdMarker : FakeUsage.prompt, "completion_tokens": outputTokens,
            "total_tokens": FakeUsage.prompt + outputTokens,
        ]
        if cached {
            usage["prompt_tokens"] = FakeUsage.prompt + FakeUsage.cacheRead
            usage["total_tokens"] = FakeUsage.prompt + FakeUsage.cacheRead + FakeUsage.output
            usage["prompt_tokens_details"] = ["cached_tokens": FakeUsage.cacheRead]
        }
        return usage
    }

    func anthropicUsage(outputTokens: Int64) -> [String: Any] {
        var usage: [String: Any] = [
            "input_tokens": FakeUsage.prompt, "output_tokens": outputTokens,
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
        ]
        if cached {
            usage["cache_read_input_tokens"] = FakeUsage.cacheRead
            usage["cache_creation_input_tokens"] = FakeUsage.cacheWrite5m + FakeUsage.cacheWrite1h
            usage["cache_creation"] = [
                "ephemeral_5m_input_tokens": FakeUsage.cacheWrite5m, "ephemeral_1h_input_tokens": FakeUsage.cacheWrite1h,
            ]
        }
        return usage
    }

    // MARK: Bodies

    func json() -> Response {
        var body: [String: Any]
        switch format {
        case .responses: body = responsesBody()
        case .gemini: body = geminiBody(final: true, parts: geminiParts(), usage: true)
        case .openAI:
            body = [
                "id": "chatcmpl-fake", "object": "chat.completion", "created": 1_700_000_000, "model": model,
                "choices": [
                    [
                        "index": 0, "message": ["role": "assistant", "content": text, "refusal": NSNull()],
                        "finish_reason": "stop", "logprobs": NSNull(),
                    ]
                ],
                "usage": openAIUsage, "system_fingerprint": NSNull(),
            ]
        case .anthropic:
            body = [
                "id": "msg_fake", "type": "message", "role": "assistant", "model": model,
                "content": [["type": "text", "text": text]], "stop_reason": "end_turn", "stop_sequence": NSNull(),
                "usage": anthropicUsage(outputTokens: outputTokens),
            ]
            if let toolName {
                body["content"] = [["type": "tool_use", "id": FakeTool.callID, "name": toolName, "input": FakeTool.arguments]]
                body["stop_reason"] = "tool_use"
            }
        }
        if format == .openAI, let toolName {
            body["choices"] = [
                [
                    "index": 0, "finish_reason": "tool_calls", "logprobs": NSNull(),
                    "message": [
                        "role": "assistant", "content": NSNull(), "refusal": NSNull(),
                        "tool_calls": [
                            ["id": FakeTool.callID, "type": "function", "function": ["name": toolName, "arguments": FakeTool.argumentsText]]
                        ],
                    ],
                ]
            ]
        }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: Self.encode(body)))
    }

    /// What each provider answers for a suspended or disabled account.
    func banned() -> Response {
        let (status, body): (Int, [String: Any])
        switch format {
        case .anthropic:
            status = 400
            body = ["type": "error", "error": ["type": "invalid_request_error", "message": "This organization has been disabled."]]
        case .openAI, .responses:
            status = 401
            body = [
                "error": [
                    "message": "The OpenAI account associated with this API key has been deactivated.", "type": "invalid_request_error",
                    "param": NSNull(), "code": "account_deactivated",
                ]
            ]
        case .gemini:
            status = 403
            body = [
                "error": [
                    "code": 403, "message": "Permission denied: Consumer 'api_key:fake' has been suspended.", "status": "PERMISSION_DENIED",
                    "details": [["@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "CONSUMER_SUSPENDED"]],
                ]
            ]
        }
        return Response(
            status: .init(code: status), headers: [.contentType: "application/json"], body: .init(byteBuffer: Self.encode(body)))
    }

    func error(status: Int) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if status == 429 { headers[HTTPField.Name("retry-after")!] = "7" }
        let body: [String: Any]
        switch format {
        case .gemini:
            body = ["error": ["code": status, "message": "fake upstream error \(status)", "status": FakeTool.geminiStatus(status)]]
        case .openAI, .responses:
            let type =
                status == 401
                ? "invalid_request_error" : status == 429 ? "rate_limit_exceeded" : status >= 500 ? "server_error" : "invalid_request_error"
            body = ["error": ["message": "fake upstream error \(status)", "type": type, "param": NSNull(), "code": "fake_\(status)"]]
        case .anthropic:
            let type =
                [
                    400: "invalid_request_error", 401: "authentication_error", 402: "billing_error", 404: "not_found_error", 429: "rate_limit_error",
                    529: "overloaded_error",
                ][status] ?? "api_error"
            body = ["type": "error", "error": ["type": type, "message": "fake upstream error \(status)"]]
        }
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: Self.encode(body)))
    }

    func stream(
        onWrite: @escaping @Sendable () -> Void, onFinish: @escaping @Sendable () -> Void, held: @escaping @Sendable () async -> Void = {}
    ) -> Response {
        let events = streamEvents()
        let behaviour = behaviour
        return Response(
            status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
            body: ResponseBody { writer in
                defer { onFinish() }
                if behaviour == .errorFirstStream || behaviour == .invalidFirstStream {
                    try await writer.write(ByteBuffer(string: errorEvent(invalid: behaviour == .invalidFirstStream)))
                    try await writer.finish(nil)
                    return
                }
                for (index, event) in events.enumerated() {
                    try await writer.write(ByteBuffer(string: event))
                    onWrite()
                    switch behaviour {
                    case .dropAfterFirstChunk:
                        throw FakeDrop()  // Hummingbird closes the connection mid-body
                    case .cutMidEvent:
                        let next = events[index + 1]
                        try await writer.write(ByteBuffer(string: String(next.prefix(next.count / 2))))
                        throw FakeDrop()
                    case .stallMidStream(let ms) where index == 2:
                        try await Task.sleep(for: .milliseconds(ms))
                    case .slowStream(_, let pause):
                        try await Task.sleep(for: .milliseconds(pause))
                    case .held where index == 0:
                        await held()
                    case .truncatedStream where index == events.count - 3:
                        try await writer.finish(nil)  // before the usage and the end marker
                        return
                    case .noEndMarker where index == events.count - 2:
                        try await writer.finish(nil)
                        return
                    default:
                        break
                    }
                }
                try await writer.finish(nil)
            })
    }

    struct FakeDrop: Error {}

    /// An overloaded error as the provider sends it inside a stream.
    func errorEvent(invalid: Bool = false) -> String {
        let message = invalid ? "fake invalid request" : "fake overloaded"
        switch format {
        case .gemini:
            let (code, status) = invalid ? (400, "INVALID_ARGUMENT") : (503, "UNAVAILABLE")
            return "data: " + Self.text(["error": ["code": code, "message": message, "status": status]]) + "\r\n\r\n"
        case .responses:
            let code = invalid ? "invalid_prompt" : "server_error"
            return "event: error\ndata: " + Self.text(["type": "error", "code": code, "message": message, "param": NSNull(), "sequence_number": 0])
                + "\n\n"
        case .openAI:
            let type = invalid ? "invalid_request_error" : "server_error"
            return "data: " + Self.text(["error": ["message": message, "type": type, "param": NSNull(), "code": NSNull()]]) + "\n\n"
        case .anthropic:
            let type = invalid ? "invalid_request_error" : "overloaded_error"
            return "event: error\ndata: " + Self.text(["type": "error", "error": ["type": type, "message": message]]) + "\n\n"
        }
    }

    /// The stream's events, each a complete SSE frame.
    func streamEvents() -> [String] {
        var words = FakeUsage.words
        if case .slowStream(let count, _) = behaviour { words = (0..<count).map { "w\($0) " } }
        if case .bigStream(let count, let size) = behaviour { words = Array(repeating: String(repeating: "x", count: size), count: count) }
        if behaviour == .echo { words = [text] }
        if text != FakeUsage.text, behaviour != .echo { words = FakeStructured.pieces(text) }
        switch format {
        case .responses: return responsesEvents(words)
        case .gemini: return geminiEvents(words)
        case .openAI:
            func chunk(_ delta: [String: Any], finish: String?) -> String {
                var body: [String: Any] = [
                    "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
                    "system_fingerprint": NSNull(),
                    "choices": [["index": 0, "delta": delta, "logprobs": NSNull(), "finish_reason": finish.map { $0 as Any } ?? NSNull()]],
                ]
                if includeUsage { body["usage"] = NSNull() }
                return "data: " + Self.text(body) + "\n\n"
            }
            var events = [chunk(["role": "assistant", "content": ""], finish: nil)]
            if let toolName {
                events.append(
                    chunk(
                        ["tool_calls": [["index": 0, "id": FakeTool.callID, "type": "function", "function": ["name": toolName, "arguments": ""]]]],
                        finish: nil))
                events += FakeTool.argumentFragments.map { chunk(["tool_calls": [["index": 0, "function": ["arguments": $0]]]], finish: nil) }
                events.append(chunk([:], finish: "tool_calls"))
            } else {
                events += Self.mapSharing(words) { chunk(["content": $0], finish: nil) }
                events.append(chunk([:], finish: "stop"))
            }
            if includeUsage {
                let usageChunk: [String: Any] = [
                    "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
                    "choices": [Any](), "usage": openAIUsage,
                ]
                events.append("data: " + Self.text(usageChunk) + "\n\n")
            }
            events.append("data: [DONE]\n\n")
            return events
        case .anthropic:
            func event(_ name: String, _ body: [String: Any]) -> String {
                "event: \(name)\ndata: " + Self.text(body) + "\n\n"
            }
            var events = [
                event(
                    "message_start",
                    [
                        "type": "message_start",
                        "message": [
                            "id": "msg_fake", "type": "message", "role": "assistant", "model": model, "content": [Any](),
                            "stop_reason": NSNull(), "stop_sequence": NSNull(), "usage": anthropicUsage(outputTokens: 1),
                        ],
                    ]),
                event("ping", ["type": "ping"]),
            ]
            if let toolName {
                events.append(
                    event(
                        "content_block_start",
                        [
                            "type": "content_block_start", "index": 0,
                            "content_block": ["type": "tool_use", "id": FakeTool.callID, "name": toolName, "input": [String: Any]()],
                        ]))
                events += FakeTool.argumentFragments.map {
                    event(
                        "content_block_delta",
                        ["type": "content_block_delta", "index": 0, "delta": ["type": "input_json_delta", "partial_json": $0]])
                }
            } else {
                events.append(
                    event("content_block_start", ["type": "content_block_start", "index": 0, "content_block": ["type": "text", "text": ""]]))
                events += Self.mapSharing(words) {
                    event("content_block_delta", ["type": "content_block_delta", "index": 0, "delta": ["type": "text_delta", "text": $0]])
                }
            }
            events.append(event("content_block_stop", ["type": "content_block_stop", "index": 0]))
            events.append(
                event(
                    "message_delta",
                    [
                        "type": "message_delta", "delta": ["stop_reason": toolName == nil ? "end_turn" : "tool_use", "stop_sequence": NSNull()],
                        "usage": ["output_tokens": FakeUsage.output],
                    ]))
            events.append(event("message_stop", ["type": "message_stop"]))
            return events
        }
    }

    /// Maps words to events, building each distinct event once so that a long
    /// stream of one repeated word shares one string instead of holding copies.
    static func mapSharing(_ words: [String], _ transform: (String) -> String) -> [String] {
        var cache: [String: String] = [:]
        return words.map { word in
            if let event = cache[word] { return event }
            let event = transform(word)
            cache[word] = event
            return event
        }
    }

    static func text(_ object: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    static func encode(_ object: [String: Any]) -> ByteBuffer {
        ByteBuffer(string: text(object).replacingOccurrences(of: String(absurdMarker), with: "1e15"))
    }
}
