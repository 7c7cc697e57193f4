import NIOCore
import NIOHTTP1
import SwitchboardCore

/// One keep-alive HTTP/1.1 connection to an upstream origin, and the handler
/// at the end of its pipeline. It serves one exchange at a time: writes the
/// request, hands the head to the waiting sender, feeds the body to an
/// `UpstreamReader` with backpressure, and goes back to its pool at the end
/// of a response that allows reuse.
///
/// Every member is touched only on the channel's event loop (the pool, the
/// timer and the reader's demand all hop there), which is why the class can
/// be `@unchecked Sendable`.
final class HTTP1Connection: ChannelDuplexHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    /// Where an exchange stands.
    private enum State {
        /// In the pool, or between exchanges.
        case idle
        /// The request is written (or being written); no head yet.
        case awaitingHead(exchange: Int, promise: EventLoopPromise<UpstreamResponse>)
        /// The head went to the sender; body chunks go to its reader.
        case streaming(exchange: Int, source: UpstreamReader.Chunks.Source, keepAlive: Bool)
        /// Closed or closing: nothing more is read or written.
        case closed
    }

    let channel: any Channel
    let origin: UpstreamOrigin
    private let settings: TransportSettings
    /// Its pool (which holds it while it is idle, and lets go at shutdown).
    private let pool: HTTP1Pool
    private var context: ChannelHandlerContext?
    private var state = State.idle
    /// Exchanges begun on this connection (numbers them, so a late signal from
    /// an earlier exchange's reader is told apart).
    private(set) var exchanges = 0
    /// Whether the reader wants more chunks now.
    private var readerWantsMore = true
    /// A socket read held back until the reader wants more.
    private var heldRead = false
    /// When bytes last arrived during an exchange.
    private var lastRead = NIODeadline.now()
    /// When the exchange's head must have arrived.
    private var firstByteDue = NIODeadline.now()
    /// The connection's one timer, and when it fires. It is not moved for each
    /// exchange (scheduling one costs allocations and a heap insert): it fires
    /// at the earliest deadline it was asked for and sets itself again for the
    /// exchange under way, if there is one.
    private var timer: (task: Scheduled<Void>, at: NIODeadline)?
    /// When it went back to the pool.
    var idleSince = NIODeadline.now()

    init(channel: any Channel, origin: UpstreamOrigin, settings: TransportSettings, pool: HTTP1Pool) {
        self.channel = channel
        self.origin = origin
        self.settings = settings
        self.pool = pool
    }

    var isOpen: Bool {
        if case .closed = state { return false }
        return true
    }

    // MARK: Exchanges

    /// Writes a request; the promise gets the response head, or the failure
    /// (`StaleConnection` for a reset before any answer on a reused
    /// connection, which the transport may retry on a fresh one).
    func execute(_ head: HTTPRequestHead, body: ByteBuffer?, promise: EventLoopPromise<UpstreamResponse>) {
        guard case .idle = state, let context else {
            promise.fail(TransportFailure.connectionReset)
            return
        }
        exchanges += 1
        state = .awaitingHead(exchange: exchanges, promise: promise)
        readerWantsMore = true
        lastRead = .now()
        firstByteDue = lastRead + settings.firstByteTimeout
        arm(by: firstByteDue)
        // The head's promise fails both when the encoder refuses it (a header
        // value it will not send) and when the socket fails the flush: either
        // way no answer will come.
        let written = context.eventLoop.makePromise(of: Void.self)
        context.write(wrapOutboundOut(.head(head)), promise: written)
        if let body { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        let exchange = exchanges
        written.futureResult.whenFailure { [self] error in
            if case .awaitingHead(exchange, _) = state { close(failing: error) }
        }
    }

    /// The sender stopped waiting for the head (its client left).
    func cancel(exchange: Int) {
        if case .awaitingHead(exchange, _) = state { close(failing: TransportFailure.connectionReset) }
    }

    /// The reader of an exchange wants more chunks.
    func resumeReading(exchange: Int) {
        guard case .streaming(exchange, _, _) = state else { return }
        readerWantsMore = true
        if heldRead, let context {
            heldRead = false
            context.read()
        }
    }

    /// The reader of an exchange is gone (finished, cancelled or dropped):
    /// before the end of the body, the connection cannot be reused.
    func readerGone(exchange: Int) {
        guard case .streaming(exchange, _, _) = state else { return }
        close(failing: TransportFailure.connectionReset)
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            guard case .awaitingHead(let exchange, let promise) = state else {
                // An answer nobody asked for: the connection cannot be trusted.
                return close(failing: TransportFailure.badResponse)
            }
            lastRead = .now()
            arm(by: lastRead + settings.idleTimeout)
            let made = UpstreamReader.Chunks.makeSequence(
                backPressureStrategy: UpstreamReader.backpressure, finishOnDeinit: true,
                delegate: BodyDemand(self, exchange: exchange))
            state = .streaming(exchange: exchange, source: made.source, keepAlive: head.isKeepAlive)
            var headers: [(name: String, value: String)] = []
            headers.reserveCapacity(head.headers.count)
            for (name, value) in head.headers { headers.append((name.lowercased(), value)) }
            promise.succeed(UpstreamResponse(status: Int(head.status.code), headers: headers, body: UpstreamReader(made.sequence)))
        case .body(let chunk):
            guard case .streaming(_, let source, _) = state else { return close(failing: TransportFailure.badResponse) }
            lastRead = .now()
            switch source.yield(chunk) {
            case .produceMore: break
            case .stopProducing: readerWantsMore = false
            case .dropped: close(failing: TransportFailure.connectionReset)
            }
        case .end:
            guard case .streaming(_, let source, let keepAlive) = state else { return close(failing: TransportFailure.badResponse) }
            // The timer stays: the next exchange on this connection most likely uses it.
            source.finish()
            state = .idle
            readerWantsMore = true
            if heldRead {
                heldRead = false
                context.read()
            }
            if keepAlive { pool.release(self) } else { close(failing: TransportFailure.connectionReset) }
        }
    }

    func read(context: ChannelHandlerContext) {
        // Reads go on while idle (so a peer's close is seen at once) and until
        // the reader has enough buffered.
        if case .streaming = state, !readerWantsMore {
            heldRead = true
            return
        }
        context.read()
    }

    func channelInactive(context: ChannelHandlerContext) {
        close(failing: TransportFailure.connectionReset)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        close(failing: error)
    }

    // MARK: Ending

    /// Fails whatever is in flight and closes the channel, once.
    func close(failing error: any Error) {
        let failure = TransportFailure.classify(error)
        let previous = state
        state = .closed
        timer?.task.cancel()
        timer = nil
        switch previous {
        case .closed:
            return
        case .idle:
            break
        case .awaitingHead(let exchange, let promise):
            // Nothing of an answer came on a connection that served before:
            // most likely the upstream closed it as idle while the request
            // was sent, and a fresh connection may well succeed.
            let stale = exchange > 1 && failure == .connectionReset
            promise.fail(stale ? StaleConnection() : failure)
        case .streaming(_, let source, _):
            source.finish(failure)
        }
        pool.forget(self)
        context?.close(promise: nil)
    }

    /// Makes sure the timer fires by `deadline` (the first-byte deadline, or
    /// the idle deadline counted from the last read): an earlier timer is kept.
    private func arm(by deadline: NIODeadline) {
        if let timer, timer.at <= deadline { return }
        timer?.task.cancel()
        let task = channel.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(deadline: deadline) { [self] in timerFired() }
        timer = (task, deadline)
    }

    /// Ends an exchange past its deadline, or sets the timer for the
    /// exchange's real deadline when it fired early (set for an earlier
    /// exchange, or before the last read); between exchanges it rests.
    private func timerFired() {
        timer = nil
        let now = NIODeadline.now()
        switch state {
        case .awaitingHead:
            if firstByteDue <= now { close(failing: TransportFailure.firstByteTimeout) } else { arm(by: firstByteDue) }
        case .streaming:
            let due = lastRead + settings.idleTimeout
            if due <= now { close(failing: TransportFailure.idleTimeout) } else { arm(by: due) }
        case .idle, .closed:
            break
        }
    }
}

/// A failure before any answer on a connection that had served before.
struct StaleConnection: Error {}

/// Tells a connection what its exchange's reader wants, on the connection's loop.
struct BodyDemand: NIOAsyncSequenceProducerDelegate {
    private let connection: NIOLoopBound<HTTP1Connection>?
    private let exchange: Int

    init(_ connection: HTTP1Connection?, exchange: Int = 0) {
        self.connection = connection.map { NIOLoopBound($0, eventLoop: $0.channel.eventLoop) }
        self.exchange = exchange
    }

    func produceMore() {
        guard let connection else { return }
        let exchange = exchange
        connection.eventLoop.execute { connection.value.resumeReading(exchange: exchange) }
    }

    func didTerminate() {
        guard let connection else { return }
        let exchange = exchange
        connection.eventLoop.execute { connection.value.readerGone(exchange: exchange) }
    }
}
