import Hummingbird
import SwitchboardCore

/// The per-request context: Hummingbird's core storage plus the request id every
/// response carries.
public struct GatewayRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// This request's id.
    public let requestID: String
    /// When the request arrived.
    public let receivedAt: ContinuousClock.Instant
    /// The client's IP address (no port), for throttling and logs.
    public let remoteAddress: String?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.requestID = RequestID.make()
        self.receivedAt = .now
        self.remoteAddress = source.channel.remoteAddress?.ipAddress
    }
}
