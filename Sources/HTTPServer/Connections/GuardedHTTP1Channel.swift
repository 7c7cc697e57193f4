import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import SwitchboardCore

/// Hummingbird's HTTP/1 child channel with the gateway's protections around
/// it: a `ConnectionGuard` first in the pipeline (deadlines for the head, the
/// body and keep-alive), the head limits (`max_header_fields`,
/// `max_head_size`) in the decoder, a `RequestPhaseHandler` after it
/// (phases, and closing when an answer leaves a body unread), and a
/// `FlushCoalescer` (the parts of an answer written in one turn, one write).
struct GuardedHTTP1Channel: HTTPChannelHandler {
    typealias Value = HTTP1Channel.Value

    let inner: HTTP1Channel
    let limits: ConnectionLimits
    let registry: ConnectionRegistry

    init(responder: @escaping HTTPChannelHandler.Responder, limits: ConnectionLimits, registry: ConnectionRegistry) {
        let decoder = HTTP1Channel.Configuration.DecoderConfiguration(
            maxHeaderFieldSize: limits.maxHeadBytes, maxHeaderListSize: limits.maxHeadBytes, maxHeaderFieldCount: limits.maxHeaderFields)
        inner = HTTP1Channel(
            responder: responder,
            configuration: .init(additionalChannelHandlers: [RequestPhaseHandler(), FlushCoalescer()], httpDecoderConfiguration: decoder))
        self.limits = limits
        self.registry = registry
    }

    var responder: HTTPChannelHandler.Responder { inner.responder }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        do {
            try channel.pipeline.syncOperations.addHandler(ConnectionGuard(limits: limits, registry: registry), position: .first)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return inner.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await withTaskExecutorPreference(LoopTaskExecutor.of(value.channel.eventLoop)) {
            await inner.handle(value: value, logger: logger)
        }
    }
}

extension HTTPServerBuilder {
    /// HTTP/1 with the gateway's connection limits.
    static func guardedHTTP1(limits: ConnectionLimits, registry: ConnectionRegistry) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in GuardedHTTP1Channel(responder: responder, limits: limits, registry: registry) }
    }
}

/// The connection protections as the composition root uses them: the child
/// channel builder and the listener hook that share one registry.
public struct ConnectionProtection: Sendable {
    let limits: ConnectionLimits
    let registry: ConnectionRegistry
    let logger: Logger

    /// Protections for these limits; the connection cap is fitted to the
    /// process's descriptors.
    public init(limits: ConnectionLimits, logger: Logger) {
        self.limits = limits
        self.registry = ConnectionRegistry(capacity: DescriptorBudget.connections(wanted: limits.maxConnections))
        self.logger = logger
    }

    /// The server's child channel setup.
    public var server: HTTPServerBuilder { .guardedHTTP1(limits: limits, registry: registry) }

    /// Connections held at once.
    public var capacity: Int { registry.capacity }

    /// Connections held now.
    public var connections: Int { registry.count }

    /// Connections closed to make room, and connections turned away for want of any.
    public var counters: (evicted: Int, refused: Int) { registry.counters }

    /// Installs the listener guard on the listening channel (from
    /// `onServerRunning`), and lets it accept `acceptsPerRead` connections each
    /// time it is readable.
    public func install(on listener: any Channel) async {
        let registry = registry
        let logger = logger
        try? await listener.eventLoop.submit {
            try listener.pipeline.syncOperations.addHandler(ListenerGuard(registry: registry, logger: logger), position: .first)
        }.get()
        do {
            try await listener.setOption(ChannelOptions.maxMessagesPerRead, value: Self.acceptsPerRead).get()
        } catch {
            logger.warning("the listener accepts NIO's default of connections per read", metadata: ["error": "\(error)"])
        }
    }

    /// Connections accepted each time the listener is readable. NIO's default,
    /// 4, between rounds of serving every other connection on the loop, made a
    /// thousand clients connecting at once wait for their turn to be accepted:
    /// p99 1.2–1.3 s over a 4 s run at c=1,000, 85–330 requests past wrk's 2 s
    /// timeout; with 64, 0.17–0.32 s and none.
    static let acceptsPerRead: UInt = 64
}
