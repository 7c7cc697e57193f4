import NIOCore
import SwitchboardCore

#if canImport(Glibc)
    import Glibc
#endif

/// First in every client connection's pipeline: sees the raw bytes, keeps the
/// connection's one deadline (as `ConnectionClock` decides), and closes the
/// connection when it passes. `RequestPhaseHandler`, after the HTTP decoder,
/// tells it where each request stands. Everything runs on the connection's
/// event loop.
///
/// A request moves the deadline three or four times, so the timer is lazy (as
/// nginx's and NIO's idle timers are): a later deadline leaves the scheduled
/// task alone, and the task, when it runs early, schedules itself again for
/// the deadline; only an earlier deadline reschedules. Scheduling and
/// cancelling a task per phase cost more CPU than the rest of the guard.
final class ConnectionGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private var clock: ConnectionClock
    private let registry: ConnectionRegistry
    /// When the clock's timer is due, if it is armed.
    private var deadline: NIODeadline?
    /// The task scheduled on the event loop, and when it runs (never after `deadline`).
    private var timer: (task: Scheduled<Void>, at: NIODeadline)?
    /// Whether the registry was last told the connection may be evicted.
    private var toldEvictable = true
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
        stopTimer()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        apply(clock.connected())
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopTimer()
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
    func requestRead() { apply(clock.requestRead(unsentBytes: self.unsentBytes)) }
    func responseWritten() { apply(clock.responseWritten()) }

    private func apply(_ decision: ConnectionClock.Timer) {
        guard let context else { return }
        if clock.isEvictable != toldEvictable {
            toldEvictable = clock.isEvictable
            registry.update(context.channel, evictable: toldEvictable, now: .now())
        }
        switch decision {
        case .keep:
            return
        case .cancel:
            // The scheduled task, if any, finds nothing due and ends.
            deadline = nil
        case .close:
            stopTimer()
            context.close(promise: nil)
        case .abort:
            stopTimer()
            // SO_LINGER 0: the close sends a reset and frees the unsent bytes at once.
            guard let socket = context.channel as? any SocketOptionProvider else {
                context.close(promise: nil)
                return
            }
            let channel = context.channel
            socket.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
        case .arm(let duration):
            let due = NIODeadline.now() + TimeAmount(duration)
            deadline = due
            if let timer, timer.at <= due { return }
            schedule(at: due, on: context.eventLoop)
        }
    }

    private func schedule(at due: NIODeadline, on eventLoop: any EventLoop) {
        timer?.task.cancel()
        let this = NIOLoopBound(self, eventLoop: eventLoop)
        timer = (eventLoop.scheduleTask(deadline: due) { this.value.timerRan() }, due)
    }

    private func stopTimer() {
        timer?.task.cancel()
        timer = nil
        deadline = nil
    }

    /// The scheduled task ran: the clock's timer fires if its deadline has
    /// come; if the deadline moved later meanwhile, wait for it.
    private func timerRan() {
        timer = nil
        guard let due = deadline, let context else { return }
        guard NIODeadline.now() >= due else {
            schedule(at: due, on: context.eventLoop)
            return
        }
        deadline = nil
        // Out of time for this phase, unless a body is still coming fast
        // enough: a slow or silent client gives its socket back.
        apply(clock.timerFired(now: now, unsentBytes: unsentBytes))
    }
}

extension TimeAmount {
    /// The same span as a `Duration`, in nanoseconds.
    init(_ duration: Duration) {
        let (seconds, attos) = duration.components
        self = .nanoseconds(seconds.saturatingMultiply(1_000_000_000).saturatingAdd(attos / 1_000_000_000))
    }
}
