import HTTPTypes
import Hummingbird
import Synchronization

/// Every route the gateway registered, with its methods: so a known path
/// asked with a method it lacks answers 405 with `Allow` (as RFC 9110 says),
/// not 404. Hummingbird's router knows this but does not tell; the table
/// learns it as the routes are added, through `RecordingRouter`.
final class RouteTable: Sendable {
    private let routes = Mutex<[(path: RouterPath, methods: Set<HTTPRequest.Method>)]>([])

    func add(_ path: RouterPath, _ method: HTTPRequest.Method) {
        routes.withLock { routes in
            if let index = routes.firstIndex(where: { $0.path == path }) {
                routes[index].methods.insert(method)
            } else {
                routes.append((path, [method]))
            }
        }
    }

    /// The methods some route serves at `path`, in a fixed order; empty when no route has the path.
    func methods(at path: String) -> [HTTPRequest.Method] {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        let found = routes.withLock { routes in
            routes.filter { Self.matches($0.path.components, segments) }.reduce(into: Set<HTTPRequest.Method>()) { $0.formUnion($1.methods) }
        }
        return [.get, .head, .post, .put, .patch, .delete, .options].filter(found.contains)
    }

    /// Whether a route's components match the path's segments (`**` takes the rest, at least one).
    private static func matches(_ components: [RouterPath.Element], _ segments: [Substring]) -> Bool {
        var index = 0
        for component in components {
            if component == .recursiveWildcard { return index < segments.count }
            guard index < segments.count, component ~= segments[index] else { return false }
            index += 1
        }
        return index == segments.count
    }
}

/// The router, with every route it is given noted in a `RouteTable`.
struct RecordingRouter: RouterMethods {
    typealias Context = GatewayRequestContext
    let router: Router<GatewayRequestContext>
    let table: RouteTable

    @discardableResult func on<Responder: HTTPResponder>(
        _ path: RouterPath, method: HTTPRequest.Method, responder: Responder
    ) -> Self where Responder.Context == Context {
        router.on(path, method: method, responder: responder)
        table.add(path, method)
        return self
    }

    @discardableResult func add(middleware: any MiddlewareProtocol<Request, Response, Context>) -> Self {
        router.add(middleware: middleware)
        return self
    }
}
