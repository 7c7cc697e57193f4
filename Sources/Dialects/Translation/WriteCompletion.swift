import SwitchboardCore

/// Writes a whole answer in each client dialect, with usage in its own terms.
enum WriteCompletion {
    /// An assistant message in Chat form: its text and tool calls, and for an
    /// answer (`answer`: true) its `refusal` and any reasoning text.
    static func chatAssistant(_ parts: [Part], answer: Bool) -> JSON {
        var texts: [String] = []
        var reasoning: [String] = []
        var calls: [JSON] = []
        for part in parts {
            switch part {
            case .text(let text): texts.append(text)
            case .thinking(let text, _): reasoning.append(text)
            case .toolCall(let call):
                calls.append(
                    .object([
                        ("id", .string(call.id)), ("type", .string("function")),
                        ("function", .object([("name", .string(call.name)), ("arguments", .string(call.arguments))])),
                    ]))
            default: continue
            }
        }
        return object([
            ("role", .string("assistant")), ("content", texts.isEmpty ? .null : .string(texts.joined())), ("refusal", answer ? .null : nil),
            ("tool_calls", calls.isEmpty ? nil : .array(calls)),
            // Requests take no reasoning history; answers show it as compatible servers do.
            ("reasoning_content", answer && !reasoning.isEmpty ? .string(reasoning.joined()) : nil),
        ])
    }

    static func openAIChat(_ completion: Completion, usage: TokenUsage, model: String, id: String, created: Int) -> JSON {
        let message = chatAssistant(completion.parts, answer: true)
        return .object([
            ("id", .string("chatcmpl-" + id)), ("object", .string("chat.completion")), ("created", .int(created)), ("model", .string(model)),
            (
                "choices",
                .array([
                    .object([
                        ("index", .int(0)), ("message", message), ("logprobs", .null), ("finish_reason", .string(chatFinish(completion.stop))),
                    ])
                ])
            ),
            ("usage", chatUsage(usage)),
        ])
    }

    static func chatFinish(_ stop: StopReason) -> String {
        switch stop {
        case .end, .stopSequence: return "stop"
        case .maxTokens: return "length"
        case .toolUse: return "tool_calls"
        case .contentFilter: return "content_filter"
        }
    }

    static func chatUsage(_ usage: TokenUsage) -> JSON {
        .object([
            ("prompt_tokens", .int(usage.totalInput)), ("completion_tokens", .int(usage.output)), ("total_tokens", .int(usage.total)),
            ("prompt_tokens_details", .object([("cached_tokens", .int(usage.cacheRead))])),
            ("completion_tokens_details", .object([("reasoning_tokens", .int(usage.reasoning))])),
        ])
    }

    static func anthropic(_ completion: Completion, usage: TokenUsage, model: String, id: String) -> JSON {
        let content: [JSON] = completion.parts.compactMap { part in
            switch part {
            case .text(let text): return .object([("type", .string("text")), ("text", .string(text))])
            case .toolCall(let call):
                let input = (try? JSON.parse(call.arguments)).flatMap { $0.members != nil ? $0 : nil } ?? .object([])
                return .object([("type", .string("tool_use")), ("id", .string(call.id)), ("name", .string(call.name)), ("input", input)])
            case .thinking(let text, let signature):
                return .object([("type", .string("thinking")), ("thinking", .string(text)), ("signature", .string(signature ?? ""))])
            default: return nil
            }
        }
        let (reason, sequence) = anthropicStop(completion.stop)
        return .object([
            ("id", .string("msg_" + id)), ("type", .string("message")), ("role", .string("assistant")), ("model", .string(model)),
            ("content", .array(content)), ("stop_reason", .string(reason)), ("stop_sequence", sequence.map(JSON.string) ?? .null),
            ("usage", anthropicUsage(usage)),
        ])
    }

    static func anthropicStop(_ stop: StopReason) -> (String, String?) {
        switch stop {
        case .end: return ("end_turn", nil)
        case .maxTokens: return ("max_tokens", nil)
        case .toolUse: return ("tool_use", nil)
        case .stopSequence(let sequence): return ("stop_sequence", sequence)
        case .contentFilter: return ("refusal", nil)
        }
    }

    static func anthropicUsage(_ usage: TokenUsage) -> JSON {
        .object([
            ("input_tokens", .int(usage.inputUncached)), ("cache_creation_input_tokens", .int(usage.cacheWrite5m + usage.cacheWrite1h)),
            ("cache_read_input_tokens", .int(usage.cacheRead)), ("output_tokens", .int(usage.output)),
        ])
    }

    /// A Responses `response` object; `status` is "completed" unless the answer hit its cap.
    static func responses(
        _ completion: Completion, usage: TokenUsage?, model: String, id: String, created: Int, freeformTools: Set<String>
    ) -> JSON {
        let items = responsesItems(completion.parts, id: id, freeformTools: freeformTools)
        return responsesObject(items: items, stop: completion.stop, usage: usage, model: model, id: id, created: created)
    }

    static func responsesObject(items: [JSON], stop: StopReason?, usage: TokenUsage?, model: String, id: String, created: Int) -> JSON {
        let status = stop == nil ? "in_progress" : stop == .maxTokens ? "incomplete" : "completed"
        return .object([
            ("id", .string("resp_" + id)), ("object", .string("response")), ("created_at", .int(created)), ("status", .string(status)),
            ("model", .string(model)), ("output", .array(items)), ("parallel_tool_calls", .bool(true)), ("tool_choice", .string("auto")),
            ("tools", .array([])), ("error", .null),
            ("incomplete_details", stop == .maxTokens ? .object([("reason", .string("max_output_tokens"))]) : .null),
            ("usage", usage.map(responsesUsage) ?? .null),
        ])
    }

