import Foundation
import NIOCore
import SwitchboardCore

/// One attempt to send a request to one upstream account.
public struct UpstreamRequest: Sendable {
    /// The provider, which decides how credentials are sent.
    public var provider: Provider
    /// The account's API root.
    public var baseURL: String
    /// The account's credential.
    public var secret: String
    /// The operation, which decides the path under the base URL.
    public var operation: Operation
    /// The upstream model, for operations that name it in the path (Gemini's).
    public var model: String
    /// The body, already rewritten for this account.
    public var body: ByteBuffer
    /// Client headers that must reach the upstream (`anthropic-version`, …), by lowercase name.
    public var forwardedHeaders: [(name: String, value: String)]
    /// The header the credential goes in instead of the provider's own
    /// (`auth_header`, lower-case): `authorization` carries `Bearer`, any other the bare secret.
    public var authHeader: String?
    /// Azure: the deployment (`{model}` stands for the upstream model) and the `api-version`.
    public var deployment: String?
    public var apiVersion: String?
    /// Which way the request leaves: the transport's default proxy, direct, or a proxy of the account's own.
    public var egress = Egress.inherit
    /// The event loop of the client's connection: the upstream connection is
    /// taken from the same loop, so the exchange stays on one thread.
    public var eventLoop: (any EventLoop)?

    /// The upstream operations the gateway knows.
    public enum Operation: String, Sendable {
        case openAIChat = "openai_chat"
        case anthropicMessages = "anthropic_messages"
        /// `POST …/embeddings` (OpenAI-compatible).
        case openAIEmbeddings = "openai_embeddings"
        /// `POST …/v1/messages/count_tokens` (Anthropic).
        case anthropicCountTokens = "anthropic_count_tokens"
        /// `POST …/responses` (OpenAI Responses).
        case openAIResponses = "openai_responses"
        /// `POST …/v1beta/models/{model}:generateContent`.
        case geminiGenerate = "gemini_generate"
        /// `POST …/v1beta/models/{model}:streamGenerateContent?alt=sse`.
        case geminiStream = "gemini_stream"
        /// `POST …/v1beta/models/{model}:countTokens`.
        case geminiCountTokens = "gemini_count_tokens"
        /// `POST …/v1beta/models/{model}:batchEmbedContents`.
        case geminiEmbed = "gemini_embed"
        /// `GET …/models`: free, and answers 401 for a bad credential; used by health probes.
        case listModels = "list_models"

        /// The operation a translated generation uses at a provider.
        public static func generation(for provider: Provider, stream: Bool) -> Operation {
            switch provider {
            case .openai, .azure: return .openAIChat
            case .anthropic: return .anthropicMessages
            case .gemini: return stream ? .geminiStream : .geminiGenerate
            }
        }

        /// Whether a request for this operation can be translated for a provider
        /// that speaks another dialect (generations can, and OpenAI embeddings for
        /// Gemini; counting has its own path).
        public var translatable: Bool {
            switch self {
            case .openAIChat, .anthropicMessages, .openAIResponses, .geminiGenerate, .geminiStream, .openAIEmbeddings: return true
            case .anthropicCountTokens, .geminiCountTokens, .geminiEmbed, .listModels: return false
            }
        }
    }

    /// Creates a request.
    public init(
        provider: Provider, baseURL: String, secret: String, operation: Operation, model: String = "", body: ByteBuffer,
        forwardedHeaders: [(name: String, value: String)], eventLoop: (any EventLoop)? = nil
    ) {
        self.eventLoop = eventLoop
        self.provider = provider
        self.baseURL = baseURL
        self.secret = secret
        self.operation = operation
        self.model = model
        self.body = body
        self.forwardedHeaders = forwardedHeaders
    }

    /// The client headers that are forwarded upstream; everything else (the
    /// client's own credentials above all) stays behind.
    public static let forwardableHeaders = ["anthropic-version", "anthropic-beta", "user-agent"]

    /// The Anthropic API version sent when the client names none.
    public static let defaultAnthropicVersion = "2023-06-01"

