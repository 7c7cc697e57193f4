public import NIOCore
public import SwitchboardCore

extension Translator {
    /// Reads a token-counting request (Anthropic `count_tokens` or Gemini
    /// `countTokens`, whose body may wrap a whole `generateContentRequest`).
    public init(counting request: ClientRequest) throws(GatewayError) {
        var request = request
        if request.dialect == .gemini {
            let wrapped: ByteBuffer? = request.body.withUnsafeReadableBytes { bytes in
                guard let tree = try? JSON.parse(bytes), let inner = tree["generateContentRequest"] ?? tree["generate_content_request"] else {
                    return nil
                }
                return ByteBuffer(string: JSON.object((inner.members ?? []).filter { $0.0 != "model" }).text)
            }
            if let wrapped { request.body = wrapped }
        }
        try self.init(request)
    }

    /// The counting request for a provider that has a counting endpoint
    /// (Anthropic, Gemini); nil for OpenAI-compatible ones, which have none.
    public func countBody(for provider: Provider, model: String) throws(GatewayError) -> ByteBuffer? {
        var conversation = conversation
        conversation.model = model
        conversation.stream = false
        // Counting weighs the prompt: the answer's format is not counted, so it cannot be refused here.
        conversation.responseFormat = nil
        switch provider {
        case .openai, .azure:
            return nil
        case .anthropic:
            // count_tokens takes the prompt only: no output cap or sampling.
            let counted: Set<String> = ["model", "system", "messages", "tools", "tool_choice", "thinking"]
            let body = try WriteRequest.anthropic(conversation)
            return ByteBuffer(string: JSON.object((body.members ?? []).filter { counted.contains($0.0) }).text)
        case .gemini:
            let body = try WriteRequest.gemini(conversation)
            let request = JSON.object([("model", .string(GeminiModelName.resource(model)))] + (body.members ?? []))
            return ByteBuffer(string: JSON.object([("generateContentRequest", request)]).text)
        }
    }

    /// The client's counting answer for a number of input tokens.
    public func countAnswer(_ tokens: Int) -> ByteBuffer {
        client == .gemini ? ByteBuffer(string: #"{"totalTokens":\#(tokens)}"#) : ByteBuffer(string: #"{"input_tokens":\#(tokens)}"#)
    }

    /// The count a provider's counting answer holds.
    public static func countedTokens(_ body: ByteBuffer) -> Int? {
        body.withUnsafeReadableBytes { bytes in
            guard let tree = try? JSON.parse(bytes) else { return nil }
            return (tree["input_tokens"] ?? tree["totalTokens"])?.int
        }
    }

    /// An estimate for providers without a counting endpoint: one token per four
    /// bytes of the prompt as the provider would receive it (system, turns, tools).
    public func estimatedTokens() -> Int {
        var conversation = conversation
        conversation.stream = false
        let text = (try? WriteRequest.openAIChat(conversation).text) ?? ""
        return max(1, (text.utf8.count + 3) / 4)
    }
}
