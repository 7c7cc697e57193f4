import Admin
import Engine
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Mustache
import NIOCore
import Storage
import SwitchboardCore

/// The admin console at `/admin/ui/`: server-rendered pages over the same
/// operations as the admin API. Signing in with the admin token starts a
/// session (an HttpOnly, SameSite=Strict cookie); every change is a plain
/// form post carrying the session's CSRF token, so the console works without
/// JavaScript. Off when no admin token is set. Nothing secret is rendered,
/// except a new key on the page that creates it.
public struct ConsoleRoutes: Sendable {
    let admin: AdminRoutes
    let sessions: ConsoleSessions
    let library: MustacheLibrary
    var operations: AdminOperations { admin.operations }

    /// The largest form read.
    static let maxFormBytes = 64 * 1024
    static let root = "/admin/ui"

    /// Creates the console over the admin API's operations, token and login throttle.
    public init(admin: AdminRoutes) {
        self.admin = admin
        self.sessions = ConsoleSessions(clock: admin.gateway.clock)
        var library = MustacheLibrary()
        // The templates are constants of this file's module: a parse error is a bug caught by every console test.
        for (name, text) in ConsoleTemplates.all.merging(ConsoleTemplates.partials, uniquingKeysWith: { a, _ in a }) {
            try? library.register(text, named: name)
        }
        self.library = library
    }

    /// Adds the console's routes.
    public func register(on router: some RouterMethods<GatewayRequestContext>) {
        let ui = router.group(RouterPath(stringLiteral: Self.root))
        if let token = admin.token { ui.add(middleware: ConsoleActor(who: AuditActor.tokenID(token))) }
        ui.get("/console.css") { _, _ in Self.asset(ConsoleTemplates.css, type: "text/css; charset=utf-8") }
        ui.get("/console.js") { _, _ in Self.asset(ConsoleTemplates.script, type: "text/javascript; charset=utf-8") }
        ui.get("/login") { request, _ in
            guard admin.token != nil else { return off() }
            if sessions.session(Self.cookie(request)) != nil { return Self.redirect("\(Self.root)/") }
            return render("Sign in", "login", [:], token: nil)
        }
        ui.post("/login") { request, context in await login(request, context: context) }
        ui.post("/logout") { request, _ in
            let token = Self.cookie(request)
            let form = await Self.form(request)
            if sessions.checks(token, csrf: form?["csrf"]) { sessions.end(token) }
            var response = Self.redirect("\(Self.root)/login")
            response.headers[.setCookie] = "\(ConsoleSessions.cookieName)=; Path=\(Self.root); HttpOnly; SameSite=Strict; Max-Age=0"
            return response
        }
        ui.get("/") { request, _ in
            await page(request, "Dashboard", "dashboard") { _ in
                let period = request.uri.queryParameters.get("period").flatMap(DashboardPeriod.init(rawValue:)) ?? .day
                var values = ConsolePages.dashboard(try await operations.reports.dashboard(period, now: admin.gateway.clock.now()))
                // What /ready says, where the operator looks first.
                let readiness = admin.gateway.readiness
                if !readiness.ready { values["unready"] = ["reasons": readiness.reasons] }
                return values
            }
        }
        registerKeys(on: ui)
        registerAccounts(on: ui)
        registerParties(on: ui)
        registerRequests(on: ui)
    }

    // MARK: pages and actions

    /// A signed-in page: `build` gives the template's values; an admin error
    /// becomes a message page in the console's own shape.
    func page(
        _ request: Request, _ title: String, _ template: String, status: HTTPResponse.Status = .ok,
        _ build: (String) async throws -> [String: Any]
    ) async -> Response {
        guard admin.token != nil else { return off() }
        let token = Self.cookie(request)
        guard let session = sessions.session(token) else { return Self.redirect("\(Self.root)/login") }
        do {
            var values = try await build(session.csrf)
            values["csrf"] = session.csrf
            // A page about one thing (a key, an account) is titled with its name.
            return render((values["title"] as? String).map { "\(title) \($0)" } ?? title, template, values, token: token, status: status)
        } catch let error as AdminError {
            return render(
                "Not done", "message", ["text": error.description, "back": "\(Self.root)/"], token: token,
                status: .init(code: error.code.status))
        } catch {
            return render(
                "Not done", "message", ["text": "The operation failed: \(error)", "back": "\(Self.root)/"], token: token,
                status: .serviceUnavailable)
        }
    }

    /// A form post, read once and checked: from a signed-in session, with
    /// that session's CSRF token. Anything else is answered here.
    enum Posted {
        case form(ConsoleForm, token: String?)
        case refused(Response)
    }

    func posted(_ request: Request, back: String) async -> Posted {
        guard admin.token != nil else { return .refused(off()) }
        if Self.isCrossSite(request) { return .refused(Self.crossSiteRefusal()) }
        let token = Self.cookie(request)
        guard sessions.session(token) != nil else { return .refused(Self.redirect("\(Self.root)/login")) }
        guard let form = await Self.form(request), sessions.checks(token, csrf: form["csrf"]) else {
            admin.logger.warning("console form refused: its CSRF token is missing or wrong", metadata: ["path": "\(request.uri.path)"])
            return .refused(
                render(
                    "Form refused", "message",
                    [
                        "text":
                            "This form was not sent from a page of this console session (its CSRF token is missing or wrong). Reload the page and try again.",
                        "back": back,
                    ],
                    token: token, status: .forbidden))
        }
        return .form(form, token: token)
    }

