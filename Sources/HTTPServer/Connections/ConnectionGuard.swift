import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// First in every client connection's pipeline: sees the raw bytes, keeps the
/// connection's one deadline timer (as `ConnectionClock` decides), and closes
/// the connection when it fires. `RequestPhaseHandler`, after the HTTP
/// decoder, tells it where each request stands. Everything runs on the
/// connection's event loop.
final class ConnectionGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private var clock: ConnectionClock
    private let registry: ConnectionRegistry
    private var timer: Scheduled<Void>?
    private var context: ChannelHandlerContext?
    private let opened = NIODeadline.now()

    /// Bytes written to the connection and not yet taken by the socket.
    private var unsentBytes: Int? { try? context?.channel.syncOptions?.getOption(ChannelOptions.bufferedWritableBytes) }

    /// Time since the connection opened.
    private var now: Duration { Duration(NIODeadline.now() - opened) }

    init(limits: ConnectionLimits, registry: ConnectionRegistry) {
        self.clock = ConnectionClock(limits: limits)
        self.registry = registry
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { apply(clock.connected()) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        apply(clock.connected())
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        apply(clock.writabilityChanged(writable: context.channel.isWritable, unsentBytes: unsentBytes))
        context.fireChannelWritabilityChanged()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        apply(clock.bytesArrived(unwrapInboundIn(data).readableBytes))
        context.fireChannelRead(data)
    }

    // MARK: phases, from the request handler

    func headParsed(declaredLength: Int?) { apply(clock.headParsed(declaredLength: declaredLength, now: now)) }
    func requestRead() { apply(clock.requestRead(unsentBytes: unsentBytes)) }
    func responseWritten() { apply(clock.responseWritten()) }

    private func apply(_ decision: ConnectionClock.Timer) {
        guard let context else { return }
        registry.update(context.channel, evictable: clock.isEvictable, now: .now())
        switch decision {
        case .keep:
            return
        case .cancel:
            timer?.cancel()
            timer = nil
        case .close:
            timer = nil
            context.close(promise: nil)
        case .abort:
            timer = nil
            // SO_LINGER 0: the close sends a reset and frees the unsent bytes at once.
            guard let socket = context.channel as? SocketOptionProvider else {
                context.close(promise: nil)
                return
            }
            let channel = context.channel
            socket.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
        case .arm(let duration):
            timer?.cancel()
            let this = NIOLoopBound(self, eventLoop: context.eventLoop)
            timer = context.eventLoop.scheduleTask(in: TimeAmount(duration)) {
                // Out of time for this phase, unless a body is still coming fast
                // enough: a slow or silent client gives its socket back.
                let guardian = this.value
                guardian.apply(guardian.clock.timerFired(now: guardian.now, unsentBytes: guardian.unsentBytes))
            }
        }
    }
}

extension TimeAmount {
    /// The same span as a `Duration`, in nanoseconds.
    init(_ duration: Duration) {
        let (seconds, attos) = duration.components
        self = .nanoseconds(seconds.saturatingMultiply(1_000_000_000).saturatingAdd(attos / 1_000_000_000))
    }
}