    /// The output items of an answer: reasoning, message, calls, in order.
    static func responsesItems(_ parts: [Part], id: String, freeformTools: Set<String>) -> [JSON] {
        var items: [JSON] = []
        var texts: [String] = []
        func flushText() {
            guard !texts.isEmpty else { return }
            items.append(responsesMessage(texts.joined(), id: "msg_\(id)_\(items.count)"))
            texts = []
        }
        for part in parts {
            switch part {
            case .text(let text): texts.append(text)
            case .thinking(let text, let signature):
                flushText()
                items.append(responsesReasoning(text, id: "rs_\(id)_\(items.count)", signature: signature))
            case .toolCall(let call):
                flushText()
                items.append(responsesCall(call, id: "fc_\(id)_\(items.count)", freeform: freeformTools.contains(call.name)))
            default: continue
            }
        }
        flushText()
        return items
    }

    static func responsesMessage(_ text: String, id: String) -> JSON {
        .object([
            ("type", .string("message")), ("id", .string(id)), ("status", .string("completed")), ("role", .string("assistant")),
            ("content", .array([.object([("type", .string("output_text")), ("text", .string(text)), ("annotations", .array([]))])])),
        ])
    }

    /// Marks an Anthropic thinking signature carried in a Responses reasoning item's
    /// `encrypted_content`, so it can go back with the reasoning (and OpenAI's own
    /// encrypted reasoning is never mistaken for one).
    static let signaturePrefix = "sb-anthropic-signature:"

    static func responsesReasoning(_ text: String, id: String, signature: String?) -> JSON {
        object([
            ("type", .string("reasoning")), ("id", .string(id)),
            ("summary", .array([.object([("type", .string("summary_text")), ("text", .string(text))])])),
            ("encrypted_content", signature.map { .string(signaturePrefix + $0) }),
        ])
    }

    /// A function call item, or a custom tool call (its one `input` string) for free-form tools.
    static func responsesCall(_ call: ToolCall, id: String, freeform: Bool) -> JSON {
        if freeform {
            let input = (try? JSON.parse(call.arguments))?["input"]?.string ?? call.arguments
            return .object([
                ("type", .string("custom_tool_call")), ("id", .string(id)), ("status", .string("completed")), ("call_id", .string(call.id)),
                ("name", .string(call.name)), ("input", .string(input)),
            ])
        }
        return .object([
            ("type", .string("function_call")), ("id", .string(id)), ("status", .string("completed")), ("call_id", .string(call.id)),
            ("name", .string(call.name)), ("arguments", .string(call.arguments)),
        ])
    }

    static func responsesUsage(_ usage: TokenUsage) -> JSON {
        .object([
            ("input_tokens", .int(usage.totalInput)), ("input_tokens_details", .object([("cached_tokens", .int(usage.cacheRead))])),
            ("output_tokens", .int(usage.output)), ("output_tokens_details", .object([("reasoning_tokens", .int(usage.reasoning))])),
            ("total_tokens", .int(usage.total)),
        ])
    }

    static func gemini(_ completion: Completion, usage: TokenUsage?, model: String, id: String) -> JSON {
        geminiChunk(parts: completion.parts, stop: completion.stop, usage: usage, model: model, id: id)
    }

    /// One `GenerateContentResponse`: a whole answer, or a stream chunk (no stop yet).
    static func geminiChunk(parts: [Part], stop: StopReason?, usage: TokenUsage?, model: String, id: String) -> JSON {
        let rendered: [JSON] = parts.compactMap { part in
            switch part {
            case .text(let text): return .object([("text", .string(text))])
            case .thinking(let text, _): return .object([("text", .string(text)), ("thought", .bool(true))])
            case .toolCall(let call):
                let args = (try? JSON.parse(call.arguments)).flatMap { $0.members != nil ? $0 : nil } ?? .object([])
                return .object([("functionCall", .object([("name", .string(call.name)), ("args", args)]))])
            default: return nil
            }
        }
        let candidate = object([
            ("content", .object([("role", .string("model")), ("parts", .array(rendered))])),
            ("finishReason", stop.map { .string(geminiFinish($0)) }), ("index", .int(0)),
        ])
        return object([
            ("candidates", .array([candidate])), ("usageMetadata", usage.map(geminiUsage)), ("modelVersion", .string(model)),
            ("responseId", .string(id)),
        ])
    }

    static func geminiFinish(_ stop: StopReason) -> String {
        switch stop {
        case .end, .toolUse, .stopSequence: return "STOP"
        case .maxTokens: return "MAX_TOKENS"
        case .contentFilter: return "SAFETY"
        }
    }

    static func geminiUsage(_ usage: TokenUsage) -> JSON {
        object([
            ("promptTokenCount", .int(usage.totalInput)), ("candidatesTokenCount", .int(usage.output - usage.reasoning)),
            ("totalTokenCount", .int(usage.total)), ("cachedContentTokenCount", usage.cacheRead > 0 ? .int(usage.cacheRead) : nil),
            ("thoughtsTokenCount", usage.reasoning > 0 ? .int(usage.reasoning) : nil),
        ])
    }
}
