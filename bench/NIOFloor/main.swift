import NIOCore
import NIOHTTP1
import NIOPosix

// The floor under the gateway's figures in bench/run.sh: the least an HTTP/1.1
// proxy built on SwiftNIO does per request, on this machine. No routing, keys,
// ledger or async tasks: NIOHTTP1's parser and encoder on both sides, and the
// parts passed through as they come. Each client connection gets one keep-alive
// connection to the upstream, opened on its own event loop at its first
// request (the gateway pools them per loop instead; with wrk's fixed set of
// connections the two come to the same number of sockets).
//
//   nio-floor LISTEN_PORT UPSTREAM_PORT   (both on 127.0.0.1)

let arguments = CommandLine.arguments
guard arguments.count == 3, let listenPort = Int(arguments[1]), let upstreamPort = Int(arguments[2]) else {
    print("usage: nio-floor LISTEN_PORT UPSTREAM_PORT")
    exit(2)
}

/// The upstream's answer, written to the client as it arrives.
final class UpstreamHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPClientResponsePart
    let client: any Channel

    init(client: any Channel) { self.client = client }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            var headers = head.headers
            headers.remove(name: "connection")
            client.write(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: head.status, headers: headers)), promise: nil)
        case .body(let buffer):
            client.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(buffer)), promise: nil)
        case .end:
            client.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) { client.close(promise: nil) }
    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}

/// A client connection: its requests go to its own upstream connection. Parts
/// that arrive while that connection opens wait for it.
final class ClientHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    private let upstreamPort: Int
    private var upstream: (any Channel)?
    private var connecting = false
    private var waiting: [HTTPClientRequestPart] = []

    init(upstreamPort: Int) { self.upstreamPort = upstreamPort }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var part: HTTPClientRequestPart
        switch unwrapInboundIn(data) {
        case .head(var head):
            head.headers.replaceOrAdd(name: "host", value: "127.0.0.1:\(upstreamPort)")
            part = .head(head)
        case .body(let buffer): part = .body(.byteBuffer(buffer))
        case .end: part = .end(nil)
        }
        if let upstream {
            send(part, to: upstream)
            return
        }
        waiting.append(part)
        guard !connecting else { return }
        connecting = true
        let client = context.channel
        let loop = context.eventLoop
        ClientBootstrap(group: loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(UpstreamHandler(client: client))
                }
            }
            .connect(host: "127.0.0.1", port: self.upstreamPort)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    self.upstream = channel
                    for part in self.waiting { self.send(part, to: channel) }
                    self.waiting = []
                case .failure:
                    client.close(promise: nil)
                }
            }
    }

    private func send(_ part: HTTPClientRequestPart, to upstream: any Channel) {
        if case .end = part { upstream.writeAndFlush(part, promise: nil) } else { upstream.write(part, promise: nil) }
    }

    func channelInactive(context: ChannelHandlerContext) { upstream?.close(promise: nil) }
    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}

let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
    .serverChannelOption(.backlog, value: 4096)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.configureHTTPServerPipeline()
            try channel.pipeline.syncOperations.addHandler(ClientHandler(upstreamPort: upstreamPort))
        }
    }
    .bind(host: "127.0.0.1", port: listenPort)
    .get()
try await server.closeFuture.get()
