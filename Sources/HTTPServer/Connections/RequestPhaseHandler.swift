import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// After the HTTP decoder: tells the connection's guard when a request head
/// arrived, when its body was read and when its answer was written; and when
/// an answer goes out before its request's body was read (a 401, a 413), it
/// marks the answer `connection: close`, stops reading, and closes the
/// connection once the answer is written, rather than read an unwanted body.
final class RequestPhaseHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// How long the body's tail is read (and dropped) after such an answer, so
    /// the answer is not lost to a reset.
    static let lingerTime: TimeAmount = .seconds(2)

    private weak var connectionGuard: ConnectionGuard?
    /// A request whose body has not been read in full.
    private var readingBody = false
    /// The answer under way goes out with the request body unread: close after it.
    private var closeAfterAnswer = false
    /// Inbound is being dropped until the connection closes.
    private var discarding = false

    func handlerAdded(context: ChannelHandlerContext) {
        connectionGuard = try? context.pipeline.syncOperations.handler(type: ConnectionGuard.self)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !discarding else { return }
        let part = unwrapInboundIn(data)
        switch part {
        case .head(let request):
            readingBody = true
            connectionGuard?.headParsed(declaredLength: request.headerFields.value(.contentLength).flatMap { Int($0) })
        case .body:
            break
        case .end:
            readingBody = false
            connectionGuard?.requestRead()
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var response) where readingBody:
            // Answered before the body was read: this connection ends with this answer.
            closeAfterAnswer = true
            response.headerFields[.connection] = "close"
            context.write(wrapOutboundOut(.head(response)), promise: promise)
        case .end where closeAfterAnswer:
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.cascade(to: promise)
            context.write(data, promise: written)
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            written.futureResult.whenComplete { _ in bound.value.0.linger(bound.value.1) }
        case .end:
            context.write(data, promise: promise)
            connectionGuard?.responseWritten()
        default:
            context.write(data, promise: promise)
        }
    }

    /// Half-closes after the answer, drops what the client still sends, and
    /// closes when it stops or after `lingerTime`.
    private func linger(_ context: ChannelHandlerContext) {
        discarding = true
        context.flush()
        context.close(mode: .output, promise: nil)
        let channel = context.channel
        context.eventLoop.scheduleTask(in: Self.lingerTime) { channel.close(promise: nil) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if discarding, let event = event as? ChannelEvent, event == .inputClosed {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
