import NIOCore
import NIOPosix

/// A loopback server that accepts a connection, reads the request and closes
/// the connection without a byte of answer: an upstream reset before the first
/// byte, which an HTTP framework cannot be made to do.
public final class ResetServer: Sendable {
    private let channel: any Channel

    /// The port it listens on.
    public var port: Int { channel.localAddress?.port ?? 0 }

    /// Starts listening on a free loopback port.
    public init() async throws {
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in channel.pipeline.addHandler(CloseOnRead()) }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    /// Stops listening.
    public func close() async throws { try await channel.close() }

    private final class CloseOnRead: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { context.close(promise: nil) }
    }
}
