import Hummingbird
import NIOCore
import SwitchboardCore

/// The per-request context: Hummingbird's core storage plus the request id every
/// response carries.
public struct GatewayRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// This request's id.
    public let requestID: String
    /// When the request arrived.
    public let receivedAt: ContinuousClock.Instant
    /// The client's socket address; its text only when asked (most requests never need it).
    let peer: SocketAddress?
    /// The connection's event loop (upstream connections are taken from the same one).
    let eventLoop: any EventLoop
    /// The client's IP address (no port), for throttling and logs.
    public var remoteAddress: String? { peer?.ipAddress }

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.requestID = RequestID.make()
        self.receivedAt = .now
        self.peer = source.channel.remoteAddress
        self.eventLoop = source.channel.eventLoop
    }
}
