import Admin
import ArgumentParser
import Engine
import SwitchboardApp
import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

struct Users: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage users: owners of keys, with a balance their keys draw from.",
        discussion:
            #"Settings as JSON: {"group": "pro", "balance_usd": 20, "description": "…"}; a key joins a user with keys update NAME --settings '{"user": "alice"}'."#,
        subcommands: [List.self, Create.self, Update.self, TopUp.self, Deduct.self, Delete.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users with what remains of their budgets.")
        @OptionGroup var options: GlobalOptions
        func run() async throws { try await options.printParties { try await $0.users() } }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a user.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The user's name.") var name: String
        @Option(help: "Settings as JSON.") var settings: String?
        func run() async throws {
            var json = try parseSettings(settings)
            json["name"] = .string(name)
            try await options.printParties { [json] in try await $0.createUser(json) }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a user's group or description (balances: topup/deduct).")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The user's name.") var name: String
        @Option(help: "Settings as JSON.") var settings: String
        func run() async throws {
            let json = try parseSettings(settings)
            try await options.printParties { try await $0.updateUser(name, json) }
        }
    }

    struct TopUp: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "topup", abstract: "Add dollars to a user's balance.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The user's name.") var name: String
        @Argument(help: "Dollars.") var amount: String
        func run() async throws {
            let amount = try dollars(amount)
            try await options.printParties { try await $0.adjustUserBalance(name, by: amount) }
        }
    }

    struct Deduct: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Take dollars from a user's balance (never more than remains).")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The user's name.") var name: String
        @Argument(help: "Dollars.") var amount: String
        func run() async throws {
            let amount = try dollars(amount)
            try await options.printParties { try await $0.adjustUserBalance(name, by: .zero - amount) }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a user (their keys stay, unowned; ledger rows stay).")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The user's name.") var name: String
        func run() async throws {
            try await options.withParties { try await $0.deleteUser(name) }
            print("Deleted user \(name).")
        }
    }
}

struct Groups: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage groups: a price multiplier and an optional subscription for their users.",
        discussion: #"Settings as JSON: {"multiplier": 1.5, "subscription": {"daily_usd": 5, "weekly_usd": 20, "monthly_usd": 50}}."#,
        subcommands: [List.self, Create.self, Update.self, Delete.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List groups.")
        @OptionGroup var options: GlobalOptions
        func run() async throws { try await options.printParties { try await $0.groups() } }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a group.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The group's name.") var name: String
        @Option(help: "Settings as JSON.") var settings: String?
        func run() async throws {
            var json = try parseSettings(settings)
            json["name"] = .string(name)
            try await options.printParties { [json] in try await $0.createGroup(json) }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a group's multiplier or subscription.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The group's name.") var name: String
        @Option(help: "Settings as JSON.") var settings: String
        func run() async throws {
            let json = try parseSettings(settings)
            try await options.printParties { try await $0.updateGroup(name, json) }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a group no user belongs to.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The group's name.") var name: String
        func run() async throws {
            try await options.withParties { try await $0.deleteGroup(name) }
            print("Deleted group \(name).")
        }
    }
}

/// Positive dollars from the command line.
func dollars(_ text: String) throws -> Money {
    guard let money = Money(dollars: text), money > .zero else {
        throw ValidationError("the amount must be positive dollars up to \(Money.max.dollarsString), e.g. 20 or 0.50")
    }
    return money
}

extension GlobalOptions {
    func withParties<T>(_ body: (PartyAdmin) async throws -> T) async throws -> T {
        try await withAdmin({ PartyAdmin(store: $0.store) }, body)
    }

    /// Runs an admin operation on the store, its refusals as the command's.
    func withAdmin<Admin, T>(_ make: (StoreContext) -> Admin, _ body: (Admin) async throws -> T) async throws -> T {
        do {
            return try await withStore { context in try await body(make(context)) }
        } catch let error as AdminError {
            throw ValidationError(error.description)
        }
    }

    /// Runs an operation and prints its answer as JSON.
    func printParties<T: Encodable>(_ body: (PartyAdmin) async throws -> T) async throws {
        let value = try await withParties(body)
        print(String(decoding: try AdminJSON.encode(value, pretty: true), as: UTF8.self))
    }
}
