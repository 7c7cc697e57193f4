import NIOCore
import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Opens a tunnel through a forward proxy on a fresh connection, before TLS
/// and HTTP are added: `CONNECT host:port` to an HTTP proxy (with Basic
/// credentials when it has a user), or SOCKS5's greeting, its
/// username/password method when it has a user, and CONNECT by name. The proxy's answers are
/// read within a byte bound; anything but success fails the connection (the
/// caller's connect timeout bounds the time). On success it removes itself.
final class ProxyHandshake: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Step {
        case idle, awaitingConnectReply, awaitingGreetingReply, awaitingLoginReply, awaitingSOCKSReply, done
    }

    /// The most bytes of a proxy's answer read (an HTTP proxy's reply head).
    static let maxReplyBytes = 8192

    private let proxy: UpstreamProxy
    private let host: String
    private let port: Int
    private let promise: EventLoopPromise<Void>
    private var step = Step.idle
    private var buffer = ByteBuffer()

    init(proxy: UpstreamProxy, host: String, port: Int, promise: EventLoopPromise<Void>) {
        self.proxy = proxy
        self.host = host
        self.port = port
        self.promise = promise
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    private func start(_ context: ChannelHandlerContext) {
        guard step == .idle else { return }
        var out = context.channel.allocator.buffer(capacity: 64)
        switch proxy.kind {
        case .http:
            let authority = (host.contains(":") ? "[" + host + "]" : host) + ":" + String(port)
            var login = ""
            if let user = proxy.username {
                let token = Data((user + ":" + (proxy.password ?? "")).utf8).base64EncodedString()
                login = "Proxy-Authorization: Basic \(token)\r\n"
            }
            out.writeString("CONNECT \(authority) HTTP/1.1\r\nHost: \(authority)\r\n\(login)\r\n")
            step = .awaitingConnectReply
        case .socks5:
            // Version 5 and the one method offered: username/password when there is a user, else none.
            out.writeBytes([5, 1, proxy.username == nil ? 0 : 2])
            step = .awaitingGreetingReply
        }
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        guard step != .done else { return }
        buffer.writeBuffer(&bytes)
        guard buffer.readableBytes <= Self.maxReplyBytes else { return fail(context) }
        switch step {
        case .awaitingConnectReply: readConnectReply(context)
        case .awaitingGreetingReply: readGreetingReply(context)
        case .awaitingLoginReply: readLoginReply(context)
        case .awaitingSOCKSReply: readSOCKSReply(context)
        case .idle, .done: fail(context)
        }
    }

    /// `HTTP/1.1 200 …` then headers to the blank line; the tunnel starts after it.
    private func readConnectReply(_ context: ChannelHandlerContext) {
        let view = buffer.readableBytesView
        guard let end = view.firstRange(of: [13, 10, 13, 10]) else { return }
        let head = String(decoding: view[view.startIndex..<end.lowerBound], as: UTF8.self)
        let status = head.split(separator: "\r\n").first?.split(separator: " ")
        guard let status, status.count >= 2, status[0].hasPrefix("HTTP/1."), (200..<300).contains(Int(status[1]) ?? 0),
            end.upperBound == view.endIndex
        else { return fail(context) }
        succeed(context)
    }

    /// `05 00` (no authentication) or `05 02` (username/password, sent next);
    /// then ask it to connect by name.
    private func readGreetingReply(_ context: ChannelHandlerContext) {
        guard buffer.readableBytes >= 2 else { return }
        let offered: UInt8 = proxy.username == nil ? 0 : 2
        guard buffer.readInteger(as: UInt8.self) == 5, buffer.readInteger(as: UInt8.self) == offered, buffer.readableBytes == 0 else {
            return fail(context)
        }
        guard let user = proxy.username else { return sendConnect(context) }
        let password = proxy.password ?? ""
        var out = context.channel.allocator.buffer(capacity: 3 + user.utf8.count + password.utf8.count)
        out.writeInteger(UInt8(1))
        out.writeInteger(UInt8(user.utf8.count))
        out.writeString(user)
        out.writeInteger(UInt8(password.utf8.count))
        out.writeString(password)
        step = .awaitingLoginReply
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
    }

    /// `01 00`: the user name and password were accepted.
    private func readLoginReply(_ context: ChannelHandlerContext) {
        guard buffer.readableBytes >= 2 else { return }
        guard buffer.readInteger(as: UInt8.self) == 1, buffer.readInteger(as: UInt8.self) == 0, buffer.readableBytes == 0 else {
            return fail(context)
        }
        sendConnect(context)
    }

    private func sendConnect(_ context: ChannelHandlerContext) {
        var out = context.channel.allocator.buffer(capacity: 8 + host.utf8.count)
        out.writeBytes([5, 1, 0])  // version, CONNECT, reserved
        switch IPAddress(host) {
        case .v4(let address)?:
            out.writeInteger(UInt8(1))
            out.writeInteger(address)
        case .v6(let bytes)?:
            out.writeInteger(UInt8(4))
            out.writeBytes(bytes)
        case nil:
            guard host.utf8.count <= 255 else { return fail(context) }
            out.writeInteger(UInt8(3))
            out.writeInteger(UInt8(host.utf8.count))
            out.writeString(host)
        }
        out.writeInteger(UInt16(port))
        step = .awaitingSOCKSReply
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
    }

    /// `05 00 00 ATYP ADDR PORT`: connected (the bound address is not needed).
    private func readSOCKSReply(_ context: ChannelHandlerContext) {
        guard buffer.readableBytes >= 5 else { return }
        let view = buffer.readableBytesView
        let base = view.startIndex
        guard view[base] == 5, view[base + 1] == 0 else { return fail(context) }
        let length: Int
        switch view[base + 3] {
        case 1: length = 4 + 4 + 2
        case 4: length = 4 + 16 + 2
        case 3: length = 4 + 1 + Int(view[base + 4]) + 2
        default: return fail(context)
        }
        guard buffer.readableBytes >= length else { return }
        guard buffer.readableBytes == length else { return fail(context) }
        succeed(context)
    }

    private func succeed(_ context: ChannelHandlerContext) {
        step = .done
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        promise.succeed(())
    }

    private func fail(_ context: ChannelHandlerContext, _ failure: TransportFailure = .connectFailed) {
        guard step != .done else { return }
        step = .done
        promise.fail(failure)
        context.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(context, .connectionReset)
        context.fireChannelInactive()
    }
}
