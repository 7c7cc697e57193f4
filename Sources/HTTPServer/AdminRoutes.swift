import Engine
import Foundation
import Hummingbird
import NIOCore
import SwitchboardCore

/// The admin API under `/admin`, for accounts: list with live state, create,
/// update, enable, disable, delete, test. Every call needs
/// `Authorization: Bearer <admin_token>`; with no token configured the admin API
/// is off.
public struct AdminRoutes: Sendable {
    let accounts: AccountAdmin
    let keys: KeyAdmin
    let parties: PartyAdmin
    let gateway: Gateway
    let token: String?

    /// Creates the routes; `token` nil turns the admin API off.
    public init(
        accounts: AccountAdmin, keys: KeyAdmin, parties: PartyAdmin, gateway: Gateway, token: String?
    ) {
        self.gateway = gateway
        self.accounts = accounts
        self.keys = keys
        self.parties = parties
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
    public func register(on router: Router<GatewayRequestContext>) {
        let group = router.group("/admin")
        group.get("/accounts") { request, _ in
            await guarded(request) { try await Self.json(accounts.list()) }
        }
        group.post("/accounts") { request, _ in
            await guarded(request) {
                let settings = try AccountSettings(json: try await Self.body(request))
                return try Self.json(await accounts.create(settings), status: .created)
            }
        }
        group.get("/accounts/:name") { request, context in
            await guarded(request) { try Self.json(await accounts.get(try Self.name(context))) }
        }
        group.patch("/accounts/:name") { request, context in
            await guarded(request) {
                let settings = try AccountSettings(json: try await Self.body(request), name: try Self.name(context))
                return try Self.json(await accounts.update(settings))
            }
        }
        group.delete("/accounts/:name") { request, context in
            await guarded(request) {
                try await accounts.delete(try Self.name(context))
                return Response(status: .noContent)
            }
        }
        group.post("/accounts/:name/enable") { request, context in
            await guarded(request) { try Self.json(await accounts.setEnabled(try Self.name(context), true)) }
        }
        group.post("/accounts/:name/disable") { request, context in
            await guarded(request) { try Self.json(await accounts.setEnabled(try Self.name(context), false)) }
        }
        group.post("/accounts/:name/test") { request, context in
            await guarded(request) { try Self.json(await accounts.test(try Self.name(context), transport: gateway.transport)) }
        }
        registerKeys(on: group)
        registerParties(on: group)
        group.get("/stats") { request, _ in
            await guarded(request) { try Self.json(gateway.stats) }
        }
    }

    /// `/admin/users` and `/admin/groups`.
    func registerParties(on group: RouterGroup<GatewayRequestContext>) {
        group.get("/users") { request, _ in await guarded(request) { try Self.json(await parties.users()) } }
        group.post("/users") { request, _ in
            await guarded(request) { try Self.json(await parties.createUser(try await Self.body(request)), status: .created) }
        }
        group.patch("/users/:name") { request, context in
            await guarded(request) { try Self.json(await parties.updateUser(try Self.name(context), try await Self.body(request))) }
        }
        group.delete("/users/:name") { request, context in
            await guarded(request) {
                try await parties.deleteUser(try Self.name(context))
                return Response(status: .noContent)
            }
        }
        for (action, sign) in [("topup", Int64(1)), ("deduct", Int64(-1))] {
            group.post("/users/:name/\(action)") { request, context in
                await guarded(request) {
                    let picos = try Self.amount(try await Self.body(request))
                    return try Self.json(await parties.adjustUserBalance(try Self.name(context), by: sign * picos))
                }
            }
        }
        group.get("/users/:name/stats") { request, context in
            await guarded(request) { try Self.json(await parties.userStats(try Self.name(context), days: Self.days(request))) }
        }
        group.get("/groups/:name/stats") { request, context in
            await guarded(request) { try Self.json(await parties.groupStats(try Self.name(context), days: Self.days(request))) }
        }
        group.get("/groups") { request, _ in await guarded(request) { try Self.json(await parties.groups()) } }
        group.post("/groups") { request, _ in
            await guarded(request) { try Self.json(await parties.createGroup(try await Self.body(request)), status: .created) }
        }
        group.patch("/groups/:name") { request, context in
            await guarded(request) { try Self.json(await parties.updateGroup(try Self.name(context), try await Self.body(request))) }
        }
        group.delete("/groups/:name") { request, context in
            await guarded(request) {
                try await parties.deleteGroup(try Self.name(context))
                return Response(status: .noContent)
            }
        }
    }

    /// `?days=N` of a stats request: 1…366, default 30.
    static func days(_ request: Request) -> Int {
        min(max(request.uri.queryParameters.get("days").flatMap { Int($0) } ?? 30, 1), 366)
    }

    /// `amount_usd` of a top-up or deduction: positive dollars.
    static func amount(_ body: [String: JSONValue]) throws -> Int64 {
        guard let value = body["amount_usd"], let picos = try KeySettings.dollars(value, "amount_usd"), picos > 0 else {
            throw AdminError(.invalid, "amount_usd must be a positive amount of dollars")
        }
        return picos
    }

    /// `/admin/keys`: create (shown once), list with usage, update, enable,
    /// disable, top-up, deduct, stats, delete.
    func registerKeys(on group: RouterGroup<GatewayRequestContext>) {
        group.get("/keys") { request, _ in
            await guarded(request) { try Self.json(await keys.list()) }
        }
        group.post("/keys") { request, _ in
            await guarded(request) {
                let body = try await Self.body(request)
                guard case .string(let name)? = body["name"] else { throw AdminError(.invalid, "name is required") }
                let (view, secret) = try await keys.create(name: name, settings: body, source: "admin_api")
                return try Self.json(CreatedKey(apiKey: secret, key: view), status: .created)
            }
        }
        group.get("/keys/:name") { request, context in
            await guarded(request) { try Self.json(await keys.get(try Self.name(context))) }
        }
        group.patch("/keys/:name") { request, context in
            await guarded(request) {
                let name = try Self.name(context)
                let body = try await Self.body(request)
                if case .string(let other)? = body["name"], other != name { throw AdminError(.invalid, "a key cannot be renamed") }
                return try Self.json(await keys.update(name, settings: body))
            }
        }
        group.delete("/keys/:name") { request, context in
            await guarded(request) {
                try await keys.delete(try Self.name(context))
                return Response(status: .noContent)
            }
        }
        for (action, enabled) in [("enable", true), ("disable", false)] {
            group.post("/keys/:name/\(action)") { request, context in
                await guarded(request) { try Self.json(await keys.update(try Self.name(context), settings: ["enabled": .bool(enabled)])) }
            }
        }
        for (action, sign) in [("topup", Int64(1)), ("deduct", Int64(-1))] {
            group.post("/keys/:name/\(action)") { request, context in
                await guarded(request) {
                    let picos = try Self.amount(try await Self.body(request))
                    return try Self.json(await keys.adjustBalance(try Self.name(context), by: sign * picos))
                }
            }
        }
        group.get("/keys/:name/stats") { request, context in
            await guarded(request) {
                try Self.json(await keys.stats(try Self.name(context), days: Self.days(request)))
            }
        }
    }

    /// Checks the admin token, runs the operation, and renders its errors.
    func guarded(_ request: Request, _ operation: () async throws -> Response) async -> Response {
        guard let token else {
            return Self.error(AdminError(.notFound, "the admin API is off; set admin_token (SWITCHBOARD_ADMIN_TOKEN) to turn it on"))
        }
        let presented = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil } ?? ""
        guard Self.constantTimeEquals(presented, token) else {
            return Self.error(AdminError(.unauthorized, "a valid admin token is required"))
        }
        do {
            return try await operation()
        } catch let error as AdminError {
            return Self.error(error)
        } catch {
            return Self.error(AdminError(.unavailable, "the operation failed: \(error)"))
        }
    }

    static func name(_ context: GatewayRequestContext) throws -> String {
        guard let name = context.parameters.get("name"), !name.isEmpty else { throw AdminError(.invalid, "an account name is required") }
        return name
    }

    static func body(_ request: Request) async throws -> [String: JSONValue] {
        var request = request
        let buffer: ByteBuffer
        do { buffer = try await request.collectBody(upTo: maxBodyBytes) } catch {
            throw AdminError(.invalid, "the request body is missing or larger than 1 MiB")
        }
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

    /// Compares without an early exit, so timing does not reveal how much of a
    /// guess was right.
    static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        var difference = UInt8(truncatingIfNeeded: x.count ^ y.count)
        for index in 0..<max(x.count, y.count) {
            difference |= (index < x.count ? x[index] : 0) ^ (index < y.count ? y[index] : 0)
        }
        return difference == 0 && !y.isEmpty
    }
}
