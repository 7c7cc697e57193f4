import Admin
import Engine
import Hummingbird
import NIOCore
import Storage
import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension ConsoleRoutes {
    /// The request explorer, a request's record, and the usage report with its CSV.
    func registerRequests(on ui: RouterGroup<GatewayRequestContext>) {
        ui.get("/requests") { request, _ in
            await page(request, "Requests", "requests") { _ in
                let parameters = AdminRoutes.parameters(request)
                let query = try RequestAdmin.query(parameters)
                let found = try await operations.requests.list(query)
                var values: [String: Any] = ["rows": found.requests.map(ConsolePages.requestRow)]
                for name in ["from", "to", "key", "user", "account", "model", "dialect", "status"] { values[name] = parameters[name] ?? "" }
                values["requestID"] = parameters["request_id"] ?? ""
                values["session"] = parameters["session"] ?? ""
                values["outcomes"] = Outcome.allCases.map { ["name": $0.rawValue, "selected": parameters["outcome"] == $0.rawValue] }
                if let next = found.nextCursor { values["next"] = ConsolePages.queryString(parameters, cursor: next) }
                return values
            }
        }
        ui.get("/simulate") { request, _ in
            await page(request, "Simulate", "simulate") { _ in
                ["since": "7d", "proposal": #"{"keys": [{"name": "laptop-1", "daily_cost_usd": 2}]}"#]
            }
        }
        ui.post("/simulate") { request, _ in
            let (form, token): (ConsoleForm, String?)
            switch await posted(request, back: "\(Self.root)/simulate") {
            case .refused(let response): return response
            case .form(let read, let session): (form, token) = (read, session)
            }
            var values: [String: Any] = ["since": form.text("since") ?? "7d", "proposal": form.text("proposal") ?? ""]
            values["csrf"] = sessions.session(token)?.csrf
            do {
                guard let since = DurationSyntax.parse(form.text("since") ?? "7d"), since > .zero, since <= .seconds(3660 * 86400) else {
                    throw AdminError(.invalid, "since must be a duration such as 7d, 24h or 90m")
                }
                guard let proposal = JSONValue.object(from: Data((form.text("proposal") ?? "{}").utf8)) else {
                    throw AdminError(.invalid, "the proposal must be a JSON object, such as {\"keys\": [{\"name\": \"k\", \"daily_cost_usd\": 2}]}")
                }
                let report = try await operations.policy.simulate(
                    try operations.policy.proposal(proposal), since: Date().addingTimeInterval(-Double(since.components.seconds)))
                values["report"] = ConsolePages.simulation(report)
                return render("Simulate", "simulate", values, token: token)
            } catch let error as AdminError {
                return render("Simulate", "simulate", values, token: token, status: .badRequest, flash: .init(text: error.description, isError: true))
            } catch {
                return render(
                    "Simulate", "simulate", values, token: token, status: .serviceUnavailable,
                    flash: .init(text: "The simulation failed: \(error)", isError: true))
            }
        }
        ui.get("/reconciliation") { request, _ in
            await page(request, "Reconciliation", "reconciliation") { _ in
                guard let report = try await operations.reconciliation.last() else { return [:] }
                return ["report": ConsolePages.reconciliation(report)]
            }
        }
        ui.get("/audit") { request, _ in
            await page(request, "Audit", "audit") { _ in
                let parameters = AdminRoutes.parameters(request)
                let found = try await operations.audit.list(try AuditAdmin.query(parameters))
                let source = parameters["source"] ?? ""
                var values: [String: Any] = [
                    "rows": found.entries.map(ConsolePages.auditRow), "action": parameters["action"] ?? "", "target": parameters["target"] ?? "",
                    "sources": ["api", "console", "cli"].map { name -> [String: Any] in ["name": name, "selected": source == name] },
                ]
                if let next = found.nextCursor { values["next"] = ConsolePages.queryString(parameters, cursor: next) }
                return values
            }
        }
        ui.get("/requests/:id") { request, context in
            await page(request, "Request", "request") { _ in
                let id = try Self.parameter(context, "id")
                var page = ConsolePages.request(try await operations.requests.get(id))
                // Shown only where the key is captured; a capture that cannot be opened says why.
                do {
                    let capture = try await operations.requests.capture(id)
                    page["capture"] = [
                        "request": capture.request, "requestCut": capture.requestTruncated,
                        "response": capture.response ?? "(the gateway's own answer)",
                        "responseCut": capture.responseTruncated,
                    ]
                } catch let error as AdminError where error.code != .notFound {
                    page["captureProblem"] = error.description
                } catch {}
                return page
            }
        }
        ui.get("/usage") { request, _ in
            await page(request, "Usage", "usage") { _ in
                let (dimension, from, to, parameters) = try Self.usageFilter(request)
                let rows = try await operations.reports.usage(by: dimension, from: from, to: to)
                return [
                    "rows": rows.map(ConsolePages.usageRow), "by": dimension.rawValue,
                    "dimensions": UsageDimension.allCases.map { ["name": $0.rawValue, "selected": $0 == dimension] },
                    "from": parameters["from"] ?? "", "to": parameters["to"] ?? "",
                    "query": ConsolePages.queryString(parameters),
                ]
            }
        }
        ui.get("/usage.csv") { request, _ in
            guard admin.token != nil else { return off() }
            guard sessions.session(Self.cookie(request)) != nil else { return Self.redirect("\(Self.root)/login") }
            do {
                let (dimension, from, to, _) = try Self.usageFilter(request)
                let csv = ReportAdmin.csv(try await operations.reports.usage(by: dimension, from: from, to: to), by: dimension)
                var response = Response(
                    status: .ok, headers: [.contentType: "text/csv; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: csv)))
                response.headers[.contentDisposition] = "attachment; filename=\"switchboard-usage-by-\(dimension.rawValue).csv\""
                response.headers[.cacheControl] = "no-store"
                return response
            } catch {
                return Self.html("<!doctype html><title>Usage</title><p>\(HTMLText.escape("\(error)"))</p>", status: .badRequest)
            }
        }
    }

    /// The usage page's grouping and dates (`from` default 30 days ago, `to` default tomorrow, both UTC dates).
    static func usageFilter(_ request: Request) throws -> (UsageDimension, Date, Date, [String: String]) {
        let parameters = AdminRoutes.parameters(request)
        let dimension =
            try parameters["by"].map { name throws(AdminError) in
                guard let value = UsageDimension(rawValue: name) else { throw AdminError(.invalid, "by must be key, user, model, account or day") }
                return value
            } ?? .key
        let query = try RequestAdmin.query(["from": parameters["from"] ?? "", "to": parameters["to"] ?? ""])
        let now = Date()
        let tomorrow = Date(timeIntervalSince1970: (now.timeIntervalSince1970 / 86_400).rounded(.down) * 86_400 + 86_400)
        return (dimension, query.from ?? tomorrow.addingTimeInterval(-31 * 86_400), query.to ?? tomorrow, parameters)
    }
}
