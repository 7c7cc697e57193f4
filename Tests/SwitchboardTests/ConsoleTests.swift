import Admin
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Storage
import SwitchboardApp
import SwitchboardCore
import SwitchboardTesting
import Testing

@testable import HTTPServer

/// The admin console's pieces that a browser test cannot reach cheaply:
/// hostile forms, session expiry on the injected clock, CSV cells, and the
/// console's answers without a session, token or CSRF field.
@Suite struct ConsoleTests {
    static let token = "admin-token-0123456789abcdef"

    @Test func formsAreReadWithBounds() throws {
        let form = try #require(ConsoleForm(body: "name=a+b&models=gpt-*%2C+claude-*&csrf=x&name=c"))
        #expect(form["name"] == "c")  // the later field wins
        #expect(form.settings(lists: ["models"], editing: false)["models"] == .array([.string("gpt-*"), .string("claude-*")]))
        #expect(ConsoleForm(body: "a=%ZZ") == nil)
        #expect(ConsoleForm(body: "a=%C3") == nil)  // not UTF-8
        #expect(ConsoleForm(body: (0...ConsoleForm.maxFields).map { "f\($0)=1" }.joined(separator: "&")) == nil)
    }

    @Test func anEmptyFieldRemovesALimitOnlyWhenEditing() throws {
        let form = try #require(ConsoleForm(body: "concurrency=&daily_cost_usd=2.50&token_limit=lots"))
        let created = form.settings(numbers: ["concurrency", "token_limit"], money: ["daily_cost_usd"], editing: false)
        #expect(created["concurrency"] == nil && created["daily_cost_usd"] == .string("2.50"))
        #expect(created["token_limit"] == .string("lots"))  // refused by the key's own validation, with its message
        #expect(form.settings(numbers: ["concurrency"], editing: true)["concurrency"] == .null)
        #expect(form.settings(numbers: ["max_waiting"], editing: true)["max_waiting"] == nil)  // not on the form: untouched
    }

    @Test func sessionsExpireOnTheClockAndCheckTheirCSRFToken() {
        let clock = MockClock(start: Date(timeIntervalSince1970: 1_800_000_000))
        let sessions = ConsoleSessions(clock: clock)
        let token = sessions.start()
        let csrf = sessions.session(token)!.csrf
        #expect(sessions.checks(token, csrf: csrf))
        #expect(!sessions.checks(token, csrf: csrf + "0"))
        #expect(!sessions.checks(token, csrf: nil))
        #expect(!sessions.checks("forged", csrf: csrf))
        clock.advance(by: .seconds(Int(ConsoleSessions.lifetime) + 1))
        #expect(sessions.session(token) == nil)
        #expect(!sessions.checks(token, csrf: csrf))
    }

    @Test func csvCellsCannotRunAsFormulas() {
        let rows = [
            UsageTotals(
                name: "=HYPERLINK(\"http://x\")", requests: 1, errors: 0, inputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0, outputTokens: 1,
                cost: .zero),
            UsageTotals(
                name: "a,b", requests: 2, errors: 1, inputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, outputTokens: 0,
                cost: Money(dollars: "0.25")!),
        ]
        let lines = ReportAdmin.csv(rows, by: .model).split(separator: "\r\n")
        #expect(lines[0] == "model,requests,errors,input_tokens,cache_read_tokens,cache_write_tokens,output_tokens,cost_usd")
        #expect(lines[1].hasPrefix("\"'=HYPERLINK(\"\"http://x\"\")\","))
        #expect(lines[2] == "\"a,b\",2,1,0,0,0,0,0.25")
    }

    @Test func theConsoleIsOffWithoutAnAdminToken() async throws {
        try await withHarness { (harness: Harness) async throws in
            #expect(try await harness.browse("/admin/ui/login").status == 404)
        }
    }

