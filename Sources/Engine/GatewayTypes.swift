import Dialects
import NIOCore
import SwitchboardCore
import Upstream

/// A client request as the engine sees it: no HTTP server types.
public struct GatewayRequest: Sendable {
    /// The id echoed in response headers and the ledger.
    public var requestID: String
    /// The API shape of the route it came in on.
    public var dialect: Dialect
    /// What the route asks of the upstream (chat, messages, embeddings).
    public var operation: UpstreamRequest.Operation
    /// The model named in the path (Gemini routes), which the body then lacks.
    public var pathModel: String?
    /// The key the client presented, if any.
    public var credential: String?
    /// Request headers, lowercase names.
    public var headers: [(name: String, value: String)]
    /// The body, read only once the key is known to be good.
    public var body: BodySource
    /// When the request arrived, for latency.
    public var receivedAt: ContinuousClock.Instant
    /// The client's IP address, for throttled logs: made into text only when
    /// asked (few requests need it).
    public var clientAddress: String? { address ?? peer?.ipAddress }
    private let address: String?
    /// The client's socket address.
    public let peer: SocketAddress?
    /// The event loop of the client's connection, where its upstream exchange runs.
    public let eventLoop: (any EventLoop)?

    /// Creates a request.
    public init(
        requestID: String, dialect: Dialect, operation: UpstreamRequest.Operation? = nil, pathModel: String? = nil, credential: String?,
        headers: [(name: String, value: String)], body: BodySource, receivedAt: ContinuousClock.Instant = .now, clientAddress: String? = nil,
        peer: SocketAddress? = nil, eventLoop: (any EventLoop)? = nil
    ) {
        self.address = clientAddress
        self.peer = peer
        self.eventLoop = eventLoop
        self.requestID = requestID
        self.dialect = dialect
        self.pathModel = pathModel
        self.operation = operation ?? Self.generation(dialect)
        self.credential = credential
        self.headers = headers
        self.body = body
        self.receivedAt = receivedAt
    }

    /// The first value of a header.
    public func header(_ name: String) -> String? { headers.first { $0.name == name }?.value }

    /// The generation operation of a dialect (Gemini's unary one; its stream is another route).
    static func generation(_ dialect: Dialect) -> UpstreamRequest.Operation {
        switch dialect {
        case .openAIChat: return .openAIChat
        case .anthropicMessages: return .anthropicMessages
        case .openAIResponses: return .openAIResponses
        case .gemini: return .geminiGenerate
        }
    }

    /// The body as the engine inspects it: Gemini's model and streaming come from the route.
    func inspect(_ body: ByteBuffer) throws(GatewayError) -> ClientRequest {
        try ClientRequest.inspect(body, dialect: dialect, pathModel: pathModel, pathStream: operation == .geminiStream)
    }

    /// Whether the client is OpenAI's Codex CLI (its `originator` header or User-Agent).
    var isCodex: Bool {
        (header("originator") ?? header("user-agent") ?? "").hasPrefixIgnoringASCIICase("codex")
    }
}

/// A request body not read yet: the engine reads it after authentication, so an
/// unauthenticated client cannot make the gateway buffer megabytes.
public struct BodySource: Sendable {
    /// The length the client declared, if it did.
    public var declaredLength: Int?
    /// Reads the whole body, failing once it passes `limit` bytes.
    public var read: @Sendable (_ limit: Int) async throws(BodyReadFailure) -> ByteBuffer

    /// Creates a source.
    public init(declaredLength: Int?, read: @escaping @Sendable (_ limit: Int) async throws(BodyReadFailure) -> ByteBuffer) {
        self.declaredLength = declaredLength
        self.read = read
    }

    /// A body already in memory.
    public static func buffer(_ buffer: ByteBuffer) -> BodySource {
        BodySource(declaredLength: buffer.readableBytes) { limit throws(BodyReadFailure) in
            guard buffer.readableBytes <= limit else { throw .tooLarge }
            return buffer
        }
    }
}

/// Why a request body could not be read.
public enum BodyReadFailure: Error, Sendable {
    /// It is larger than the gateway accepts.
    case tooLarge
    /// The client stopped sending it.
    case unreadable
}

/// Writes one piece of a streamed response; waits while the client is slow.
public typealias BodyWrite = (ByteBuffer) async throws -> Void

/// Produces a streamed response body by calling `write` for each piece.
public typealias StreamProducer = @Sendable (_ write: BodyWrite) async -> Void

/// The engine's answer.
public struct GatewayResponse: Sendable {
    /// The HTTP status.
    public var status: Int
    /// Response headers.
    public var headers: [(String, String)]
    /// The body.
    public var body: Body

    /// A whole body now, or one streamed as it is produced.
    public enum Body: Sendable {
        case full(ByteBuffer)
        case stream(StreamProducer)
    }

    /// Creates a response.
    public init(status: Int, headers: [(String, String)], body: Body) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}
