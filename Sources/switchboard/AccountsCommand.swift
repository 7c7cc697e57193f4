import ArgumentParser
import Foundation
import SwitchboardApp
import SwitchboardCore

struct Accounts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage upstream provider accounts.", subcommands: [Add.self, List.self, Remove.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add an account, or replace the one with the same name.",
            discussion: "The secret is read from --api-key-env (an environment variable) or, failing that, from standard input, so it does not land in shell history.")
        @OptionGroup var options: GlobalOptions
        @Option(help: "A unique name for the account.") var name: String
        @Option(help: "openai (any OpenAI-compatible API), anthropic or gemini.") var provider: String
        @Option(help: "The API root, e.g. https://api.openai.com/v1 (default: the provider's).") var baseUrl: String?
        @Option(help: "Environment variable holding the account's API key.") var apiKeyEnv: String?
        @Option(help: "Comma-separated model names clients may ask for.") var models: String
        @Option(help: "Lower goes first.") var priority: Int = 0
        @Option(help: "Free text for admins.") var notes: String = ""

        func run() async throws {
            guard let provider = Provider(rawValue: provider) else {
                throw ValidationError("--provider must be openai, anthropic or gemini")
            }
            let secret: String
            if let apiKeyEnv {
                guard let value = ProcessInfo.processInfo.environment[apiKeyEnv], !value.isEmpty else {
                    throw ValidationError("the environment variable \(apiKeyEnv) is not set")
                }
                secret = value
            } else {
                secret = SecretInput.read(prompt: "API key for \(name): ")
            }
            let modelList = models.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            let record = try await options.withStore {
                try await Admin(context: $0).addAccount(
                    .init(name: name, provider: provider, baseURL: baseUrl, apiKey: secret, models: modelList,
                          priority: priority, notes: notes))
            }
            print("Saved account \(record.name) (\(record.provider.rawValue), \(record.models.joined(separator: ", "))).")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List accounts (never their secrets).")
        @OptionGroup var options: GlobalOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let accounts = try await options.withStore { try await Admin(context: $0).listAccounts() }
            let rows = accounts.map { record, secretProblem -> [String: String] in
                [
                    "name": record.name, "provider": record.provider.rawValue, "base_url": record.baseURL,
                    "models": record.models.joined(separator: ","), "priority": String(record.priority),
                    "state": !record.enabled ? "disabled" : (secretProblem.map { "unusable: \($0)" } ?? "enabled"),
                    "source": record.source,
                ]
            }
            if json { return Format.printJSON(rows) }
            Format.printTable(rows, columns: ["name", "provider", "base_url", "models", "priority", "state", "source"])
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete an account.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The account's name.") var name: String

        func run() async throws {
            let found = try await options.withStore { try await Admin(context: $0).removeAccount(name: name) }
            guard found else { throw ValidationError("no account named \(name)") }
            print("Removed account \(name).")
        }
    }
}
