import Admin
import ArgumentParser
import Engine
import Foundation
import SwitchboardApp
import SwitchboardCore

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the keys clients use.",
        discussion: """
            Settings use the config file's names as JSON, e.g. --settings '{"balance_usd": 20, "concurrency": 4, \
            "models": ["claude-*"], "rate_limit": {"window_minutes": 1, "requests": 60}}'; null removes a limit.
            """,
        subcommands: [
            Create.self, List.self, Update.self, Enable.self, Disable.self, TopUp.self, Deduct.self, ResetUsage.self, KeyStats.self,
            Revoke.self, Delete.self,
        ])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a key and print it once.")
        @OptionGroup var options: GlobalOptions
        @Option(help: "A unique name for the key.") var name: String
        @Option(help: "Days until the key expires.") var expiresInDays: Int?
        @Option(help: "Settings as JSON (the config file's names).") var settings: String?

        func run() async throws {
            var json = try parseSettings(settings)
            if let expiresInDays {
                json["expires_at"] = .string(Date().addingTimeInterval(Double(expiresInDays) * 86400).formatted(.iso8601))
            }
            let (view, plaintext) = try await options.withKeys { try await $0.create(name: name, settings: json, source: "cli") }
            print(plaintext)
            FileHandle.standardError.write(Data("Created key \(view.name). This is the only time it is shown; store it now.\n".utf8))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys with their usage (never the keys themselves).")
        @OptionGroup var options: GlobalOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let keys = try await options.withKeys { try await $0.list() }
            if json { return print(String(decoding: try AdminJSON.encode(keys, pretty: true), as: UTF8.self)) }
            let rows = keys.map { key -> [String: String] in
                [
                    "name": key.name, "key": key.key, "state": key.state, "created": Format.time(key.createdAt),
                    "last_used": key.lastUsedAt.map(Format.time) ?? "never", "expires": key.expiresAt.map(Format.time) ?? "never",
                    "today_usd": key.usage.todayCostUsd, "total_usd": key.usage.totalCostUsd,
                    "balance_left_usd": key.usage.balanceRemainingUsd ?? "-", "source": key.source,
                ]
            }
            Format.printTable(
                rows, columns: ["name", "key", "state", "created", "last_used", "expires", "today_usd", "total_usd", "balance_left_usd", "source"])
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change some settings of a key; the rest stay.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The key's name.") var name: String
        @Option(help: "Settings as JSON (the config file's names).") var settings: String

        func run() async throws {
            let json = try parseSettings(settings)
            _ = try await options.withKeys { try await $0.update(name, settings: json) }
            print("Updated key \(name).")
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a key.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The key's name.") var name: String

        func run() async throws { try await options.setKeyEnabled(name, true) }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable a key; it stops working within a second.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The key's name.") var name: String

        func run() async throws { try await options.setKeyEnabled(name, false) }
    }

    struct TopUp: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "topup", abstract: "Add dollars to a key's balance.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The key's name.") var name: String
        @Argument(help: "Dollars, e.g. 20 or 0.50.") var amount: String

        func run() async throws { try await options.adjustBalance(name, amount, deducts: false) }
    }

    struct Deduct: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Take dollars from a key's balance (never more than remains).")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The key's name.") var name: String
        @Argument(help: "Dollars, e.g. 20 or 0.50.") var amount: String

        func run() async throws { try await options.adjustBalance(name, amount, deducts: true) }
    }

    struct ResetUsage: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reset-usage",
            abstract: "Start a key's rate window, today's cost and lifetime tokens again (or the parts named); recorded in the audit log.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The key's name.") var name: String
        @Option(help: "Comma-separated parts: window, daily, tokens (default: all).") var parts: String?

        func run() async throws {
            var body: [String: JSONValue] = [:]
            if let parts { body["parts"] = .array(parts.split(separator: ",").map { .string($0.trimmingCharacters(in: .whitespaces)) }) }
            let chosen = try KeyAdmin.resetParts(body)
            let view = try await options.withKeys { try await $0.resetUsage(name, parts: chosen) }
            print(String(decoding: try AdminJSON.encode(view, pretty: true), as: UTF8.self))
        }
    }

    struct KeyStats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "stats", abstract: "A key's series (as `switchboard stats key NAME`).")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The key's name.") var name: String
        @Option(help: "How many days back.") var days: Int = 30

        func run() async throws {
            let view = try await options.withStats { try await $0.key(name, try StatsRequest.parse(["days": String(days)])) }
            print(String(decoding: try AdminJSON.encode(view, pretty: true), as: UTF8.self))
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key for good; it stops working within a second.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The key's name.") var name: String

        func run() async throws {
            let found = try await options.withStore { try await Admin(context: $0).revokeKey(name: name) }
            guard found else { throw ValidationError("no key named \(name)") }
            print("Revoked key \(name).")
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a key; its ledger rows stay, under its name.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The key's name.") var name: String

        func run() async throws {
            try await options.withKeys { try await $0.delete(name) }
            print("Deleted key \(name).")
        }
    }
}

/// Settings JSON from the command line.
func parseSettings(_ text: String?) throws -> [String: JSONValue] {
    guard let text else { return [:] }
    guard let object = JSONValue.object(from: Data(text.utf8)) else { throw ValidationError("--settings must be a JSON object") }
    return object
}

extension GlobalOptions {
    /// Runs key operations against the store; admin errors become plain messages.
    func withKeys<T>(_ body: (KeyAdmin) async throws -> T) async throws -> T {
        do {
            return try await withStore { context in try await body(Admin(context: context).keys) }
        } catch let error as AdminError {
            throw ValidationError(error.description)
        }
    }

    func setKeyEnabled(_ name: String, _ enabled: Bool) async throws {
        _ = try await withKeys { try await $0.update(name, settings: ["enabled": .bool(enabled)]) }
        print("\(enabled ? "Enabled" : "Disabled") key \(name).")
    }

    func adjustBalance(_ name: String, _ amount: String, deducts: Bool) async throws {
        let amount = try dollars(amount)
        let view = try await withKeys { try await $0.adjustBalance(name, by: deducts ? .zero - amount : amount) }
        print("Balance of \(name): \(view.balanceUsd ?? "0") (remaining \(view.usage.balanceRemainingUsd ?? "0")).")
    }
}
