import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import SwitchboardCore

/// The keep-alive connections of one event loop, by origin. A request on this
/// loop takes the most recently used idle connection to its origin (warm,
/// least likely closed by the upstream) or opens one; connections left idle
/// past their lifetime are closed by a sweep.
///
/// Touched only on its event loop: requests hop there to be sent, and
/// connections come back there when their answer ends.
final class HTTP1Pool: @unchecked Sendable {
    let eventLoop: any EventLoop
    private let settings: TransportSettings
    private let policy: UpstreamPolicy
    private let tls: NIOSSLContext?
    /// Idle connections by origin, most recently used last. A list is an
    /// object so taking from it is no mutation of the dictionary: the
    /// dictionary's in-place accessor allocated on each request.
    private var idle: [UpstreamOrigin: IdleList] = [:]
    private var sweep: RepeatedTask?
    private var closing = false

    init(eventLoop: any EventLoop, settings: TransportSettings, policy: UpstreamPolicy, tls: NIOSSLContext?) {
        self.eventLoop = eventLoop
        self.settings = settings
        self.policy = policy
        self.tls = tls
    }

    /// Sends a request on an idle connection to its origin, or a new one;
    /// the future holds the response head. `fresh` skips idle connections.
    func send(
        _ head: HTTPRequestHead, body: ByteBuffer?, to origin: UpstreamOrigin, fresh: Bool, started: @escaping (HTTP1Connection) -> Void
    ) -> EventLoopFuture<UpstreamResponse> {
        let promise = eventLoop.makePromise(of: UpstreamResponse.self)
        if !fresh, let connection = takeIdle(origin) {
            started(connection)
            connection.execute(head, body: body, promise: promise)
            return promise.futureResult
        }
        connect(origin).assumeIsolatedUnsafeUnchecked().whenComplete { result in
            switch result {
            case .success(let connection):
                started(connection)
                connection.execute(head, body: body, promise: promise)
            case .failure(let error):
                promise.fail(error)
            }
        }
        return promise.futureResult
    }

    /// A connection whose answer ended and may be reused.
    func release(_ connection: HTTP1Connection) {
        let list: IdleList
        if let known = idle[connection.origin] {
            list = known
        } else {
            list = IdleList()
            idle[connection.origin] = list
        }
        guard !closing, connection.isOpen, list.connections.count < settings.idleConnectionsPerOrigin else {
            connection.close(failing: TransportFailure.connectionReset)
            return
        }
        connection.idleSince = .now()
        list.connections.append(connection)
        if sweep == nil { startSweep() }
    }

    /// A connection that closed: out of the idle list if it was there.
    func forget(_ connection: HTTP1Connection) {
        guard let list = idle[connection.origin], let index = list.connections.firstIndex(where: { $0 === connection }) else { return }
        list.connections.remove(at: index)
    }

    /// Closes every idle connection and keeps none from now on.
    func shutdown() {
        closing = true
        sweep?.cancel()
        sweep = nil
        let all = idle.values.flatMap(\.connections)
        idle = [:]
        for connection in all { connection.close(failing: TransportFailure.connectionReset) }
    }

    /// An emptied list stays, storage and all: at low concurrency a
    /// connection goes out and comes back on every request.
    private func takeIdle(_ origin: UpstreamOrigin) -> HTTP1Connection? {
        guard let list = idle[origin] else { return nil }
        while let connection = list.connections.popLast() {
            if connection.isOpen { return connection }
        }
        return nil
    }

    /// Opens a connection: TCP (the address checked against the policy unless
    /// the host is allowed by name), through the origin's proxy when it has
    /// one (whose address is checked the same way), TLS for https, then HTTP/1.1.
    private func connect(_ origin: UpstreamOrigin) -> EventLoopFuture<HTTP1Connection> {
        guard !closing else { return eventLoop.makeFailedFuture(TransportFailure.connectionReset) }
        // No TLS context (the system's trust store could not be read): https cannot be spoken.
        if origin.secure, tls == nil { return eventLoop.makeFailedFuture(TransportFailure.connectFailed) }
        let endpoint: (host: String, port: Int) = origin.proxy.map { ($0.host, $0.port) } ?? (origin.host, origin.port)
        let checkAddress = !policy.allowPrivate && !policy.allowsName(endpoint.host)
        // Through a proxy the upstream's name is the proxy's to resolve; an address literal is judged here.
        if origin.proxy != nil, !policy.allowPrivate, !policy.allowsName(origin.host), let literal = IPAddress(origin.host),
            !policy.allows(literal)
        {
            return eventLoop.makeFailedFuture(TransportFailure.addressRefused)
        }
        let settings = settings
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(settings.connectTimeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .resolver(ThreadPoolResolver(loop: eventLoop))
        return bootstrap.connect(host: endpoint.host, port: endpoint.port).flatMap { [self] channel in
            if checkAddress, !policy.allows(channel.remoteAddress) {
                channel.close(promise: nil)
                return eventLoop.makeFailedFuture(TransportFailure.addressRefused)
            }
            guard let proxy = origin.proxy else { return eventLoop.makeCompletedFuture { try start(channel, origin: origin) } }
            let tunnel = eventLoop.makePromise(of: Void.self)
            let deadline = eventLoop.scheduleTask(in: settings.connectTimeout) { tunnel.fail(TransportFailure.connectFailed) }
            do {
                try channel.pipeline.syncOperations.addHandler(
                    ProxyHandshake(proxy: proxy, host: origin.host, port: origin.port, promise: tunnel))
            } catch {
                tunnel.fail(error)
            }
            return tunnel.futureResult.flatMapThrowing { [self] in
                deadline.cancel()
                return try start(channel, origin: origin)
            }.flatMapErrorThrowing { error in
                deadline.cancel()
                channel.close(promise: nil)
                throw error
            }
        }
    }

    /// TLS (for https) and HTTP/1.1 on a connected channel, and the connection that drives them.
    private func start(_ channel: any Channel, origin: UpstreamOrigin) throws -> HTTP1Connection {
        let tls = origin.secure ? tls : nil
        let connection = HTTP1Connection(channel: channel, origin: origin, settings: settings, pool: self)
        let pipeline = channel.pipeline.syncOperations
        if let tls {
            try pipeline.addHandler(NIOSSLClientHandler(context: tls, serverHostname: origin.isAddress ? nil : origin.host))
        }
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderListSize = settings.maxHeadBytes
        limits.maxHeaderFieldSize = settings.maxHeadBytes
        limits.maxHeaderFieldCount = 256
        try pipeline.addHTTPClientHandlers(decoderLimitConfiguration: limits)
        try pipeline.addHandler(connection)
        return connection
    }

    private func startSweep() {
        let lifetime = settings.idleConnectionLifetime
        let period = TimeAmount.nanoseconds(max(lifetime.nanoseconds / 2, 1_000_000_000))
        sweep = eventLoop.scheduleRepeatedTask(initialDelay: period, delay: period) { [self] _ in
            let cutoff = NIODeadline.now() - lifetime
            let stale = idle.values.flatMap { $0.connections.filter { $0.idleSince < cutoff } }
            for connection in stale { connection.close(failing: TransportFailure.connectionReset) }
        }
    }
}

/// One origin's idle connections (touched only on the pool's loop).
private final class IdleList {
    var connections: [HTTP1Connection] = []
}
