import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// Serves a router over HTTP: the part of Hummingbird's `Application.run` the
/// gateway uses, with two changes.
///
/// - The `Date` header comes from `HTTPDate` (formatted on demand, at most once
///   a second), not from a service that wakes every second through `Task.sleep`:
///   on Linux that runs on libdispatch, which the gateway keeps off (see
///   `LoopTimer`: libdispatch traps the process when descriptors run out).
/// - A request gets the application's logger as it is; Hummingbird gave each
///   request a logger of its own with an id the gateway never logs (its
///   requests carry `request=`), an allocation per request.
public struct GatewayApplication: Service {
    let responder: RouterResponder<GatewayRequestContext>
    let server: HTTPServerBuilder
    let address: BindAddress
    let services: [any Service]
    let onServerRunning: @Sendable (any Channel) async -> Void
    let logger: Logger

    /// - Parameters:
    ///   - services: run beside the server, in one group (they stop in reverse order, after it).
    public init(
        router: Router<GatewayRequestContext>, server: HTTPServerBuilder = .http1(), address: BindAddress, services: [any Service] = [],
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }, logger: Logger
    ) {
        self.responder = router.buildResponder()
        self.server = server
        self.address = address
        self.services = services
        self.onServerRunning = onServerRunning
        self.logger = logger
    }

    /// Connections the kernel completes before they are accepted (capped by
    /// `net.core.somaxconn`). Hummingbird's 256 overflowed when a thousand
    /// clients connected at once (about 600 handshakes dropped in a 4 s run at
    /// c=1,000, each client waiting a second or more for its SYN to be sent again).
    static let backlog = 4096

    public func run() async throws {
        let (responder, logger) = (responder, logger)
        let date = HTTPDate()
        let server = try server.buildServer(
            configuration: ServerConfiguration(address: address, backlog: Self.backlog), eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            logger: logger
        ) { request, writer, channel in
            var response: Response
            do {
                let context = GatewayRequestContext(source: .init(channel: channel, logger: logger))
                response = try await responder.respond(to: request, context: context)
            } catch let error as HTTPParserError {
                // The connection answers 400 and closes.
                throw error
            } catch {
                logger.debug("unhandled error in a route", metadata: ["error.type": "\(type(of: error))"])
                response = Response(status: .internalServerError, body: .init())
            }
            response.headers[.date] = date.now()
            do {
                try await writer.write(response: response.head, body: response.body)
            } catch is HTTPParserError {
                // Part of the answer may be out: the connection closes rather than answer 400 after it.
                throw ResponseAbandoned()
            }
        } onServerRunning: { channel in
            await onServerRunning(channel)
        }
        try await ServiceGroup(configuration: .init(services: services + [server], logger: logger)).run()
    }
}

/// A response that could not be finished (the request turned out malformed as it streamed).
struct ResponseAbandoned: Error {}
