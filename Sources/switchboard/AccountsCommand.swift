import Admin
import ArgumentParser
import Engine
import Foundation
import Policy
import SwitchboardApp
import SwitchboardCore
import Upstream

struct Accounts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage upstream provider accounts.",
        discussion: "Changes reach a running server within a second; enabling an account clears its cooldown and health mark.",
        subcommands: [Add.self, List.self, Update.self, Enable.self, Disable.self, Test.self, SyncModels.self, Remove.self])

    /// The settings flags shared by add and update.
    struct SettingsOptions: ParsableArguments {
        @Option(help: "openai (any OpenAI-compatible API), anthropic, gemini or azure (Azure OpenAI).") var provider: String?
        @Option(help: "The API root, e.g. https://api.openai.com/v1 (default: the provider's).") var baseUrl: String?
        @Option(help: "Environment variable holding the account's API key.") var apiKeyEnv: String?
        @Option(help: "Comma-separated model names or globs clients may ask for (claude-*, *).") var models: String?
        @Option(help: "Comma-separated client=upstream model renames, e.g. fast=gpt-4o-mini or claude-3-5-*=claude-sonnet-4-5.")
        var modelMap: String?
        @Option(help: "Comma-separated concrete models behind the globs, for /v1/models (empty removes them).") var modelList: String?
        @Option(help: "Comma-separated pools the account belongs to (empty: shared by unbound keys).") var pools: String?
        @Option(help: "The header the credential goes in, for OpenAI-compatible upstreams (empty: the provider's own).") var authHeader: String?
        @Option(help: "Azure: the deployment ({model} stands for the upstream model; the default).") var deployment: String?
        @Option(help: "Azure: the api-version query value (default 2024-10-21).") var apiVersion: String?
        @Option(help: "Comma-separated text that, in an upstream refusal, means the account is banned (empty removes them).")
        var banPatterns: String?
        @Option(help: "http://[USER:PASSWORD@]HOST:PORT or socks5://… its requests go through, direct to bypass upstream_proxy (empty: the default).")
        var proxy: String?
        @Option(help: "Lower goes first.") var priority: Int?
        @Option(help: "Requests per 60 s (0 removes the cap).") var maxRpm: Int?
        @Option(help: "Tokens per 60 s (0 removes the cap).") var maxTpm: Int?
        @Option(help: "Requests in flight at once (0 removes the cap).") var maxConcurrency: Int?
        @Option(help: "Share of traffic among accounts of equal priority (1 to 1000; default 1).") var weight: Int?
        @Option(help: "Headers added upstream, as JSON (e.g. '{\"x-team\": \"a\"}'); {} removes them.") var headers: String?
        @Option(help: "Top-level upstream body fields set, as JSON (e.g. '{\"store\": false}'); {} removes them.") var bodyOverrides: String?
        @Option(help: "Requests that may queue for a slot when the account is full.") var maxWaiting: Int?
        @Option(help: "How long a queued request waits, e.g. 30s.") var waitTimeout: String?
        @Option(help: "Free text for admins.") var notes: String?
        @Option(help: "Answer Claude Code's warmup requests without the upstream (true/false).") var interceptWarmup: Bool?
        @Option(help: "Responses instructions for requests that bring none, except Codex's (empty removes them).")
        var defaultInstructions: String?

        /// Settings read by the admin API's reader, its refusals as the CLI's.
        static func parsed(_ json: [String: JSONValue], name: String) throws -> AccountSettings {
            do { return try AccountSettings(json: json, name: name) } catch { throw ValidationError(error.description) }
        }

        /// The settings these flags give, reading the secret when `requireSecret`.
        func settings(name: String, requireSecret: Bool) throws -> AccountSettings {
            var settings = AccountSettings(name: name)
            if let provider {
                guard let parsed = Provider(rawValue: provider) else {
                    throw ValidationError("--provider must be openai, anthropic, gemini or azure")
                }
                settings.provider = parsed
            }
            settings.baseURL = baseUrl
            if let apiKeyEnv {
                guard let value = ProcessInfo.processInfo.environment[apiKeyEnv], !value.isEmpty else {
                    throw ValidationError("the environment variable \(apiKeyEnv) is not set")
                }
                settings.apiKey = value
            } else if requireSecret {
                settings.apiKey = SecretInput.read(prompt: "API key for \(name): ")
            }
            settings.models = models.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
            if let modelMap {
                var map: [String: String] = [:]
                for pair in modelMap.split(separator: ",") {
                    let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                    guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                        throw ValidationError("--model-map takes client=upstream pairs")
                    }
                    map[parts[0]] = parts[1]
                }
                settings.modelMap = try Self.parsed(["model_map": .object(map.mapValues(JSONValue.string))], name: name).modelMap
            }
            func list(_ text: String) -> JSONValue {
                .array(text.split(separator: ",").map { .string($0.trimmingCharacters(in: .whitespaces)) }.filter { $0 != .string("") })
            }
            var options: [String: JSONValue] = [:]
            options["pools"] = pools.map(list)
            options["model_list"] = modelList.map(list)
            options["auth_header"] = authHeader.map(JSONValue.string)
            options["deployment"] = deployment.map(JSONValue.string)
            options["api_version"] = apiVersion.map(JSONValue.string)
            options["ban_patterns"] = banPatterns.map(list)
            options["proxy"] = proxy.map(JSONValue.string)
            if !options.isEmpty {
                let parsed = try Self.parsed(options, name: name)
                (settings.pools, settings.modelList, settings.banPatterns) = (parsed.pools, parsed.modelList, parsed.banPatterns)
                (settings.authHeader, settings.deployment, settings.apiVersion) = (parsed.authHeader, parsed.deployment, parsed.apiVersion)
                settings.proxy = parsed.proxy
            }
            settings.priority = priority
            if let weight {
                guard AccountEntry.weights.contains(Int64(weight)) else { throw ValidationError("--weight must be from 1 to 1000") }
                settings.weight = weight
            }
            for (flag, text, isHeaders) in [("--headers", headers, true), ("--body-overrides", bodyOverrides, false)] {
                guard let text else { continue }
                guard let object = JSONValue.object(from: Data(text.utf8)) else { throw ValidationError("\(flag) must be a JSON object") }
                do {
                    let parsed = try AccountSettings(json: [(isHeaders ? "headers" : "body_overrides"): .object(object)], name: name)
                    if isHeaders { settings.headers = parsed.headers } else { settings.bodyOverrides = parsed.bodyOverrides }
                } catch { throw ValidationError(error.description) }
            }
            settings.notes = notes
            settings.interceptWarmup = interceptWarmup
            if let defaultInstructions { settings.defaultInstructions = .some(defaultInstructions.isEmpty ? nil : defaultInstructions) }
            func cap(_ value: Int?) -> Int?? {
                guard let value else { return nil }
                return .some(value <= 0 ? nil : value)
            }
            settings.maxRPM = cap(maxRpm)
            settings.maxTPM = cap(maxTpm)
            settings.maxConcurrency = cap(maxConcurrency)
            settings.maxWaiting = maxWaiting
            if let waitTimeout {
                guard let parsed = DurationSyntax.parse(waitTimeout) else { throw ValidationError("--wait-timeout must be a duration such as 30s") }
                settings.waitTimeout = parsed
            }
            return settings
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add an account.",
            discussion:
                "The secret is read from --api-key-env (an environment variable) or, failing that, from standard input, so it does not land in shell history."
        )
        @OptionGroup var options: GlobalOptions
        @Option(help: "A unique name for the account.") var name: String
        @OptionGroup var settings: SettingsOptions

        func run() async throws {
            let wanted = try settings.settings(name: name, requireSecret: true)
            let view = try await options.withAccounts { try await $0.create(wanted) }
            print("Added account \(view.name) (\(view.provider.rawValue), \(view.models.joined(separator: ", "))).")
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change some settings of an account; the rest stay.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The account's name.") var name: String
        @OptionGroup var settings: SettingsOptions

        func run() async throws {
            let wanted = try settings.settings(name: name, requireSecret: false)
            let view = try await options.withAccounts { try await $0.update(wanted) }
            print("Updated account \(view.name).")
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable an account; clears its cooldown and health mark.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The account's name.") var name: String

        func run() async throws { try await options.setEnabled(name, true) }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable an account; requests in flight finish.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The account's name.") var name: String

        func run() async throws { try await options.setEnabled(name, false) }
    }

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send an account one minimal request (a few tokens on its first model) and show the result.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The account's name.") var name: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let result = try await options.withUpstream { transport in
                try await options.withAccounts { try await $0.test(name, transport: transport) }
            }
            if json {
                print(String(decoding: try AdminJSON.encode(result, pretty: true), as: UTF8.self))
            } else {
                print("\(name): \(result.ok ? "ok" : "failed") — \(result.message) in \(result.latencyMs) ms")
            }
            if !result.ok { throw ExitCode(CommandFailure.runtime) }
        }
    }

    struct SyncModels: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sync-models",
            abstract: "Fetch the models the upstream lists into the account's model_list (shown by /v1/models for its globs).")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The account's name.") var name: String

        func run() async throws {
            let view = try await options.withUpstream { transport in
                try await options.withAccounts { try await $0.syncModels(name, transport: transport) }
            }
            print("\(name): \(view.modelList?.count ?? 0) models listed")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List accounts with their state (never their secrets).",
            discussion: "The live state (in flight, window, cooldown, last error) is what the running server last saved, at most a second or two old."
        )
        @OptionGroup var options: GlobalOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let views = try await options.withAccounts { try await $0.list() }
            if json { return print(String(decoding: try AdminJSON.encode(views, pretty: true), as: UTF8.self)) }
            let now = Date()
            let rows = views.map { view -> [String: String] in
                var state = view.enabled ? (view.secret == "ok" ? "enabled" : "unusable") : "disabled"
                if let live = view.live, view.enabled { state = live.state + (live.reason.map { " (\($0))" } ?? "") }
                let caps = [
                    view.maxRpm.map { "rpm \($0)" }, view.maxTpm.map { "tpm \($0)" }, view.maxConcurrency.map { "conc \($0)" },
                ].compactMap { $0 }.joined(separator: " ")
                return [
                    "name": view.name, "provider": view.provider.rawValue, "models": view.models.joined(separator: ","),
                    "priority": String(view.priority), "caps": caps.isEmpty ? "-" : caps, "state": state,
                    "in_flight": view.live.map { String($0.inFlight) } ?? "-",
                    "cooldown": view.live?.cooldownUntil.map { "\(max(0, Int($0.timeIntervalSince(now).rounded(.up))))s" } ?? "-",
                    "last_error": view.live?.lastError ?? "-", "source": view.source,
                ]
            }
            Format.printTable(
                rows, columns: ["name", "provider", "models", "priority", "caps", "state", "in_flight", "cooldown", "last_error", "source"])
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete an account (its ledger rows stay).")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The account's name.") var name: String

        func run() async throws {
            try await options.withAccounts { try await $0.delete(name) }
            print("Removed account \(name).")
        }
    }
}

extension GlobalOptions {
    /// Enables or disables an account and says so.
    func setEnabled(_ name: String, _ enabled: Bool) async throws {
        _ = try await withAccounts { try await $0.setEnabled(name, enabled) }
        print("\(enabled ? "Enabled" : "Disabled") account \(name).")
    }

    /// Runs account operations against the store; admin errors become plain messages.
    func withAccounts<T>(_ body: (AccountAdmin) async throws -> T) async throws -> T {
        let upstreams = try load().upstreamPolicy
        do {
            return try await withStore { context in
                try await body(AccountAdmin(store: context.store, box: context.box, source: "cli", upstreams: upstreams))
            }
        } catch let error as AdminError {
            throw ValidationError(error.description)
        }
    }
}

extension GlobalOptions {
    /// Runs `body` with an upstream client under the config's upstream policy, shut down after.
    func withUpstream<T>(_ body: (HTTP1Transport) async throws -> T) async throws -> T {
        let transport = HTTP1Transport(policy: try load().upstreamPolicy)
        do {
            let result = try await body(transport)
            try await transport.shutdown()
            return result
        } catch {
            try? await transport.shutdown()
            throw error
        }
    }
}
