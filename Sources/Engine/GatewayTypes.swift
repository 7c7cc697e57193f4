import NIOCore
import SwitchboardCore

/// A client request as the engine sees it: no HTTP server types.
public struct GatewayRequest: Sendable {
    /// The id echoed in response headers and the ledger.
    public var requestID: String
    /// The API shape of the route it came in on.
    public var dialect: Dialect
    /// The key the client presented, if any.
    public var credential: String?
    /// Request headers, lowercase names.
    public var headers: [(name: String, value: String)]
    /// The body as received.
    public var body: ByteBuffer
    /// When the request arrived, for latency.
    public var receivedAt: ContinuousClock.Instant

    /// Creates a request.
    public init(
        requestID: String, dialect: Dialect, credential: String?, headers: [(name: String, value: String)],
        body: ByteBuffer, receivedAt: ContinuousClock.Instant = .now
    ) {
        self.requestID = requestID
        self.dialect = dialect
        self.credential = credential
        self.headers = headers
        self.body = body
        self.receivedAt = receivedAt
    }

    /// The first value of a header.
    public func header(_ name: String) -> String? { headers.first { $0.name == name }?.value }
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
