public import NIOCore
public import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Carries one request between a client dialect and a provider that speaks
/// another: the request goes out in the provider's format, the answer (whole or
/// streamed) comes back in the client's. Everything passes through `Conversation`.
public struct Translator: Sendable {
    /// The dialect the client speaks.
    public let client: Dialect
    /// The request, read once.
    public private(set) var conversation: Conversation
    /// The name the client asked for, which answers carry.
    public let clientModel: String

    /// Reads a client's request; what cannot be carried is refused here, before any upstream call.
    public init(_ request: ClientRequest) throws(GatewayError) {
        var tree: JSON
        do {
            tree = try request.body.withUnsafeReadableBytes { bytes throws(JSONSyntaxError) in try JSON.parse(bytes) }
        } catch {
            throw GatewayError(.invalidJSON, message: "The request body is not valid JSON (\(error)).")
        }
        // Google takes either spelling of its fields; the reader knows one.
        if request.dialect == .gemini { tree = GeminiSpelling.camelCased(tree) }
        try RequestShape.check(tree, dialect: request.dialect)
        switch request.dialect {
        case .openAIChat: conversation = try ReadOpenAI.chat(tree)
        case .openAIResponses: conversation = try ReadOpenAI.responses(tree)
        case .anthropicMessages: conversation = try ReadAnthropic.messages(tree)
        case .gemini: conversation = try ReadGemini.generateContent(tree, model: request.model)
        }
        // Gemini streams by route, not by a body field.
        if request.dialect == .gemini { conversation.stream = request.stream }
        client = request.dialect
        clientModel = request.model
    }

    /// The output cap a provider's request will carry (Anthropic's includes a
    /// thinking budget), nil when none is set: what a hold must cover.
    public func outputCap(for provider: Provider) -> Int64? {
        provider == .anthropic ? Int64(WriteRequest.anthropicMaxTokens(conversation)) : conversation.maxTokens.map(Int64.init)
    }

    /// The dialect a provider is spoken to in when a request is translated for it.
    public static func upstreamDialect(of provider: Provider) -> Dialect {
        switch provider {
        case .openai, .azure: return .openAIChat
        case .anthropic: return .anthropicMessages
        case .gemini: return .gemini
        }
    }

    /// The request body for a provider, naming the upstream model (Gemini's is in the path).
    public func upstreamBody(for provider: Provider, model: String) throws(GatewayError) -> ByteBuffer {
        var conversation = conversation
        conversation.model = model
        let body: JSON
        switch provider {
        case .openai, .azure: body = try WriteRequest.openAIChat(conversation)
        case .anthropic: body = try WriteRequest.anthropic(conversation)
        case .gemini: body = try WriteRequest.gemini(conversation)
        }
        return ByteBuffer(string: body.text)
    }

    /// The client's answer from a provider's whole answer; nil when the body is not JSON.
    public func clientBody(fromUpstream body: ByteBuffer, provider: Provider, usage: TokenUsage, requestID: String) -> ByteBuffer? {
        guard let tree = try? body.withUnsafeReadableBytes({ bytes throws(JSONSyntaxError) in try JSON.parse(bytes) }) else { return nil }
        let completion: Completion
        switch provider {
        case .openai, .azure: completion = ReadCompletion.openAIChat(tree)
        case .anthropic: completion = ReadCompletion.anthropic(tree)
        case .gemini: completion = ReadCompletion.gemini(tree, ids: "call_" + requestID)
        }
        let context = streamContext(requestID: requestID, includeUsage: false)
        let answer: JSON
        switch client {
        case .openAIChat: answer = WriteCompletion.openAIChat(completion, usage: usage, model: clientModel, id: context.id, created: context.created)
        case .anthropicMessages: answer = WriteCompletion.anthropic(completion, usage: usage, model: clientModel, id: context.id)
        case .openAIResponses:
            answer = WriteCompletion.responses(
                completion, usage: usage, model: clientModel, id: context.id, created: context.created, freeformTools: context.freeformTools)
        case .gemini: answer = WriteCompletion.gemini(completion, usage: usage, model: clientModel, id: context.id)
        }
        return ByteBuffer(string: answer.text)
    }