    @Test func pagesNeedASessionAndChangesNeedItsCSRFToken() async throws {
        try await withHarness(configure: { $0.adminToken = Self.token }) { (harness: Harness) async throws in
            let anonymous = try await harness.browse("/admin/ui/keys")
            #expect(anonymous.status == 303 && anonymous.headers["location"].first == "/admin/ui/login")
            #expect(try await harness.form("/admin/ui/login", "token=wrong").status == 401)

            // Another site's page posting the right token through the browser is refused, so is a post to any form.
            let crossSite = [("sec-fetch-site", "cross-site"), ("origin", "https://elsewhere.example")]
            let forged = try await harness.form("/admin/ui/login", "token=\(Self.token)", headers: crossSite)
            #expect(forged.status == 403 && forged.headers["set-cookie"].isEmpty)
            let overTLS = try await harness.form(
                "/admin/ui/login", "token=\(Self.token)", headers: [("sec-fetch-site", "same-origin"), ("origin", "https://gateway.example")])
            #expect(overTLS.headers["set-cookie"].first?.hasSuffix("; Secure") == true, "a page served over https gets a Secure cookie")

            let login = try await harness.form("/admin/ui/login", "token=\(Self.token)")
            #expect(login.status == 303)
            let setCookie = try #require(login.headers["set-cookie"].first)
            #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict") && !setCookie.contains("Secure"))
            let cookie = String(setCookie.prefix { $0 != ";" })

            let page = try await harness.browse("/admin/ui/keys/test-key", cookie: cookie)
            #expect(page.status == 200)
            #expect(page.headers["cache-control"].first == "no-store")
            #expect(page.headers["content-security-policy"].first?.contains("frame-ancestors 'none'") == true)
            #expect(!page.body.contains(Harness.key))

            // Without the CSRF field, with a wrong one: refused, and the key still serves.
            #expect(try await harness.form("/admin/ui/keys/test-key/disable", "", cookie: cookie).status == 403)
            #expect(try await harness.form("/admin/ui/keys/test-key/disable", "csrf=0123", cookie: cookie).status == 403)
            let csrfFromPage = try #require(page.body.firstMatch(of: /name="csrf" value="([0-9a-f]+)"/)?.1)
            let crossSitePost = try await harness.form(
                "/admin/ui/keys/test-key/disable", "csrf=\(csrfFromPage)", cookie: cookie, headers: [("sec-fetch-site", "cross-site")])
            #expect(crossSitePost.status == 403)
            #expect(try await harness.send("/v1/chat/completions", body: Harness.chat("echo")).status == 200)

            // With it: done.
            let csrf = try #require(page.body.firstMatch(of: /name="csrf" value="([0-9a-f]+)"/)?.1)
            #expect(try await harness.form("/admin/ui/keys/test-key/disable", "csrf=\(csrf)", cookie: cookie).status == 303)
            #expect(try await harness.send("/v1/chat/completions", body: Harness.chat("echo")).status == 401)
            // The audit log names the console as the actor; the refused posts left nothing.
            let audit = try await harness.admin("/audit", token: Self.token)
            let actions = (audit.json["entries"] as? [[String: Any]] ?? []).map { "\($0["source"] ?? "")/\($0["action"] ?? "")" }
            #expect(actions == ["console/key.disable"])
            let auditPage = try await harness.browse("/admin/ui/audit?source=console", cookie: cookie)
            #expect(auditPage.status == 200 && auditPage.body.contains("key.disable") && auditPage.body.contains("state: active → disabled"))
        }
    }
}

