import NIOCore
import NIOHTTPTypes

/// Lets the parts of an answer written one after another in one turn of the
/// event loop leave in one system call. Hummingbird flushes after every part
/// of a streamed answer (the head, each chunk of the body, the end), so a
/// stream whose events had all arrived cost four socket writes where a whole
/// JSON answer costs one, and woke its client up to three times.
///
/// A flush after a head or a body chunk is held until the loop has run what it
/// is running now (an `execute`d task), so whatever the relay writes next in
/// the same turn joins it; a flush after the end goes at once and takes
/// everything written before with it. A chunk that waits on the upstream
/// still leaves as soon as the relay suspends: nothing is held across an
/// `await` that really waits.
final class FlushCoalescer: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// The last part written ended an answer.
    private var answerEnded = false
    /// A held flush is scheduled on the loop.
    private var flushScheduled = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { answerEnded = true } else { answerEnded = false }
        context.write(data, promise: promise)
    }

    func flush(context: ChannelHandlerContext) {
        if answerEnded {
            context.flush()
            return
        }
        guard !flushScheduled else { return }
        flushScheduled = true
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let (coalescer, context) = bound.value
            coalescer.flushScheduled = false
            context.flush()
        }
    }
}