    /// The observer that turns a provider's stream into the client's.
    public func streamObserver(provider: Provider, requestID: String, clientWantsUsage: Bool) -> any StreamObserver {
        TranslatingObserver(
            upstream: Self.upstreamDialect(of: provider), client: client,
            context: streamContext(requestID: requestID, includeUsage: clientWantsUsage))
    }

    func streamContext(requestID: String, includeUsage: Bool) -> StreamContext {
        StreamContext(
            model: clientModel, id: requestID, created: Int(Date().timeIntervalSince1970), includeUsage: includeUsage,
            freeformTools: Set(conversation.tools.filter(\.freeform).map(\.name)))
    }

    /// An upstream's refusal of the request (a 4xx in its own format), as the client's error.
    public static func upstreamMessage(_ body: ByteBuffer) -> String? {
        guard let tree = try? body.withUnsafeReadableBytes({ bytes throws(JSONSyntaxError) in try JSON.parse(bytes) }) else { return nil }
        return tree["error"]?["message"]?.string ?? tree["message"]?.string
    }
}

/// A stream observer for translated streams: the provider's own observer reads
/// usage, the end and errors; a reader turns events into pieces and a writer
/// turns pieces into the client's events.
struct TranslatingObserver: StreamObserver {
    var inner: any StreamObserver
    var reader: StreamReader
    var writer: Writer
    let client: Dialect
    var finished = false

    enum Writer: Sendable {
        case chat(ChatStreamWriter)
        case anthropic(AnthropicStreamWriter)
        case responses(ResponsesStreamWriter)
        case gemini(GeminiStreamWriter)

        mutating func write(_ piece: StreamPiece) -> String {
            switch self {
            case .chat(var writer):
                defer { self = .chat(writer) }
                return writer.write(piece)
            case .anthropic(var writer):
                defer { self = .anthropic(writer) }
                return writer.write(piece)
            case .responses(var writer):
                defer { self = .responses(writer) }
                return writer.write(piece)
            case .gemini(var writer):
                defer { self = .gemini(writer) }
                return writer.write(piece)
            }
        }

        mutating func finish(usage: TokenUsage?) -> String {
            switch self {
            case .chat(var writer):
                defer { self = .chat(writer) }
                return writer.finish(usage: usage)
            case .anthropic(var writer):
                defer { self = .anthropic(writer) }
                return writer.finish(usage: usage)
            case .responses(var writer):
                defer { self = .responses(writer) }
                return writer.finish(usage: usage)
            case .gemini(var writer):
                defer { self = .gemini(writer) }
                return writer.finish(usage: usage)
            }
        }
    }

    init(upstream: Dialect, client: Dialect, context: StreamContext) {
        switch upstream {
        case .anthropicMessages: inner = AnthropicStreamObserver()
        case .gemini: inner = GeminiStreamObserver()
        case .openAIChat, .openAIResponses: inner = OpenAIChatStreamObserver(clientWantsUsage: true)
        }
        reader = StreamReader(upstream, ids: "call_" + context.id)
        self.client = client
        switch client {
        case .openAIChat: writer = .chat(ChatStreamWriter(context: context))
        case .anthropicMessages: writer = .anthropic(AnthropicStreamWriter(context: context))
        case .openAIResponses: writer = .responses(ResponsesStreamWriter(context: context))
        case .gemini: writer = .gemini(GeminiStreamWriter(context: context))
        }
    }

    var usage: TokenUsage? { inner.usage }
    var completed: Bool { inner.completed }
    var upstreamErrorType: String? { inner.upstreamErrorType }
    var missingEnd: String? { nil }

    mutating func observe(_ event: SSEEvent) -> StreamVerdict {
        let errorBefore = inner.upstreamErrorType
        _ = inner.observe(event)
        if errorBefore == nil, let type = inner.upstreamErrorType {
            // The upstream's error, told in the client's own stream form.
            let error = GatewayError(
                FailureClass.classify(errorType: type).clientError, message: "The upstream provider reported an error (\(type)).")
            finished = true
            return .replace(ErrorBody.streamEvent(error, dialect: client, requestID: ""))
        }
        guard !finished else { return .replace(ByteBuffer()) }
        var out = ""
        for piece in reader.read(event) { out += writer.write(piece) }
        if inner.completed {
            finished = true
            out += writer.finish(usage: inner.usage)
        }
        return .replace(ByteBuffer(string: out))
    }
}
