import Engine
import Hummingbird
import NIOCore
import SwitchboardCore
import Upstream

/// `GET /metrics`: the Prometheus exposition. With `metrics_token` set it
/// takes that bearer token. Without one, on the gateway's own listener it
/// answers only clients on loopback or a private network (where a Prometheus
/// sits), so a gateway facing the internet does not show its accounts and
/// traffic to anyone; on a `metrics_listen` address of its own it answers
/// whoever reaches that address (the operator chose it).
public struct MetricsRoutes: Sendable {
    let metrics: GatewayMetrics
    let gateway: Gateway
    let token: String?
    let listener: Listener

    /// Where `/metrics` is served.
    public enum Listener: Sendable {
        /// On the gateway's listener.
        case shared
        /// On `metrics_listen`: the gateway's listener answers 404 saying so.
        case elsewhere
        /// This is the `metrics_listen` listener.
        case own
    }

    public init(metrics: GatewayMetrics, gateway: Gateway, token: String?, listener: Listener = .shared) {
        self.metrics = metrics
        self.gateway = gateway
        self.token = token
        self.listener = listener
    }

    /// A router holding only `/metrics`, for the `metrics_listen` address.
    public static func ownRouter(metrics: GatewayMetrics, gateway: Gateway, token: String?) -> Router<GatewayRequestContext> {
        let router = Router(context: GatewayRequestContext.self)
        MetricsRoutes(metrics: metrics, gateway: gateway, token: token, listener: .own).register(on: router)
        return router
    }

    func register(on router: some RouterMethods<GatewayRequestContext>) {
        router.get("/metrics") { request, context in
            if listener == .elsewhere {
                return Self.plain(.notFound, "metrics are served on the metrics_listen address\n")
            }
            if let token {
                let presented = request.headers[.authorization].flatMap(AdminRoutes.bearerToken) ?? ""
                guard AdminRoutes.constantTimeEquals(presented, token) else {
                    return Self.plain(.unauthorized, "a valid metrics token is required (Authorization: Bearer …)\n")
                }
            } else if listener == .shared {
                guard let address = context.remoteAddress.flatMap(IPAddress.init), !address.isPublic else {
                    return Self.plain(.notFound, "metrics are served to private addresses only; set metrics_token to serve them to others\n")
                }
            }
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.scrape(gateway: gateway))))
        }
    }

    static func plain(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
