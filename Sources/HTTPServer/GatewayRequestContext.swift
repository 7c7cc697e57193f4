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

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.requestID = RequestID.make()
        self.receivedAt = .now
    }
}
