import SwitchboardCore

/// Reads a provider's whole (non-streamed) answer.
enum ReadCompletion {
    static func openAIChat(_ body: JSON) -> Completion {
        let choice = body["choices"]?.array?.first
        let message = choice?["message"]
        var parts: [Part] = []
        if let reasoning = message?["reasoning_content"]?.string, !reasoning.isEmpty { parts.append(.thinking(text: reasoning, signature: nil)) }
        if let text = message?["content"]?.string, !text.isEmpty { parts.append(.text(text)) }
        let refusal = message?["refusal"]?.string ?? ""
        if !refusal.isEmpty { parts.append(.text(refusal)) }
        for call in message?["tool_calls"]?.array ?? [] {
            parts.append(
                .toolCall(
                    ToolCall(
                        id: call["id"]?.string ?? "", name: call["function"]?["name"]?.string ?? "",
                        arguments: call["function"]?["arguments"]?.string ?? "{}")))
        }
        return Completion(parts: parts, stop: refusal.isEmpty ? chatStop(choice?["finish_reason"]?.string) : .contentFilter)
    }

    static func chatStop(_ reason: String?) -> StopReason {
        switch reason {
        case "length": return .maxTokens
        case "tool_calls", "function_call": return .toolUse
        case "content_filter": return .contentFilter
        default: return .end
        }
    }

    static func anthropic(_ body: JSON) -> Completion {
        var parts: [Part] = []
        for block in body["content"]?.array ?? [] {
            switch block["type"]?.string {
            case "text": parts.append(.text(block["text"]?.string ?? ""))
            case "tool_use":
                parts.append(
                    .toolCall(
                        ToolCall(
                            id: block["id"]?.string ?? "", name: block["name"]?.string ?? "", arguments: (block["input"] ?? .object([])).text)))
            case "thinking":
                parts.append(
                    .thinking(text: block["thinking"]?.string ?? "", signature: block["signature"]?.string.flatMap { $0.isEmpty ? nil : $0 }))
            default: continue
            }
        }
        return Completion(parts: parts, stop: anthropicStop(body["stop_reason"]?.string, sequence: body["stop_sequence"]?.string))
    }

    static func anthropicStop(_ reason: String?, sequence: String?) -> StopReason {
        switch reason {
        case "max_tokens", "model_context_window_exceeded": return .maxTokens
        case "tool_use": return .toolUse
        case "stop_sequence": return .stopSequence(sequence)
        case "refusal": return .contentFilter
        default: return .end
        }
    }

    /// A Gemini answer; its calls, which Gemini leaves without ids, get ids
    /// starting with `ids` (unique per answer, so ids never repeat across turns).
    static func gemini(_ body: JSON, ids: String) -> Completion {
        let candidate = body["candidates"]?.array?.first
        let parts = geminiParts(candidate?["content"]?["parts"]?.array ?? [], ids: ids, callsBefore: 0)
        if candidate == nil, body["promptFeedback"]?["blockReason"] != nil { return Completion(parts: [], stop: .contentFilter) }
        return Completion(parts: parts, stop: geminiStop(candidate?["finishReason"]?.string, parts: parts))
    }

    /// Gemini parts; calls without an id get `<ids>_N`, numbered from `callsBefore`.
    static func geminiParts(_ raw: [JSON], ids: String, callsBefore: Int) -> [Part] {
        var parts: [Part] = []
        var calls = callsBefore
        for part in raw {
            if let text = part["text"]?.string {
                parts.append(part["thought"]?.bool == true ? .thinking(text: text, signature: nil) : .text(text))
            } else if let call = part["functionCall"] {
                calls += 1
                parts.append(
                    .toolCall(
                        ToolCall(
                            id: call["id"]?.string ?? "\(ids)_\(calls)", name: call["name"]?.string ?? "",
                            arguments: (call["args"] ?? .object([])).text)))
            }
        }
        return parts
    }

    static func geminiStop(_ reason: String?, parts: [Part]) -> StopReason {
        switch reason {
        case "MAX_TOKENS": return .maxTokens
        case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY": return .contentFilter
        default:
            // Gemini ends a turn that calls tools with STOP; other formats say "tool use".
            return parts.contains { if case .toolCall = $0 { return true } else { return false } } ? .toolUse : .end
        }
    }
}
