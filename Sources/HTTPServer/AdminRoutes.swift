import Admin
import Crypto
import Engine
import Hummingbird
import Logging
import NIOCore
import Policy
import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The admin API under `/admin`, for accounts: list with live state, create,
/// update, enable, disable, delete, test. Every call needs
/// `Authorization: Bearer <admin_token>`; with no token configured the admin API
/// is off.
public struct AdminRoutes: Sendable {
    let operations: AdminOperations
    let token: String?
    let throttle: AdminLoginThrottle
    let logger: Logger
    var accounts: AccountAdmin { operations.accounts }
    var keys: KeyAdmin { operations.keys }
    var parties: PartyAdmin { operations.parties }
    var gateway: Gateway { operations.gateway }

    /// Creates the routes; `token` nil turns the admin API off. An address
    /// with `loginAttempts` failed logins within a minute is refused for a while.
    public init(operations: AdminOperations, token: String?, loginAttempts: Int = 10, logger: Logger) {
        self.operations = operations
        self.throttle = AdminLoginThrottle(limit: loginAttempts, clock: operations.gateway.pool.clock)
        self.logger = logger
        self.token = token
    }

    /// A key just created: the only time its secret is shown.
    struct CreatedKey: Encodable {
        var apiKey: String
        var key: KeyView
    }

    /// The largest admin request body read.
    static let maxBodyBytes = 1 << 20

