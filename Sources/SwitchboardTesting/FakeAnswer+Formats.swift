import Foundation

/// The tool call the fake makes when a request offers tools, the same in every format.
public enum FakeTool {
    public static let callID = "call_fake1"
    public static let itemID = "fc_fake1"
    public static var arguments: [String: Any] { ["city": "Paris"] }
    public static let argumentsText = #"{"city":"Paris"}"#
    /// The arguments as streams send them, in pieces.
    public static let argumentFragments = [#"{"city":"#, #""Paris"}"#]

    /// The name of the first tool a request offers, in any provider's shape.
    static func firstToolName(_ request: [String: Any]) -> String? {
        guard let tools = request["tools"] as? [[String: Any]], let first = tools.first else { return nil }
        if let function = first["function"] as? [String: Any] { return function["name"] as? String }  // OpenAI chat
        // Gemini, in either spelling (Google takes both; LiteLLM writes snake_case).
        if let declarations = (first["functionDeclarations"] ?? first["function_declarations"]) as? [[String: Any]] {
            return declarations.first?["name"] as? String
        }
        return first["name"] as? String  // Anthropic, Responses
    }

    /// Whether the request's last turn brings back a tool's result, in any provider's shape.
    static func bringsToolResult(_ request: [String: Any]) -> Bool {
        if let messages = request["messages"] as? [[String: Any]], let last = messages.last {
            if last["role"] as? String == "tool" { return true }  // OpenAI chat
            let blocks = last["content"] as? [[String: Any]] ?? []
            return blocks.contains { $0["type"] as? String == "tool_result" }  // Anthropic
        }
        if let input = request["input"] as? [[String: Any]], let last = input.last {
            return ["function_call_output", "custom_tool_call_output"].contains(last["type"] as? String ?? "")  // Responses
        }
        if let contents = request["contents"] as? [[String: Any]], let last = contents.last {
            let parts = last["parts"] as? [[String: Any]] ?? []
            return parts.contains { $0["functionResponse"] != nil || $0["function_response"] != nil }  // Gemini
        }
        return false
    }

    /// Google's status name for an HTTP status.
    static func geminiStatus(_ status: Int) -> String {
        [400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE"][
            status]
            ?? "INTERNAL"
    }
}

extension FakeAnswer {
    // MARK: OpenAI Responses

    var responsesUsage: [String: Any] {
        let cachedTokens = cached ? FakeUsage.cacheRead : 0
        return [
            "input_tokens": FakeUsage.prompt + cachedTokens, "input_tokens_details": ["cached_tokens": cachedTokens],
            "output_tokens": FakeUsage.output, "output_tokens_details": ["reasoning_tokens": 0],
            "total_tokens": FakeUsage.prompt + cachedTokens + FakeUsage.output,
        ]
    }

    /// The answer's one output item: a message, or the tool call.
    func responsesItem(text: String, done: Bool) -> [String: Any] {
        let status = done ? "completed" : "in_progress"
        if let toolName {
            let arguments = done ? FakeTool.argumentsText : ""
            let item: [String: Any] = [
                "type": "function_call", "id": FakeTool.itemID, "call_id": FakeTool.callID, "name": toolName,
                "arguments": arguments, "status": status,
            ]
            return item
        }
        let content: [Any] = done ? [["type": "output_text", "text": text, "annotations": [Any]()] as [String: Any]] : []
        let item: [String: Any] = ["type": "message", "id": "msg_fake", "role": "assistant", "status": status, "content": content]
        return item
    }

    func responsesBody(status: String = "completed", text: String? = nil) -> [String: Any] {
        let done = status == "completed"
        let output: [Any] = done ? [responsesItem(text: text ?? self.text, done: true)] : []
        let usage: Any = done ? responsesUsage : NSNull()
        let body: [String: Any] = [
            "id": "resp_fake", "object": "response", "created_at": 1_700_000_000, "status": status, "model": model,
            "output": output,
            "usage": usage, "error": NSNull(), "incomplete_details": NSNull(),
            "instructions": NSNull(), "parallel_tool_calls": true, "tool_choice": "auto", "tools": [Any](),
            "text": ["format": ["type": "text"]],
        ]
        return body
    }

