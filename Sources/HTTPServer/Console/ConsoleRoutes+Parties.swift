import Admin
import Engine
import Hummingbird
import SwitchboardCore

extension ConsoleRoutes {
    /// Users and groups: lists with balances, create, top up, delete.
    func registerParties(on ui: RouterGroup<GatewayRequestContext>) {
        let usersPath = "\(Self.root)/users"
        ui.get("/users") { request, _ in
            await page(request, "Users and groups", "users") { _ in
                ConsolePages.users(try await operations.parties.users(), groups: try await operations.parties.groups())
            }
        }
        ui.post("/users") { request, _ in
            await action(request, back: usersPath) { form in
                let view = try await operations.parties.createUser(
                    form.settings(
                        texts: ["name", "group"], lists: ["pools", "accounts"], numbers: ["concurrency", "max_waiting"], money: ["balance_usd"],
                        documents: ["model_budgets"], editing: false))
                return (usersPath, "Created user \(view.name).")
            }
        }
        ui.post("/users/:name/topup") { request, context in
            await action(request, back: usersPath) { form in
                let name = try Self.parameter(context)
                let amount = try form.amount()
                _ = try await operations.parties.adjustUserBalance(name, by: amount)
                return (usersPath, "Added $\(amount.dollarsString) to \(name).")
            }
        }
        ui.post("/users/:name/delete") { request, context in
            await action(request, back: usersPath) { _ in
                let name = try Self.parameter(context)
                try await operations.parties.deleteUser(name)
                return (usersPath, "Deleted user \(name).")
            }
        }
        ui.post("/groups") { request, _ in
            await action(request, back: usersPath) { form in
                var settings = form.settings(
                    texts: ["name"], lists: ["pools", "accounts"], money: ["multiplier"], documents: ["price_multiplier"], editing: false)
                let subscription = form.settings(money: ["daily_usd", "weekly_usd", "monthly_usd"], editing: false)
                if !subscription.isEmpty { settings["subscription"] = .object(subscription) }
                let view = try await operations.parties.createGroup(settings)
                return (usersPath, "Created group \(view.name).")
            }
        }
        ui.post("/groups/:name/delete") { request, context in
            await action(request, back: usersPath) { _ in
                let name = try Self.parameter(context)
                try await operations.parties.deleteGroup(name)
                return (usersPath, "Deleted group \(name).")
            }
        }
    }
}