extension ConsoleTests {
    /// Signs in; returns the session cookie and its CSRF token.
    func signIn(_ harness: Harness) async throws -> (cookie: String, csrf: String) {
        let login = try await harness.form("/admin/ui/login", "token=\(Self.token)")
        let cookie = String(try #require(login.headers["set-cookie"].first).prefix { $0 != ";" })
        let page = try await harness.browse("/admin/ui/keys", cookie: cookie)
        let csrf = try #require(page.body.firstMatch(of: /name="csrf" value="([0-9a-f]+)"/)?.1)
        return (cookie, String(csrf))
    }

    @Test func theDashboardSaysWhyTheGatewayIsNotReady() async throws {
        try await withHarness(accounts: { _ in [] }, configure: { $0.adminToken = Self.token }) { (harness: Harness) async throws in
            let (cookie, _) = try await signIn(harness)
            let page = try await harness.browse("/admin/ui/", cookie: cookie)
            #expect(page.status == 200 && page.body.contains("Not ready") && page.body.contains("no upstream accounts are configured"))
        }
        try await withHarness(configure: { $0.adminToken = Self.token }) { (harness: Harness) async throws in
            let (cookie, _) = try await signIn(harness)
            #expect(!(try await harness.browse("/admin/ui/", cookie: cookie).body.contains("Not ready")))
        }
    }

    @Test func aPolicyIsSimulatedFromItsPage() async throws {
        try await withHarness(configure: { $0.adminToken = Self.token }) { (harness: Harness) async throws in
            let (cookie, csrf) = try await signIn(harness)
            #expect(try await harness.browse("/admin/ui/simulate", cookie: cookie).body.contains("Proposal (JSON)"))
            let proposal = #"{"keys":[{"name":"test-key","daily_cost_usd":"0.01"}]}"#.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let done = try await harness.form("/admin/ui/simulate", "csrf=\(csrf)&since=1d&proposal=\(proposal)", cookie: cookie)
            #expect(done.status == 200 && done.body.contains("requests replayed"))
            let refused = try await harness.form("/admin/ui/simulate", "csrf=\(csrf)&since=1d&proposal=%7B%22keys%22%3A5%7D", cookie: cookie)
            #expect(refused.status == 400 && refused.body.contains("keys must be a list"))
        }
    }

    @Test func usersGroupsAndAccountsAreManagedThroughForms() async throws {
        try await withHarness(configure: { $0.adminToken = Self.token }) { (harness: Harness) async throws in
            let (cookie, csrf) = try await signIn(harness)
            #expect(
                try await harness.form(
                    "/admin/ui/groups",
                    "csrf=\(csrf)&name=team&multiplier=1.5&daily_usd=&monthly_usd=100"
                        + "&price_multiplier=%7B%22claude-opus-*%22%3A2%7D",
                    cookie: cookie
                ).status == 303)
            #expect(
                try await harness.form(
                    "/admin/ui/users",
                    "csrf=\(csrf)&name=ann&group=team&balance_usd=5&concurrency=3"
                        + "&model_budgets=%7B%22gpt-5*%22%3A%7B%22daily_usd%22%3A1%7D%7D",
                    cookie: cookie
                ).status == 303)
            #expect(try await harness.form("/admin/ui/users/ann/topup", "csrf=\(csrf)&amount_usd=2.50", cookie: cookie).status == 303)
            let users = try await harness.browse("/admin/ui/users", cookie: cookie)
            #expect(users.body.contains("<td>ann</td><td>team</td><td>$7.5</td>"))
            #expect(users.body.contains("Added $2.5 to ann."))
            #expect(users.body.contains("<td>team</td><td>1.5</td><td><code>"))
            #expect(users.body.contains("</code></td><td></td><td></td><td>$100</td>"))
            let parties = PartyAdmin(store: harness.switchboard.storeContext.store)
            let groups = try await parties.groups()
            #expect(groups.first?.priceMultiplier == ["claude-opus-*": "2"], "a multiplier per model from the form's JSON")
            let ann = try #require(try await parties.users().first { $0.name == "ann" })
            #expect(ann.concurrency == 3 && ann.modelBudgets?["gpt-5*"]?.dailyUsd == "1")

            // A refused change comes back with its reason, in the page's message.
            #expect(try await harness.form("/admin/ui/users", "csrf=\(csrf)&name=a%2Fb", cookie: cookie).status == 303)
            #expect(try await harness.browse("/admin/ui/users", cookie: cookie).body.contains("a name cannot hold /"))

            // An account added, its secret rotated: the secret is never on a page.
            let secret = "sk-console-account-secret-0123456789"
            let added = try await harness.form(
                "/admin/ui/accounts",
                "csrf=\(csrf)&name=extra&provider=openai&base_url=http%3A%2F%2F127.0.0.1%3A\(harness.fakePort)%2Fv1&api_key=\(secret)&models=gpt-x",
                cookie: cookie)
            #expect(added.status == 303 && added.headers["location"].first == "/admin/ui/accounts/extra")
            #expect(try await harness.form("/admin/ui/accounts/extra/rotate", "csrf=\(csrf)&api_key=\(secret)-2", cookie: cookie).status == 303)
            let account = try await harness.browse("/admin/ui/accounts/extra", cookie: cookie)
            #expect(account.body.contains("Rotated the secret of extra.") && account.body.contains("sealed, opens"))
            #expect(!account.body.contains(secret))
            #expect(try await harness.form("/admin/ui/accounts/extra/disable", "csrf=\(csrf)", cookie: cookie).status == 303)
            #expect(try await harness.browse("/admin/ui/accounts/extra", cookie: cookie).body.contains("<dd id=\"account-state\">disabled</dd>"))

            // A provider's failover cap from the accounts page; a refused one says why.
            #expect(try await harness.form("/admin/ui/providers", "csrf=\(csrf)&provider=anthropic&max_failovers=1", cookie: cookie).status == 303)
            let accounts = try await harness.browse("/admin/ui/accounts", cookie: cookie).body
            #expect(
                accounts.contains("<tr><td>anthropic</td><td>1</td></tr>") && accounts.contains("<tr><td>openai</td><td>no cap of its own</td></tr>"))
            #expect(try await harness.form("/admin/ui/providers", "csrf=\(csrf)&provider=anthropic&max_failovers=many", cookie: cookie).status == 303)
            #expect(
                try await harness.browse("/admin/ui/accounts", cookie: cookie).body.contains(
                    "providers.anthropic.max_failovers must be a whole number"))
        }
    }

    @Test func aKeysAndAnAccountsPagesListTheirSessions() async throws {
        try await withHarness(configure: { $0.adminToken = Self.token }) { (harness: Harness) async throws in
            var rows: [LedgerRow] = []
            for _ in 0..<2 {
                let reply = try await harness.send(
                    "/v1/chat/completions", body: Harness.chat("gpt-4o-mini"), headers: [("session-id", "console-session")])
                rows.append(try await harness.row(reply.headers.first(name: "x-request-id")))
            }
            let (cookie, _) = try await signIn(harness)
            let session = try #require(rows[0].session)
            #expect(rows[1].session == session)
            for page in ["/admin/ui/keys/test-key", "/admin/ui/accounts/openai-1"] {
                let body = try await harness.browse(page, cookie: cookie).body
                #expect(body.contains("<a href=\"/admin/ui/requests?session=\(session)\"><code>\(session.prefix(12))</code></a>"), "\(page)")
                #expect(body.contains("<td>test-key</td><td>openai-1</td><td>2</td>"), "\(page)")
                #expect(!body.contains("console-session"), "what the client wrote is never shown")
            }
        }
    }
}

extension Harness {
    /// A browser's request, redirects not followed.
    func browse(_ path: String, form: String? = nil, cookie: String? = nil, headers: [(String, String)] = []) async throws -> Reply {
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: .init(redirectConfiguration: .disallow))
        defer { _ = client.shutdown() }
        var request = HTTPClientRequest(url: base + path)
        if let form {
            request.method = .POST
            request.headers.add(name: "content-type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: form))
        }
        if let cookie { request.headers.add(name: "cookie", value: cookie) }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let response = try await client.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        return Reply(status: Int(response.status.code), headers: response.headers, body: String(buffer: bytes))
    }

    /// Posts a form as a browser would.
    func form(_ path: String, _ body: String, cookie: String? = nil, headers: [(String, String)] = []) async throws -> Reply {
        try await browse(path, form: body, cookie: cookie, headers: headers)
    }
}