    /// The typed event sequence the SDK's stream helper accepts, numbered.
    func responsesEvents(_ words: [String]) -> [String] {
        var sequence = 0
        func event(_ type: String, _ body: [String: Any]) -> String {
            var body = body
            body["type"] = type
            body["sequence_number"] = sequence
            sequence += 1
            return "event: \(type)\ndata: " + Self.text(body) + "\n\n"
        }
        var events = [
            event("response.created", ["response": responsesBody(status: "in_progress")]),
            event("response.in_progress", ["response": responsesBody(status: "in_progress")]),
            event("response.output_item.added", ["output_index": 0, "item": responsesItem(text: "", done: false)]),
        ]
        if toolName != nil {
            events += FakeTool.argumentFragments.map {
                event("response.function_call_arguments.delta", ["output_index": 0, "item_id": FakeTool.itemID, "delta": $0])
            }
            events.append(
                event("response.function_call_arguments.done", ["output_index": 0, "item_id": FakeTool.itemID, "arguments": FakeTool.argumentsText]))
        } else {
            let part: [String: Any] = ["type": "output_text", "text": "", "annotations": [Any]()]
            events.append(event("response.content_part.added", ["output_index": 0, "item_id": "msg_fake", "content_index": 0, "part": part]))
            events += words.map {
                event("response.output_text.delta", ["output_index": 0, "item_id": "msg_fake", "content_index": 0, "delta": $0, "logprobs": [Any]()])
            }
            let whole = words.joined()
            events.append(
                event(
                    "response.output_text.done", ["output_index": 0, "item_id": "msg_fake", "content_index": 0, "text": whole, "logprobs": [Any]()]))
            var donePart = part
            donePart["text"] = whole
            events.append(event("response.content_part.done", ["output_index": 0, "item_id": "msg_fake", "content_index": 0, "part": donePart]))
        }
        let whole = words.joined()
        events.append(event("response.output_item.done", ["output_index": 0, "item": responsesItem(text: whole, done: true)]))
        events.append(event("response.completed", ["response": responsesBody(text: whole)]))
        return events
    }

    // MARK: Gemini

    var geminiUsage: [String: Any] {
        let cachedTokens = cached ? FakeUsage.cacheRead : 0
        var usage: [String: Any] = [
            "promptTokenCount": FakeUsage.prompt + cachedTokens, "candidatesTokenCount": FakeUsage.output,
            "totalTokenCount": FakeUsage.prompt + cachedTokens + FakeUsage.output,
        ]
        if cached { usage["cachedContentTokenCount"] = cachedTokens }
        return usage
    }

    func geminiParts(text: String? = nil) -> [[String: Any]] {
        if let toolName { return [["functionCall": ["name": toolName, "args": FakeTool.arguments]]] }
        return [["text": text ?? self.text]]
    }

    func geminiBody(final: Bool, parts: [[String: Any]], usage: Bool) -> [String: Any] {
        var candidate: [String: Any] = ["content": ["role": "model", "parts": parts], "index": 0]
        if final { candidate["finishReason"] = "STOP" }
        var body: [String: Any] = ["candidates": [candidate], "modelVersion": model, "responseId": "fake-response"]
        if usage { body["usageMetadata"] = geminiUsage }
        return body
    }

    /// Gemini's SSE: one whole response chunk per event, CRLF-framed as Google
    /// sends it; the last has the finish reason and the usage.
    func geminiEvents(_ words: [String]) -> [String] {
        func frame(_ body: [String: Any]) -> String { "data: " + Self.text(body) + "\r\n\r\n" }
        if toolName != nil { return [frame(geminiBody(final: true, parts: geminiParts(), usage: true))] }
        var events = words.dropLast().map { frame(geminiBody(final: false, parts: [["text": $0]], usage: false)) }
        events.append(frame(geminiBody(final: true, parts: [["text": words.last ?? ""]], usage: true)))
        return events
    }
}
