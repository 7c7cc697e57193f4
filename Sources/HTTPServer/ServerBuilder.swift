import Engine
import Hummingbird
import Logging

/// Builds the HTTP application around the engine.
public enum ServerBuilder {
    /// The router with every route and middleware.
    public static func router(routes: ClientRoutes, admin: AdminRoutes) -> Router<GatewayRequestContext> {
        let router = Router(context: GatewayRequestContext.self)
        router.add(middleware: RequestIDMiddleware())
        routes.register(on: router)
        admin.register(on: router)
        return router
    }
}
