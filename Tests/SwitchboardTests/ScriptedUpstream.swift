import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A loopback HTTP/1.1 server whose every answer a test scripts, per
/// connection and per request on it: for what an HTTP framework will not do
/// (close a kept-alive connection under a request, never answer, send a head
/// too large), and to count the connections the transport opened.
final class ScriptedUpstream: Sendable {
    /// What the server does with a request.
    enum Action: Sendable {
        /// Answers with a status, headers and a body (a content-length is added).
        case answer(status: Int = 200, headers: [(String, String)] = [], body: String = "{}")
        /// Closes the connection without a byte of answer.
        case close
        /// Never answers.
        case hold
    }

    /// Requests seen so far: (connection number, request number on it), from 1.
    typealias Script = @Sendable (_ connection: Int, _ request: Int) -> Action

    private let channel: any Channel
    private let state: NIOLockedValueBox<(connections: Int, requests: Int, closed: Int)>
    private let events: AsyncStream<String>.Continuation
    /// "request c.r" when a request arrives, "closed c" when a connection ends.
    let seen: AsyncStream<String>

    var port: Int { channel.localAddress?.port ?? 0 }
    var connections: Int { state.withLockedValue { $0.connections } }
    var requests: Int { state.withLockedValue { $0.requests } }

    init(tls: NIOSSLContext? = nil, script: @escaping Script) async throws {
        let state = NIOLockedValueBox((connections: 0, requests: 0, closed: 0))
        let (seen, events) = AsyncStream.makeStream(of: String.self)
        self.state = state
        self.seen = seen
        self.events = events
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let number = state.withLockedValue {
                        $0.connections += 1
                        return $0.connections
                    }
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: false)
                    try channel.pipeline.syncOperations.addHandler(Handler(connection: number, script: script, state: state, events: events))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    func close() async throws {
        events.finish()
        try await channel.close()
    }

    /// Waits for an event the server reports (bounded by the test's own timeout).
    func wait(for event: String) async {
        for await seen in seen where seen == event { return }
    }

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let connection: Int
        let script: Script
        let state: NIOLockedValueBox<(connections: Int, requests: Int, closed: Int)>
        let events: AsyncStream<String>.Continuation
        var served = 0

        init(
            connection: Int, script: @escaping Script, state: NIOLockedValueBox<(connections: Int, requests: Int, closed: Int)>,
            events: AsyncStream<String>.Continuation
        ) {
            self.connection = connection
            self.script = script
            self.state = state
            self.events = events
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .end = unwrapInboundIn(data) else { return }
            served += 1
            state.withLockedValue { $0.requests += 1 }
            events.yield("request \(connection).\(served)")
            switch script(connection, served) {
            case .answer(let status, let headers, let body):
                var head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status))
                for (name, value) in headers { head.headers.add(name: name, value: value) }
                head.headers.add(name: "content-length", value: String(body.utf8.count))
                context.write(wrapOutboundOut(.head(head)), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            case .close:
                context.close(promise: nil)
            case .hold:
                break
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            events.yield("closed \(connection)")
            context.fireChannelInactive()
        }
    }
}
