import Engine
import Hummingbird
import NIOCore
import SwitchboardCore
import Upstream

/// `GET /metrics`: the Prometheus exposition. With `metrics_token` set it
/// takes that bearer token; without one it answers only clients on loopback
/// or a private network (where a Prometheus sits), so a gateway facing the
/// internet does not show its accounts and traffic to anyone.
public struct MetricsRoutes: Sendable {
    let metrics: GatewayMetrics
    let gateway: Gateway
    let token: String?

    public init(metrics: GatewayMetrics, gateway: Gateway, token: String?) {
        self.metrics = metrics
        self.gateway = gateway
        self.token = token
    }

    func register(on router: some RouterMethods<GatewayRequestContext>) {
        router.get("/metrics") { request, context in
            if let token {
                let presented = request.headers[.authorization].flatMap(AdminRoutes.bearerToken) ?? ""
                guard AdminRoutes.constantTimeEquals(presented, token) else {
                    return Self.plain(.unauthorized, "a valid metrics token is required (Authorization: Bearer …)\n")
                }
            } else {
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