    /// The full URL: the base URL joined with the operation's path.
    public var url: String {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        if provider == .azure { return azureURL(base) }
        switch operation {
        case .openAIChat:
            return base + "/chat/completions"
        case .openAIEmbeddings:
            return base + "/embeddings"
        case .openAIResponses:
            return base + "/responses"
        case .geminiGenerate:
            return geminiRoot(base) + "/models/" + geminiModel + ":generateContent"
        case .geminiStream:
            return geminiRoot(base) + "/models/" + geminiModel + ":streamGenerateContent?alt=sse"
        case .geminiCountTokens:
            return geminiRoot(base) + "/models/" + geminiModel + ":countTokens"
        case .geminiEmbed:
            return geminiRoot(base) + "/models/" + geminiModel + ":batchEmbedContents"
        case .anthropicCountTokens:
            return base.hasSuffix("/v1") ? base + "/messages/count_tokens" : base + "/v1/messages/count_tokens"
        case .anthropicMessages:
            // Accept base URLs written with or without the trailing `/v1`.
            return base.hasSuffix("/v1") ? base + "/messages" : base + "/v1/messages"
        case .listModels:
            // One page holds every model a provider has (their defaults are 20 to 50).
            switch provider {
            case .openai, .azure: return base + "/models"
            case .anthropic: return (base.hasSuffix("/v1") ? base + "/models" : base + "/v1/models") + "?limit=1000"
            case .gemini: return geminiRoot(base) + "/models?pageSize=1000"
            }
        }
    }

    /// Azure OpenAI's URL: the operation under the deployment, with the API version.
    private func azureURL(_ base: String) -> String {
        let query = "?api-version=" + (apiVersion ?? Self.defaultAzureAPIVersion)
        let name = (deployment ?? "{model}").replacingOccurrences(of: "{model}", with: model)
        let deployment = base + "/openai/deployments/" + (name.addingPercentEncoding(withAllowedCharacters: Self.pathCharacters) ?? name)
        switch operation {
        case .openAIEmbeddings: return deployment + "/embeddings" + query
        case .listModels: return base + "/openai/models" + query
        default: return deployment + "/chat/completions" + query
        }
    }

    /// The Azure API version used when an account names none.
    public static let defaultAzureAPIVersion = "2024-10-21"

    /// Gemini's versioned root: the API root as the SDK uses it plus `/v1beta`
    /// (a base URL that already ends in a version is taken as is).
    private func geminiRoot(_ base: String) -> String {
        base.hasSuffix("/v1beta") || base.hasSuffix("/v1") ? base : base + "/v1beta"
    }

    /// A Gemini model as a path segment: without a `models/` prefix a map may have
    /// written, and percent-encoded.
    private var geminiModel: String {
        let bare = GeminiModelName.bare(model)
        return bare.addingPercentEncoding(withAllowedCharacters: Self.pathCharacters) ?? bare
    }

    private static let pathCharacters: CharacterSet = {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "/:?#%")
        return allowed
    }()

    /// The headers sent upstream, in order: the credential in the provider's
    /// own form, then the forwarded client headers (handed over one by one, so
    /// no list is built per request).
    public func eachHeader(_ body: (_ name: String, _ value: String) -> Void) {
        if operation != .listModels { body("content-type", "application/json") }
        switch (authHeader, provider) {
        case ("authorization"?, _), (nil, .openai): body("authorization", "Bearer " + secret)
        case (let name?, _): body(name, secret)
        case (nil, .anthropic): body("x-api-key", secret)
        case (nil, .gemini): body("x-goog-api-key", secret)
        case (nil, .azure): body("api-key", secret)
        }
        for header in forwardedHeaders { body(header.name, header.value) }
        if provider == .anthropic, !forwardedHeaders.contains(where: { $0.name == "anthropic-version" }) {
            body("anthropic-version", Self.defaultAnthropicVersion)
        }
    }
}

extension UpstreamRequest: CustomStringConvertible {
    /// Names the destination, never the secret or the body.
    public var description: String { "UpstreamRequest(\(provider.rawValue), \(url))" }
}

/// An upstream's answer: status and head now, the body as it arrives.
public struct UpstreamResponse: Sendable {
    /// The HTTP status.
    public var status: Int
    /// The response headers, lowercase names.
    public var headers: [(name: String, value: String)]
    /// The body, read chunk by chunk.
    public var body: UpstreamReader

    /// Creates a response (a transport makes one per answer).
    public init(status: Int, headers: [(name: String, value: String)], body: UpstreamReader) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The first value of a header.
    public func header(_ name: String) -> String? { headers.first { $0.name == name }?.value }

    /// The whole body, up to `limit` bytes (more is `badResponse`). A body whose
    /// declared length is larger is refused before a byte of it is read: the
    /// reader goes unread and its connection closes.
    public func collect(upTo limit: Int) async throws(TransportFailure) -> ByteBuffer {
        if let declared = header("content-length").flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }), declared > limit {
            throw .badResponse
        }
        return try await body.collect(upTo: limit)
    }
}
