import Admin
import Engine
import Foundation
import Hummingbird
import Storage
import SwitchboardCore

extension ConsoleRoutes {
    /// The account form's fields, by kind (the admin API's names).
    static func accountSettings(_ form: ConsoleForm, editing: Bool) -> [String: JSONValue] {
        var json = form.settings(
            texts: ["name", "provider", "base_url", "notes", "auth_header", "deployment", "api_version", "proxy"],
            lists: ["models", "pools", "model_list", "ban_patterns"],
            numbers: ["priority", "weight", "max_rpm", "max_tpm", "max_concurrency"], documents: ["headers", "body_overrides"], editing: editing)
        // An empty secret field keeps the current secret; it never means "remove".
        if let key = form.text("api_key") { json["api_key"] = .string(key) }
        if editing {
            json["name"] = nil
            if json["base_url"] == .null { json["base_url"] = nil }
            if json["priority"] == .null { json["priority"] = .number(0) }
            if json["notes"] == .null { json["notes"] = .string("") }
        }
        return json
    }

    /// The alias form: `model` or `model:weight` targets, comma-separated.
    static func aliasSettings(_ form: ConsoleForm) throws -> [String: JSONValue] {
        let targets = (form.text("targets") ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        var json: [String: JSONValue] = [
            "targets": .array(
                targets.map { target in
                    guard let colon = target.lastIndex(of: ":"), let weight = Double(target[target.index(after: colon)...]) else {
                        return .string(target)
                    }
                    return .object(["model": .string(String(target[..<colon])), "weight": .number(weight)])
                })
        ]
        if let failovers = form.text("max_failovers") { json["max_failovers"] = Double(failovers).map(JSONValue.number) ?? .string(failovers) }
        return json
    }

    /// Accounts: list with live state, add, an account's page, edit, enable,
    /// disable, test, rotate the secret, delete.
    func registerAccounts(on ui: RouterGroup<GatewayRequestContext>) {
        let accountsPath = "\(Self.root)/accounts"
        ui.get("/accounts") { request, _ in
            await page(request, "Accounts", "accounts") { _ in
                [
                    "accounts": try await operations.accounts.list().map(ConsolePages.accountRow),
                    "aliases": try await operations.routing.aliases().map(ConsolePages.aliasRow),
                    "quarantines": try await operations.quarantines.list().map(ConsolePages.quarantineRow),
                    "providers": try await operations.routing.providers().map(ConsolePages.providerRow),
                ]
            }
        }
        ui.post("/providers") { request, _ in
            await action(request, back: accountsPath) { form in
                let name = form.text("provider") ?? ""
                let failovers = form.text("max_failovers")
                let value = failovers.map { Double($0).map(JSONValue.number) ?? .string($0) } ?? .null
                let view = try await operations.routing.setProvider(name, ["max_failovers": value])
                return (accountsPath, "Saved the settings of provider \(view.provider).")
            }
        }
        ui.post("/models") { request, _ in
            await action(request, back: accountsPath) { form in
                let name = form.text("name") ?? ""
                let view = try await operations.routing.setAlias(name, try Self.aliasSettings(form))
                return (accountsPath, "Saved alias \(view.name).")
            }
        }
        ui.post("/quarantines/:name/release") { request, context in
            await action(request, back: accountsPath) { _ in
                guard let id = Int64(try Self.parameter(context)) else { throw AdminError(.notFound, "no such quarantine") }
                let released = try await operations.quarantines.release(id)
                return (accountsPath, "Released the quarantine of key \(released.key).")
            }
        }
        ui.post("/models/:name/delete") { request, context in
            await action(request, back: accountsPath) { _ in
                let name = try Self.parameter(context)
                try await operations.routing.deleteAlias(name)
                return (accountsPath, "Deleted alias \(name).")
            }
        }
        ui.post("/accounts") { request, _ in
            await action(request, back: accountsPath) { form in
                let view = try await operations.accounts.create(try AccountSettings(json: Self.accountSettings(form, editing: false)))
                return ("\(accountsPath)/\(ConsolePages.path(view.name))", "Added \(view.name).")
            }
        }
        ui.get("/accounts/:name") { request, context in
            await page(request, "Account", "account") { _ in
                let name = try Self.parameter(context)
                var values = ConsolePages.account(try await operations.accounts.get(name))
                values["title"] = values["name"]
                let hours = try await operations.stats.account(name, try StatsRequest.parse(["interval": "hour"]))
                values.merge(ConsolePages.accountStats(hours)) { _, new in new }
                var query = LedgerQuery()
                query.accountName = name
                query.limit = 20
                values["sessions"] = try await operations.requests.sessions(query).sessions.map(ConsolePages.sessionRow)
                return values
            }
        }
        ui.post("/accounts/:name") { request, context in
            let name = (try? Self.parameter(context)) ?? ""
            let back = "\(accountsPath)/\(ConsolePages.path(name))"
            return await action(request, back: back) { form in
                _ = try await operations.accounts.update(try AccountSettings(json: Self.accountSettings(form, editing: true), name: name))
                return (back, "Saved the settings of \(name).")
            }
        }
        ui.post("/accounts/:name/rotate") { request, context in
            let name = (try? Self.parameter(context)) ?? ""
            let back = "\(accountsPath)/\(ConsolePages.path(name))"
            return await action(request, back: back) { form in
                guard let key = form.text("api_key") else { throw AdminError(.invalid, "the new API key is required") }
                _ = try await operations.accounts.update(try AccountSettings(json: ["api_key": .string(key)], name: name))
                return (back, "Rotated the secret of \(name).")
            }
        }
        for (verb, enabled) in [("enable", true), ("disable", false)] {
            ui.post("/accounts/:name/\(verb)") { request, context in
                let name = (try? Self.parameter(context)) ?? ""
                let back = "\(accountsPath)/\(ConsolePages.path(name))"
                return await action(request, back: back) { _ in
                    _ = try await operations.accounts.setEnabled(name, enabled)
                    return (back, enabled ? "Enabled \(name)." : "Disabled \(name).")
                }
            }
        }
        ui.post("/accounts/:name/test") { request, context in
            let name = (try? Self.parameter(context)) ?? ""
            let back = "\(accountsPath)/\(ConsolePages.path(name))"
            return await action(request, back: back) { _ in
                let result = try await operations.accounts.test(name, transport: operations.gateway.transport)
                guard result.ok else { throw AdminError(.unavailable, "Test of \(name) failed: \(result.message)") }
                return (back, "Test of \(name) passed: \(result.message)")
            }
        }
        ui.post("/accounts/:name/delete") { request, context in
            let name = (try? Self.parameter(context)) ?? ""
            return await action(request, back: "\(accountsPath)/\(ConsolePages.path(name))") { _ in
                try await operations.accounts.delete(name)
                return (accountsPath, "Deleted \(name); its ledger rows stay.")
            }
        }
    }
}
