import Admin
import Engine
import Hummingbird
import Logging
import Policy
import Storage
import SwitchboardCore

extension ConsoleRoutes {
    /// The key form's fields, by kind (the admin API's names).
    static func keySettings(_ form: ConsoleForm, editing: Bool) -> [String: JSONValue] {
        var json = form.settings(
            texts: ["description", "user", "expires_at", "budget_duration"],
            lists: ["models", "clients", "ip_allow", "ip_deny", "pools", "accounts"],
            numbers: ["concurrency", "token_limit"],
            money: ["daily_cost_usd", "weekly_cost_usd", "monthly_cost_usd", "balance_usd", "budget_usd"], documents: ["model_budgets"],
            editing: editing)
        // An unticked box is not sent at all: on an edit, that means "off".
        if form.text("fallback_to_shared") != nil || editing { json["fallback_to_shared"] = .bool(form.text("fallback_to_shared") != nil) }
        return json
    }

    /// Keys: list, create (shown once), a key's page, edit, enable, disable,
    /// top up, deduct, delete.
    func registerKeys(on ui: RouterGroup<GatewayRequestContext>) {
        let keysPath = "\(Self.root)/keys"
        ui.get("/keys") { request, _ in
            await page(request, "Keys", "keys") { _ in ["keys": try await operations.keys.list().map(ConsolePages.keyRow)] }
        }
        ui.post("/keys") { request, _ in
            let (form, token): (ConsoleForm, String?)
            switch await posted(request, back: keysPath) {
            case .refused(let response): return response
            case .form(let read, let session): (form, token) = (read, session)
            }
            do {
                guard let name = form.text("name") else { throw AdminError(.invalid, "name is required") }
                let (view, secret) = try await operations.keys.create(
                    name: name, settings: Self.keySettings(form, editing: false), source: "console")
                admin.logger.info("key created in the console", metadata: ["key": "\(view.name)"])
                // Shown on this page only, never stored or rendered again.
                return render("Key created", "keyCreated", ["name": view.name, "path": ConsolePages.path(view.name), "secret": secret], token: token)
            } catch let error as AdminError {
                sessions.flash(token, error.description, isError: true)
            } catch {
                sessions.flash(token, "The operation failed: \(error)", isError: true)
            }
            return Self.redirect(keysPath)
        }
        ui.get("/keys/:name") { request, context in
            await page(request, "Key", "key") { _ in
                let name = try Self.parameter(context)
                let view = try await operations.keys.get(name)
                var query = LedgerQuery()
                query.keyName = name
                query.limit = 20
                var values = ConsolePages.key(
                    view, stats: try await operations.stats.key(name, try StatsRequest.parse(["days": "30"])),
                    recent: try await operations.requests.list(query))
                values["sessions"] = try await operations.requests.sessions(query).sessions.map(ConsolePages.sessionRow)
                values["title"] = name
                return values
            }
        }
        ui.post("/keys/:name") { request, context in
            let name = (try? Self.parameter(context)) ?? ""
            let back = "\(keysPath)/\(ConsolePages.path(name))"
            return await action(request, back: back) { form in
                _ = try await operations.keys.update(name, settings: Self.keySettings(form, editing: true))
                return (back, "Saved the settings of \(name).")
            }
        }
        for (verb, enabled) in [("enable", true), ("disable", false)] {
            ui.post("/keys/:name/\(verb)") { request, context in
                let name = (try? Self.parameter(context)) ?? ""
                let back = "\(keysPath)/\(ConsolePages.path(name))"
                return await action(request, back: back) { _ in
                    _ = try await operations.keys.update(name, settings: ["enabled": .bool(enabled)])
                    return (back, enabled ? "Enabled \(name)." : "Disabled \(name): it is refused from now on.")
                }
            }
        }
        for (verb, deducts) in [("topup", false), ("deduct", true)] {
            ui.post("/keys/:name/\(verb)") { request, context in
                let name = (try? Self.parameter(context)) ?? ""
                let back = "\(keysPath)/\(ConsolePages.path(name))"
                return await action(request, back: back) { form in
                    let amount = try form.amount()
                    _ = try await operations.keys.adjustBalance(name, by: deducts ? .zero - amount : amount)
                    return (back, deducts ? "Deducted $\(amount.dollarsString) from \(name)." : "Added $\(amount.dollarsString) to \(name).")
                }
            }
        }
        ui.post("/keys/:name/reset_usage") { request, context in
            let name = (try? Self.parameter(context)) ?? ""
            let back = "\(keysPath)/\(ConsolePages.path(name))"
            return await action(request, back: back) { form in
                let parts = try KeyAdmin.resetParts(["parts": form.settings(lists: ["parts"], editing: false)["parts"] ?? .null])
                _ = try await operations.keys.resetUsage(name, parts: parts)
                return (back, "Reset the usage of \(name): \(UsagePart.allCases.filter(parts.contains).map(\.rawValue).joined(separator: ", ")).")
            }
        }
        ui.post("/keys/:name/delete") { request, context in
            let name = (try? Self.parameter(context)) ?? ""
            return await action(request, back: "\(keysPath)/\(ConsolePages.path(name))") { _ in
                try await operations.keys.delete(name)
                return (keysPath, "Deleted \(name); its ledger rows stay.")
            }
        }
    }
}