    /// Adds the routes to a router.
    public func register(on router: some RouterMethods<GatewayRequestContext>) {
        let group = router.group("/admin")
        group.get("/accounts") { request, context in
            await guarded(request, context: context) { try await Self.json(accounts.list()) }
        }
        group.post("/accounts") { request, context in
            await guarded(request, context: context) {
                let settings = try AccountSettings(json: try await Self.body(request))
                return try Self.json(await accounts.create(settings), status: .created)
            }
        }
        group.get("/accounts/:name") { request, context in
            await guarded(request, context: context) { try Self.json(await accounts.get(try Self.name(context))) }
        }
        group.patch("/accounts/:name") { request, context in
            await guarded(request, context: context) {
                let settings = try AccountSettings(json: try await Self.body(request), name: try Self.name(context))
                return try Self.json(await accounts.update(settings))
            }
        }
        group.delete("/accounts/:name") { request, context in
            await guarded(request, context: context) {
                try await accounts.delete(try Self.name(context))
                return Response(status: .noContent)
            }
        }
        group.post("/accounts/:name/enable") { request, context in
            await guarded(request, context: context) { try Self.json(await accounts.setEnabled(try Self.name(context), true)) }
        }
        group.post("/accounts/:name/disable") { request, context in
            await guarded(request, context: context) { try Self.json(await accounts.setEnabled(try Self.name(context), false)) }
        }
        group.get("/accounts/:name/stats") { request, context in
            await guarded(request, context: context) {
                try Self.json(await operations.stats.account(try Self.name(context), try StatsRequest.parse(Self.parameters(request))))
            }
        }
        group.post("/accounts/:name/test") { request, context in
            await guarded(request, context: context) { try Self.json(await accounts.test(try Self.name(context), transport: gateway.transport)) }
        }
        group.post("/accounts/:name/sync_models") { request, context in
            await guarded(request, context: context) {
                try Self.json(await accounts.syncModels(try Self.name(context), transport: gateway.transport))
            }
        }
        registerKeys(on: group)
        registerParties(on: group)
        group.get("/quarantines") { request, context in
            await guarded(request, context: context) { try Self.json(await operations.quarantines.list()) }
        }
        group.post("/quarantines/:name/release") { request, context in
            await guarded(request, context: context) {
                guard let id = Int64(try Self.name(context)) else { throw AdminError(.notFound, "no such quarantine") }
                return try Self.json(await operations.quarantines.release(id))
            }
        }
        group.get("/models") { request, context in await guarded(request, context: context) { try Self.json(await operations.routing.aliases()) } }
        group.put("/models/:name") { request, context in
            await guarded(request, context: context) {
                try Self.json(await operations.routing.setAlias(try Self.name(context), try await Self.body(request)))
            }
        }
        group.delete("/models/:name") { request, context in
            await guarded(request, context: context) {
                try await operations.routing.deleteAlias(try Self.name(context))
                return Response(status: .noContent)
            }
        }
        group.get("/providers") { request, context in await guarded(request, context: context) { try Self.json(await operations.routing.providers()) }
        }
        group.put("/providers/:name") { request, context in
            await guarded(request, context: context) {
                try Self.json(await operations.routing.setProvider(try Self.name(context), try await Self.body(request)))
            }
        }
        group.delete("/providers/:name") { request, context in
            await guarded(request, context: context) {
                try await operations.routing.deleteProvider(try Self.name(context))
                return Response(status: .noContent)
            }
        }
        group.get("/requests") { request, context in
            await guarded(request, context: context) {
                try Self.json(await operations.requests.list(try RequestAdmin.query(Self.parameters(request))))
            }
        }
        group.get("/sessions") { request, context in
            await guarded(request, context: context) {
                try Self.json(await operations.requests.sessions(try RequestAdmin.query(Self.parameters(request))))
            }
        }
        group.get("/audit") { request, context in
            await guarded(request, context: context) {
                try Self.json(await operations.audit.list(try AuditAdmin.query(Self.parameters(request))))
            }
        }
        group.get("/reconciliation") { request, context in
            await guarded(request, context: context) {
                guard let report = try await operations.reconciliation.last() else {
                    throw AdminError(.notFound, "no reconciliation yet; run `switchboard reconcile --provider openai|anthropic FILE`")
                }
                return try Self.json(report)
            }
        }
        group.post("/policy/simulate") { request, context in
            await guarded(request, context: context) {
                let body = try await Self.body(request, emptyIs: [:])
                var since = Duration.seconds(7 * 86400)
                if let value = body["since"] {
                    guard case .string(let text) = value, let parsed = DurationSyntax.parse(text), parsed > .zero,
                        parsed <= .seconds(3660 * 86400)
                    else { throw AdminError(.invalid, "since must be a duration such as 7d, 24h or 90m") }
                    since = parsed
                }
                let proposal = try operations.policy.proposal(body)
                let from = Date().addingTimeInterval(-Double(since.components.seconds))
                return try Self.json(await operations.policy.simulate(proposal, since: from))
            }
        }
        group.get("/requests/:id/capture") { request, context in
            await guarded(request, context: context) {
                guard let id = context.parameters.get("id"), !id.isEmpty else { throw AdminError(.invalid, "a request id is required") }
                return try Self.json(await operations.requests.capture(id))
            }
        }
        group.get("/requests/:id") { request, context in
            await guarded(request, context: context) {
                guard let id = context.parameters.get("id"), !id.isEmpty else { throw AdminError(.invalid, "a request id is required") }
                return try Self.json(await operations.requests.get(id))
            }
        }
        // The API's description: public knowledge (it is in the repository), so no token; off with the API.
        group.get("/openapi.json") { _, _ in
            guard token != nil else {
                return Self.error(AdminError(.notFound, "the admin API is off; set admin_token (SWITCHBOARD_ADMIN_TOKEN) to turn it on"))
            }
            return Response(
                status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: AdminOpenAPI.json)))
        }
        group.get("/stats") { request, context in
            await guarded(request, context: context) { try Self.json(gateway.stats) }
        }
    }

    /// `/admin/users` and `/admin/groups`.
    func registerParties(on group: RouterGroup<GatewayRequestContext>) {
        group.get("/users") { request, context in await guarded(request, context: context) { try Self.json(await parties.users()) } }
        group.post("/users") { request, context in
            await guarded(request, context: context) { try Self.json(await parties.createUser(try await Self.body(request)), status: .created) }
        }
        group.patch("/users/:name") { request, context in
            await guarded(request, context: context) { try Self.json(await parties.updateUser(try Self.name(context), try await Self.body(request))) }
        }
        group.delete("/users/:name") { request, context in
            await guarded(request, context: context) {
                try await parties.deleteUser(try Self.name(context))
                return Response(status: .noContent)
            }
        }
        for (action, deducts) in [("topup", false), ("deduct", true)] {
            group.post("/users/:name/\(action)") { request, context in
                await guarded(request, context: context) {
                    let amount = try Self.amount(try await Self.body(request))
                    return try Self.json(await parties.adjustUserBalance(try Self.name(context), by: deducts ? .zero - amount : amount))
                }
            }
        }
        group.get("/users/:name/stats") { request, context in
            await guarded(request, context: context) {
                try Self.json(await operations.stats.user(try Self.name(context), try StatsRequest.parse(Self.parameters(request))))
            }
        }
        group.get("/groups/:name/stats") { request, context in
            await guarded(request, context: context) {
                try Self.json(await operations.stats.group(try Self.name(context), try StatsRequest.parse(Self.parameters(request))))
            }
        }
        group.get("/groups") { request, context in await guarded(request, context: context) { try Self.json(await parties.groups()) } }
        group.post("/groups") { request, context in
            await guarded(request, context: context) { try Self.json(await parties.createGroup(try await Self.body(request)), status: .created) }
        }
        group.patch("/groups/:name") { request, context in
            await guarded(request, context: context) {
                try Self.json(await parties.updateGroup(try Self.name(context), try await Self.body(request)))
            }
        }
        group.delete("/groups/:name") { request, context in
            await guarded(request, context: context) {
                try await parties.deleteGroup(try Self.name(context))
                return Response(status: .noContent)
            }
        }
    }

    /// `?days=N` of a stats request: 1…366, default 30.
    /// `amount_usd` of a top-up or deduction: positive dollars.
    static func amount(_ body: [String: JSONValue]) throws -> Money {
        guard let value = body["amount_usd"], let amount = try SettingValue.dollars(value, "amount_usd"), amount > .zero else {
            throw AdminError(.invalid, "amount_usd must be a positive amount of dollars")
        }
        return amount
    }

    /// `/admin/keys`: create (shown once), list with usage, update, enable,
    /// disable, top-up, deduct, stats, delete.
    func registerKeys(on group: RouterGroup<GatewayRequestContext>) {
        group.get("/keys") { request, context in
            await guarded(request, context: context) { try Self.json(await keys.list()) }
        }
        group.post("/keys") { request, context in
            await guarded(request, context: context) {
                let body = try await Self.body(request)
                guard case .string(let name)? = body["name"] else { throw AdminError(.invalid, "name is required") }
                let (view, secret) = try await keys.create(name: name, settings: body, source: "admin_api")
                return try Self.json(CreatedKey(apiKey: secret, key: view), status: .created)
            }
        }
        group.get("/keys/:name") { request, context in
            await guarded(request, context: context) { try Self.json(await keys.get(try Self.name(context))) }
        }
        group.patch("/keys/:name") { request, context in
            await guarded(request, context: context) {
                let name = try Self.name(context)
                let body = try await Self.body(request)
                if case .string(let other)? = body["name"], other != name { throw AdminError(.invalid, "a key cannot be renamed") }
                return try Self.json(await keys.update(name, settings: body))
            }
        }
        group.delete("/keys/:name") { request, context in
            await guarded(request, context: context) {
                try await keys.delete(try Self.name(context))
                return Response(status: .noContent)
            }
        }
        for (action, enabled) in [("enable", true), ("disable", false)] {
            group.post("/keys/:name/\(action)") { request, context in
                await guarded(request, context: context) {
                    try Self.json(await keys.update(try Self.name(context), settings: ["enabled": .bool(enabled)]))
                }
            }
        }
        for (action, deducts) in [("topup", false), ("deduct", true)] {
            group.post("/keys/:name/\(action)") { request, context in
                await guarded(request, context: context) {
                    let amount = try Self.amount(try await Self.body(request))
                    return try Self.json(await keys.adjustBalance(try Self.name(context), by: deducts ? .zero - amount : amount))
                }
            }
        }
        group.post("/keys/:name/reset_usage") { request, context in
            await guarded(request, context: context) {
                let parts = try KeyAdmin.resetParts(try await Self.body(request, emptyIs: [:]))
                return try Self.json(await keys.resetUsage(try Self.name(context), parts: parts))
            }
        }
        group.get("/keys/:name/stats") { request, context in
            await guarded(request, context: context) {
                try Self.json(await operations.stats.key(try Self.name(context), try StatsRequest.parse(Self.parameters(request))))
            }
        }
    }

    /// Checks the admin token, runs the operation, and renders its errors. An
    /// address that failed too often lately is refused before its token is
    /// looked at; each failure is logged without what was presented.
    func guarded(_ request: Request, context: GatewayRequestContext, _ operation: () async throws -> Response) async -> Response {
        guard let token else {
            return Self.error(AdminError(.notFound, "the admin API is off; set admin_token (SWITCHBOARD_ADMIN_TOKEN) to turn it on"))
        }
        let address = context.remoteAddress ?? "unknown"
        if let wait = throttle.retryAfter(address) {
            var response = Self.error(AdminError(.throttled, "too many failed admin logins from this address; retry later"))
            response.headers[.retryAfter] = String(wait)
            return response
        }
        let presented = request.headers[.authorization].flatMap(Self.bearerToken) ?? ""
        guard Self.constantTimeEquals(presented, token) else {
            let failures = throttle.recordFailure(address)
            logger.warning("admin login failed", metadata: ["address": "\(address)", "failures_in_window": "\(failures)"])
            return Self.error(AdminError(.unauthorized, "a valid admin token is required"))
        }
        do {
            return try await AuditActor.$current.withValue(AuditActor(who: AuditActor.tokenID(token), source: "api", address: address)) {
                try await operation()
            }
        } catch let error as AdminError {
            return Self.error(error)
        } catch {
            return Self.error(AdminError(.unavailable, "the operation failed: \(error)"))
        }
    }

    /// The query parameters of a request (the first of each name).
    static func parameters(_ request: Request) -> [String: String] {
        Dictionary(request.uri.queryParameters.map { (String($0.key), String($0.value)) }) { first, _ in first }
    }

    static func name(_ context: GatewayRequestContext) throws -> String {
        guard let name = context.parameters.get("name"), !name.isEmpty else { throw AdminError(.invalid, "an account name is required") }
        return name
    }

    static func body(_ request: Request, emptyIs empty: [String: JSONValue]? = nil) async throws -> [String: JSONValue] {
        var request = request
        let buffer: ByteBuffer
        do { buffer = try await request.collectBody(upTo: maxBodyBytes) } catch {
            throw AdminError(.invalid, "the request body is missing or larger than 1 MiB")
        }
        if let empty, buffer.readableBytes == 0 { return empty }
        guard let object = JSONValue.object(from: Data(buffer.readableBytesView)) else {
            throw AdminError(.invalid, "the request body must be a JSON object")
        }
        return object
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try AdminJSON.encode(value)
        return Response(
            status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func error(_ error: AdminError) -> Response {
        let body = #"{"error":{"code":"\#(error.code.rawValue)","message":\#(jsonStringLiteral(error.description))}}"#
        return Response(
            status: .init(code: error.code.status), headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// The token of an `Authorization: Bearer …` header (the scheme in any case).
    static func bearerToken(_ header: String) -> String? {
        guard header.utf8.count > 7, header.prefix(7).lowercased() == "bearer " else { return nil }
        return String(header.dropFirst(7))
    }

    /// Compares the SHA-256 digests of both strings without an early exit: the
    /// time taken depends on neither the guess nor the token's length.
    static func constantTimeEquals(_ presented: String, _ expected: String) -> Bool {
        guard !expected.isEmpty else { return false }
        let x = SHA256.hash(data: Data(presented.utf8))
        let y = SHA256.hash(data: Data(expected.utf8))
        var difference: UInt8 = 0
        for (a, b) in zip(x, y) { difference |= a ^ b }
        return difference == 0
    }
}
