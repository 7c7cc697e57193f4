import Dialects
import NIOCore
import SwitchboardCore
import Upstream

/// How a request reaches an account whose provider speaks another format: a
/// generation through the canonical form, or embeddings to Gemini.
enum Carrier: Sendable {
    case generation(Translator)
    case embeddings(EmbeddingsTranslator)
    /// Token counting, by the other provider's counting endpoint or an estimate.
    case counting(Translator)

    /// Reads the request for carrying; what cannot be carried is the client's 400.
    init(_ client: ClientRequest, operation: UpstreamRequest.Operation) throws(GatewayError) {
        switch operation {
        case .openAIEmbeddings: self = .embeddings(try EmbeddingsTranslator(client))
        case .anthropicCountTokens, .geminiCountTokens: self = .counting(try Translator(counting: client))
        default: self = .generation(try Translator(client))
        }
    }

    /// The counting request for a provider with a counting endpoint; nil for
    /// one without (OpenAI-compatible), where `estimatedCount` answers.
    func countRequest(for provider: Provider, model: String) throws(GatewayError) -> (UpstreamRequest.Operation, ByteBuffer)? {
        guard case .counting(let translator) = self, let body = try translator.countBody(for: provider, model: model) else { return nil }
        return (provider == .anthropic ? .anthropicCountTokens : .geminiCountTokens, body)
    }

    /// The client's counting answer for a number of tokens.
    func countAnswer(_ tokens: Int) -> ByteBuffer? {
        guard case .counting(let translator) = self else { return nil }
        return translator.countAnswer(tokens)
    }

    /// The client's counting answer estimated here (one token per four bytes of the prompt).
    var estimatedCount: ByteBuffer? {
        guard case .counting(let translator) = self else { return nil }
        return translator.countAnswer(translator.estimatedTokens())
    }

    /// The operation and body for an account of `provider`.
    func outbound(for provider: Provider, model: String, stream: Bool) throws(GatewayError) -> (UpstreamRequest.Operation, ByteBuffer) {
        switch self {
        case .generation(let translator):
            return (.generation(for: provider, stream: stream), try translator.upstreamBody(for: provider, model: model))
        case .counting:
            throw GatewayError(.internalError)
        case .embeddings(let translator):
            guard provider == .gemini else {
                throw GatewayError(
                    .invalidRequest, message: "Embeddings for this model are served only by OpenAI-compatible and Gemini accounts.", param: "model")
            }
            return (.geminiEmbed, translator.upstreamBody(model: model))
        }
    }

    /// The client's answer from the upstream's whole answer; nil when it is unusable.
    func clientBody(fromUpstream body: ByteBuffer, provider: Provider, usage: TokenUsage, requestID: String) -> ByteBuffer? {
        switch self {
        case .generation(let translator):
            return translator.clientBody(fromUpstream: body, provider: provider, usage: usage, requestID: requestID)
        case .embeddings(let translator):
            return translator.clientBody(fromUpstream: body, usage: usage)
        case .counting:
            return nil
        }
    }

    /// Usage to bill when the upstream reports none (an estimate; the row says so).
    var estimatedUsage: TokenUsage? {
        if case .embeddings(let translator) = self { return translator.estimatedUsage }
        return nil
    }

    /// The observer that writes a translated stream (generations only stream).
    func streamObserver(provider: Provider, requestID: String, clientWantsUsage: Bool) -> (any StreamObserver)? {
        guard case .generation(let translator) = self else { return nil }
        return translator.streamObserver(provider: provider, requestID: requestID, clientWantsUsage: clientWantsUsage)
    }
}
