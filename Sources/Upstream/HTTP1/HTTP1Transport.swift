import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import SwitchboardCore

/// The gateway's upstream client: HTTP/1.1 on SwiftNIO, keep-alive connections
/// pooled per event loop and origin, the request sent on the client's own
/// event loop when it has one, the body written as the bytes in hand, TLS by
/// NIOSSL for https, the policy's address check on every new connection.
public final class HTTP1Transport: UpstreamTransport {
    public let settings: TransportSettings
    /// Where requests may go.
    public let policy: UpstreamPolicy
    private let pools: [ObjectIdentifier: HTTP1Pool]
    /// The pool of the group's first loop, for a caller on no loop of the group.
    private let fallback: HTTP1Pool

    /// Creates the transport on an event loop group (the shared one by default).
    public init(
        settings: TransportSettings = .init(), policy: UpstreamPolicy = .init(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, trustRoots: NIOSSLTrustRoots = .default
    ) {
        self.settings = settings
        self.policy = policy
        var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
        tlsConfiguration.applicationProtocols = ["http/1.1"]
        tlsConfiguration.trustRoots = trustRoots
        // Without a TLS context (no trust store readable), https requests fail
        // as connection failures; plain http still works.
        let tls = try? NIOSSLContext(configuration: tlsConfiguration)
        let all = group.makeIterator().map { HTTP1Pool(eventLoop: $0, settings: settings, policy: policy, tls: tls) }
        self.pools = Dictionary(uniqueKeysWithValues: all.map { (ObjectIdentifier($0.eventLoop), $0) })
        self.fallback = all.first ?? HTTP1Pool(eventLoop: group.next(), settings: settings, policy: policy, tls: tls)
    }

    public func send(_ request: UpstreamRequest) async throws(TransportFailure) -> UpstreamResponse {
        guard let (direct, target) = UpstreamOrigin.split(request.url) else { throw .connectFailed }
        var origin = direct
        origin.proxy = policy.proxy(for: request.egress)
        // The client's loop; else the caller's own; else always the same one, so
        // callers on no loop (probes, the command line) share its connections.
        let loop = request.eventLoop ?? MultiThreadedEventLoopGroup.currentEventLoop
        let pool = loop.flatMap { pools[ObjectIdentifier($0)] } ?? fallback
        var headers = HTTPHeaders()
        headers.reserveCapacity(8)
        headers.add(name: "host", value: origin.hostHeader)
        request.eachHeader { headers.add(name: $0, value: $1) }
        let body: ByteBuffer?
        if request.operation == .listModels {
            body = nil
        } else {
            body = request.body
            headers.add(name: "content-length", value: String(request.body.readableBytes))
        }
        let head = HTTPRequestHead(version: .http1_1, method: body == nil ? .GET : .POST, uri: target, headers: headers)
        do {
            return try await exchange(head, body: body, origin: origin, pool: pool, fresh: false)
        } catch is StaleConnection {
            // The upstream closed an idle connection as it was reused: once more, on a new one.
            do {
                return try await exchange(head, body: body, origin: origin, pool: pool, fresh: true)
            } catch {
                throw TransportFailure.classify(error is StaleConnection ? TransportFailure.connectionReset : error)
            }
        } catch {
            throw TransportFailure.classify(error)
        }
    }

    /// One exchange on the pool's loop; a cancelled caller fails it and closes
    /// its connection.
    private func exchange(_ head: HTTPRequestHead, body: ByteBuffer?, origin: UpstreamOrigin, pool: HTTP1Pool, fresh: Bool) async throws
        -> UpstreamResponse
    {
        // Which exchange started, and whether the caller gave up: one box for both.
        let progress = NIOLockedValueBox<(started: (connection: HTTP1Connection, exchange: Int)?, cancelled: Bool)>((nil, false))
        let loop = pool.eventLoop
        let start: @Sendable () -> EventLoopFuture<UpstreamResponse> = {
            pool.send(head, body: body, to: origin, fresh: fresh) { connection in
                let exchange = connection.exchanges + 1
                let cancelled = progress.withLockedValue {
                    $0.started = (connection, exchange)
                    return $0.cancelled
                }
                if cancelled { loop.execute { connection.cancel(exchange: exchange) } }
            }
        }
        return try await withTaskCancellationHandler {
            // Tasks mostly run on the loop whose connection they use (NIO is the
            // global executor, and sticky): then start at once, with no hop.
            try await (loop.inEventLoop ? start() : loop.flatSubmit(start)).get()
        } onCancel: {
            let started = progress.withLockedValue {
                $0.cancelled = true
                return $0.started
            }
            guard let (connection, exchange) = started else { return }
            loop.execute { connection.cancel(exchange: exchange) }
        }
    }

    public func shutdown() async throws {
        for pool in pools.values {
            try await pool.eventLoop.submit { pool.shutdown() }.get()
        }
    }
}
