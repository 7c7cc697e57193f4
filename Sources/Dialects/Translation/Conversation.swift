/// A generation request in no client's format: what every dialect's request is
/// read into and every provider's request is written from.
public struct Conversation: Sendable {
    /// The model to ask for (the upstream's name once an account is chosen).
    public var model: String
    /// System instructions, in order.
    public var system: [String] = []
    /// The turns, oldest first.
    public var turns: [Turn] = []
    /// Tools the model may call.
    public var tools: [Tool] = []
    public var toolChoice: ToolChoice?
    /// Whether the model may call several tools in one turn (nil: the provider's default).
    public var parallelToolCalls: Bool?
    public var maxTokens: Int?
    /// Sampling parameters, as the client wrote the numbers.
    public var temperature: JSON?
    public var topP: JSON?
    public var topK: JSON?
    public var stop: [String] = []
    public var reasoning: Reasoning?
    public var stream = false
    /// An end-user id for the provider's abuse tracking.
    public var user: String?
    /// The shape the answer's text must have (structured output), nil for free text.
    public var responseFormat: ResponseFormat?
    /// The client's field that asked for it, named when a provider cannot carry it.
    var responseFormatField = "response_format"

    public init(model: String) { self.model = model }

    /// The name of the tool a call id belongs to, from the calls made so far.
    func toolName(forCall id: String) -> String? {
        for turn in turns.reversed() {
            for case .toolCall(let call) in turn.parts.reversed() where call.id == id { return call.name }
        }
        return nil
    }

    /// Whether the last assistant turn calls tools without a signed thinking
    /// block before them: Anthropic refuses thinking for such a continuation.
    var lastToolTurnLacksSignedThinking: Bool {
        guard let last = turns.last(where: { $0.role == .assistant }),
            last.parts.contains(where: { if case .toolCall = $0 { return true } else { return false } })
        else { return false }
        guard case .thinking(_, let signature)? = last.parts.first else { return true }
        return signature == nil
    }
}

/// One turn of a conversation.
public struct Turn: Sendable {
    public enum Role: String, Sendable { case user, assistant }
    public var role: Role
    public var parts: [Part]

    public init(_ role: Role, _ parts: [Part]) {
        self.role = role
        self.parts = parts
    }
}

/// One piece of a turn.
public enum Part: Sendable, Equatable {
    case text(String)
    case image(Image)
    case toolCall(ToolCall)
    case toolResult(ToolResult)
    /// The model's visible reasoning, with the provider's signature when it gave one.
    case thinking(text: String, signature: String?)
}

/// An image: inline bytes or a URL.
public enum Image: Sendable, Equatable {
    case base64(mediaType: String, data: String)
    case url(String)

    /// An image from a URL that may be a `data:` URL holding the bytes.
    static func fromURL(_ url: String) -> Image {
        if url.hasPrefix("data:"), let comma = url.firstIndex(of: ","), url[..<comma].hasSuffix(";base64") {
            let mediaType = url[url.index(url.startIndex, offsetBy: 5)..<comma].dropLast(";base64".count)
            return .base64(mediaType: String(mediaType), data: String(url[url.index(after: comma)...]))
        }
        return .url(url)
    }

    /// The image as a URL (`data:` for inline bytes).
    var urlText: String {
        switch self {
        case .base64(let mediaType, let data): return "data:\(mediaType);base64,\(data)"
        case .url(let url): return url
        }
    }
}

/// A call the model made.
public struct ToolCall: Sendable, Equatable {
    public var id: String
    public var name: String
    /// The arguments as JSON text.
    public var arguments: String
}

/// A tool's answer to a call.
public struct ToolResult: Sendable, Equatable {
    public var callID: String
    /// The tool's name, where the format names it (Gemini needs it).
    public var name: String?
    /// Text and images.
    public var content: [Part]
    public var isError: Bool
}

/// A tool the model may call.
public struct Tool: Sendable {
    public var name: String
    public var description: String?
    /// JSON Schema of the arguments.
    public var parameters: JSON
    /// A Responses "custom" tool: one free-form text input instead of JSON arguments.
    public var freeform = false
}

/// Structured output: what the answer's text must be.
public enum ResponseFormat: Sendable, Equatable {
    /// Some JSON object (OpenAI's `json_object`, Gemini's JSON MIME type without a schema).
    case anyJSON
    /// JSON matching a JSON Schema; `name` and `strict` as OpenAI takes them.
    case schema(JSON, name: String?, strict: Bool?)
}

/// Whether and which tool the model must call.
public enum ToolChoice: Sendable, Equatable {
    case auto, none, required
    case tool(String)
}

/// How much the model should reason before answering.
public enum Reasoning: Sendable, Equatable {
    /// OpenAI's effort levels (`minimal`, `low`, `medium`, `high`).
    case effort(String)
    /// A token budget (Anthropic's `budget_tokens`, Gemini's `thinkingBudget`).
    case budget(Int)
    case disabled

    /// The largest budget passed on: no model reasons longer, and sums stay far from overflow.
    static let maxBudget = 10_000_000

    /// The budget an effort level stands for where a provider takes budgets.
    var budget: Int? {
        switch self {
        case .budget(let tokens): return min(max(tokens, 0), Self.maxBudget)
        case .disabled: return nil
        case .effort(let level):
            switch level {
            case "minimal", "none": return nil
            case "low": return 2_048
            case "medium": return 8_192
            default: return 24_576
            }
        }
    }

    /// The effort level a budget stands for where a provider takes levels.
    var effort: String? {
        switch self {
        case .effort(let level): return level == "max" ? "high" : level  // Anthropic's "max" is OpenAI's "high"
        case .disabled: return nil
        case .budget(let tokens): return tokens <= 2_048 ? "low" : tokens <= 8_192 ? "medium" : "high"
        }
    }
}

/// Why a generation stopped.
public enum StopReason: Sendable, Equatable {
    case end
    case maxTokens
    case toolUse
    case stopSequence(String?)
    case contentFilter
}

/// A whole answer in no client's format.
public struct Completion: Sendable {
    public var parts: [Part]
    public var stop: StopReason

    public init(parts: [Part], stop: StopReason) {
        self.parts = parts
        self.stop = stop
    }
}
