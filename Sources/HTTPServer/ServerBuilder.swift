import Engine
import Hummingbird
import Logging

/// Builds the HTTP application around the engine.
public enum ServerBuilder {
    /// The router with every route and middleware.
    public static func router(routes: ClientRoutes, admin: AdminRoutes, metrics: MetricsRoutes) -> Router<GatewayRequestContext> {
        let router = Router(context: GatewayRequestContext.self)
        let table = RouteTable()
        router.add(middleware: RequestIDMiddleware(routes: table))
        let recording = RecordingRouter(router: router, table: table)
        routes.register(on: recording)
        admin.register(on: recording)
        ConsoleRoutes(admin: admin).register(on: recording)
        metrics.register(on: recording)
        return router
    }
}