    /// A signed-in form post: runs `action` (which returns where to go and
    /// what to say) and redirects there. A refused operation goes back to
    /// `back` with the reason.
    func action(
        _ request: Request, back: String, _ action: @escaping (ConsoleForm) async throws -> (location: String, message: String)
    ) async -> Response {
        let (form, token): (ConsoleForm, String?)
        switch await posted(request, back: back) {
        case .refused(let response): return response
        case .form(let read, let session): (form, token) = (read, session)
        }
        do {
            let (location, message) = try await action(form)
            sessions.flash(token, message)
            return Self.redirect(location)
        } catch let error as AdminError {
            sessions.flash(token, error.description, isError: true)
        } catch {
            sessions.flash(token, "The operation failed: \(error)", isError: true)
        }
        return Self.redirect(back)
    }

    func login(_ request: Request, context: GatewayRequestContext) async -> Response {
        guard let expected = admin.token else { return off() }
        if Self.isCrossSite(request) { return Self.crossSiteRefusal() }
        let address = context.remoteAddress ?? "unknown"
        if let wait = admin.throttle.retryAfter(address) {
            var response = render(
                "Sign in", "login", [:], token: nil, status: .tooManyRequests,
                flash: .init(text: "Too many failed sign-ins from this address; try again in \(wait) s.", isError: true))
            response.headers[HeaderNames.retryAfter] = String(wait)
            return response
        }
        let form = await Self.form(request)
        guard let presented = form?["token"], AdminRoutes.constantTimeEquals(presented, expected) else {
            let failures = admin.throttle.recordFailure(address)
            admin.logger.warning("console sign-in failed", metadata: ["address": "\(address)", "failures_in_window": "\(failures)"])
            return render(
                "Sign in", "login", [:], token: nil, status: .unauthorized, flash: .init(text: "That is not the admin token.", isError: true))
        }
        let token = sessions.start()
        var response = Self.redirect("\(Self.root)/")
        // Secure when the page was served over https (a TLS proxy in front): the browser then never sends it in the clear.
        let secure = request.headers[.origin]?.lowercased().hasPrefix("https://") == true ? "; Secure" : ""
        response.headers[.setCookie] =
            "\(ConsoleSessions.cookieName)=\(token); Path=\(Self.root); HttpOnly; SameSite=Strict; Max-Age=\(Int(ConsoleSessions.lifetime))\(secure)"
        return response
    }

    func off() -> Response {
        Self.html(
            "<!doctype html><title>Console off</title><p>The admin console is off; set admin_token (SWITCHBOARD_ADMIN_TOKEN) to turn it on.</p>",
            status: .notFound)
    }

    /// Renders `template` inside the layout.
    func render(
        _ title: String, _ template: String, _ values: [String: Any], token: String?, status: HTTPResponse.Status = .ok,
        flash: ConsoleSessions.Flash? = nil
    ) -> Response {
        let content = library.render(values, withTemplate: template) ?? ""
        let session = sessions.session(token)
        let message = flash ?? sessions.takeFlash(token)
        var layout: [String: Any] = ["title": title, "content": content, "signedIn": session != nil]
        if let session { layout["csrf"] = session.csrf }
        if let message { layout["flash"] = ["text": message.text, "isError": message.isError] }
        return Self.html(library.render(layout, withTemplate: "layout") ?? "", status: status)
    }

    // MARK: HTTP helpers

    /// A post another site's page made the browser send (`Sec-Fetch-Site:
    /// cross-site`, which every current browser sets and no page can forge):
    /// refused before anything else, sign-in included, besides the session's
    /// CSRF token and the SameSite cookie.
    static func isCrossSite(_ request: Request) -> Bool {
        request.headers[HeaderNames.fetchSite]?.lowercased() == "cross-site"
    }

    static func crossSiteRefusal() -> Response {
        html("<!doctype html><title>Refused</title><p>This console takes forms from its own pages only.</p>", status: .forbidden)
    }

    /// The session token of the request's cookie.
    static func cookie(_ request: Request) -> String? {
        for header in request.headers[values: .cookie] {
            for part in header.split(separator: ";") {
                let pair = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                if pair.count == 2, pair[0] == ConsoleSessions.cookieName { return String(pair[1]) }
            }
        }
        return nil
    }

    /// The posted form, or nil when the body is not one or is too large.
    static func form(_ request: Request) async -> ConsoleForm? {
        var request = request
        guard let buffer = try? await request.collectBody(upTo: maxFormBytes) else { return nil }
        return ConsoleForm(body: String(buffer: buffer))
    }

    /// Headers every console page carries: no caching (a page may show a new
    /// key), no framing, no script but the console's own file.
    static func secured(_ headers: inout HTTPFields) {
        headers[.cacheControl] = "no-store"
        headers[HTTPField.Name("Content-Security-Policy")!] =
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
    }

    static func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers: HTTPFields = [.contentType: "text/html; charset=utf-8"]
        secured(&headers)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func asset(_ text: String, type: String) -> Response {
        var headers: HTTPFields = [.contentType: type]
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        headers[.cacheControl] = "max-age=3600"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// A 303 to `location` (a path of this console).
    static func redirect(_ location: String) -> Response {
        var headers: HTTPFields = [.location: location]
        secured(&headers)
        return Response(status: .seeOther, headers: headers)
    }

    /// A path parameter, percent-decoded.
    static func parameter(_ context: GatewayRequestContext, _ name: String = "name") throws -> String {
        guard let raw = context.parameters.get(name), !raw.isEmpty else { throw AdminError(.invalid, "a name is required") }
        return raw.removingPercentEncoding ?? raw
    }
}

/// Names the console as the actor of whatever a console request changes (the
/// audit log's `who`, `source` and address).
struct ConsoleActor: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let who: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        try await AuditActor.$current.withValue(AuditActor(who: who, source: "console", address: context.remoteAddress)) {
            try await next(request, context)
        }
    }
}
