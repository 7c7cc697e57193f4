import SwitchboardCore

/// One piece of a streamed answer, in no client's format.
public enum StreamPiece: Sendable, Equatable {
    case text(String)
    case thinking(String)
    /// The signature that closes a thinking block (Anthropic).
    case signature(String)
    /// A tool call begins; `key` tells its argument pieces apart from other calls'.
    case toolCall(key: Int, id: String, name: String)
    case toolArguments(key: Int, String)
    case stop(StopReason)
}

/// Reads a provider's stream events into pieces. Usage, the end and errors are
/// read by the provider's own `StreamObserver`.
enum StreamReader: Sendable {
    case openAIChat(started: Set<Int>)
    case anthropic
    case gemini(ids: String, calls: Int)

    /// A reader for a provider's stream; `ids` starts the ids of Gemini's id-less calls.
    init(_ upstream: Dialect, ids: String) {
        switch upstream {
        case .anthropicMessages: self = .anthropic
        case .gemini: self = .gemini(ids: ids, calls: 0)
        case .openAIChat, .openAIResponses: self = .openAIChat(started: [])
        }
    }

    /// The members each reader looks at; only they are built into a tree
    /// (a chunk's id, model and fingerprint are read past).
    var wanted: Set<String> {
        switch self {
        case .openAIChat: return ["choices"]
        case .anthropic: return ["type", "index", "content_block", "delta"]
        case .gemini: return ["candidates", "promptFeedback"]
        }
    }

    mutating func read(_ event: SSEEvent) -> [StreamPiece] {
        guard event.hasData, event.data != "[DONE]" else { return [] }
        var text = event.data
        let wanted = self.wanted
        let parsed: JSON? = text.withUTF8 { bytes in
            let reader = JSONReader(UnsafeRawBufferPointer(bytes))
            guard let root = try? reader.validateDocument(), root.kind == .object else { return nil }
            return .object(reader.members(of: root).filter { wanted.contains($0.name) }.map { ($0.name, JSON.tree(reader, $0.value)) })
        }
        guard let data = parsed else { return [] }
        switch self {
        case .openAIChat(var started):
            defer { self = .openAIChat(started: started) }
            return Self.chat(data, started: &started)
        case .anthropic:
            return Self.anthropic(data)
        case .gemini(let ids, var calls):
            defer { self = .gemini(ids: ids, calls: calls) }
            return Self.gemini(data, ids: ids, calls: &calls)
        }
    }

    static func chat(_ data: JSON, started: inout Set<Int>) -> [StreamPiece] {
        guard let choice = data["choices"]?.array?.first else { return [] }
        var pieces: [StreamPiece] = []
        let delta = choice["delta"]
        if let reasoning = delta?["reasoning_content"]?.string, !reasoning.isEmpty { pieces.append(.thinking(reasoning)) }
        if let text = delta?["content"]?.string, !text.isEmpty { pieces.append(.text(text)) }
        if let refusal = delta?["refusal"]?.string, !refusal.isEmpty { pieces.append(.text(refusal)) }
        for call in delta?["tool_calls"]?.array ?? [] {
            let key = call["index"]?.int ?? 0
            if !started.contains(key) {
                started.insert(key)
                pieces.append(.toolCall(key: key, id: call["id"]?.string ?? "call_\(key)", name: call["function"]?["name"]?.string ?? ""))
            }
            if let arguments = call["function"]?["arguments"]?.string, !arguments.isEmpty { pieces.append(.toolArguments(key: key, arguments)) }
        }
        if let reason = choice["finish_reason"]?.string { pieces.append(.stop(ReadCompletion.chatStop(reason))) }
        return pieces
    }

    static func anthropic(_ data: JSON) -> [StreamPiece] {
        let index = data["index"]?.int ?? 0
        switch data["type"]?.string {
        case "content_block_start":
            let block = data["content_block"]
            switch block?["type"]?.string {
            case "text":
                let text = block?["text"]?.string ?? ""
                return text.isEmpty ? [] : [.text(text)]
            case "thinking":
                let text = block?["thinking"]?.string ?? ""
                return [.thinking(text)]
            case "tool_use":
                var pieces: [StreamPiece] = [.toolCall(key: index, id: block?["id"]?.string ?? "", name: block?["name"]?.string ?? "")]
                if let input = block?["input"], input.members?.isEmpty == false { pieces.append(.toolArguments(key: index, input.text)) }
                return pieces
            default:
                return []
            }
        case "content_block_delta":
            let delta = data["delta"]
            switch delta?["type"]?.string {
            case "text_delta": return [.text(delta?["text"]?.string ?? "")]
            case "input_json_delta": return [.toolArguments(key: index, delta?["partial_json"]?.string ?? "")]
            case "thinking_delta": return [.thinking(delta?["thinking"]?.string ?? "")]
            case "signature_delta": return [.signature(delta?["signature"]?.string ?? "")]
            default: return []
            }
        case "message_delta":
            guard let reason = data["delta"]?["stop_reason"]?.string else { return [] }
            return [.stop(ReadCompletion.anthropicStop(reason, sequence: data["delta"]?["stop_sequence"]?.string))]
        default:
            return []
        }
    }

    static func gemini(_ data: JSON, ids: String, calls: inout Int) -> [StreamPiece] {
        guard let candidate = data["candidates"]?.array?.first else {
            // A prompt blocked by safety settings ends the stream without candidates.
            return data["promptFeedback"]?["blockReason"] != nil ? [.stop(.contentFilter)] : []
        }
        var pieces: [StreamPiece] = []
        for part in ReadCompletion.geminiParts(candidate["content"]?["parts"]?.array ?? [], ids: ids, callsBefore: calls) {
            switch part {
            case .text(let text): pieces.append(.text(text))
            case .thinking(let text, _): pieces.append(.thinking(text))
            case .toolCall(let call):
                calls += 1
                pieces.append(.toolCall(key: calls, id: call.id, name: call.name))
                pieces.append(.toolArguments(key: calls, call.arguments))
            default: continue
            }
        }
        if let reason = candidate["finishReason"]?.string {
            pieces.append(.stop(reason == "STOP" && calls > 0 ? .toolUse : ReadCompletion.geminiStop(reason, parts: [])))
        }
        return pieces
    }
}
