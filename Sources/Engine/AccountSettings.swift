import Dialects
import Policy
import Storage
import SwitchboardCore
import Upstream

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// An account's settings, whole: what the config file declares and what an
/// admin creates. Its patch is `AccountSettings`, which every source of
/// settings reads (the YAML loader, the admin API, the console, the CLI).
public struct AccountDefinition: Sendable, Equatable {
    public var name: String
    public var provider: Provider
    public var baseURL: String
    /// The upstream secret in plain text; empty when the config file leaves it to the environment.
    public var apiKey: String
    public var models: [String]
    public var modelMap: [String: String] = [:]
    public var priority = 0
    public var enabled = true
    public var notes = ""
    public var limits = AccountLimits()
    /// Answer Claude Code's warmup requests without the upstream.
    public var interceptWarmup = false
    /// Responses `instructions` for requests that bring none (not Codex's).
    public var defaultInstructions: String?
    /// Its share of traffic among accounts of equal priority.
    public var weight = 1
    /// Headers added upstream (lower-cased names), and top-level body fields set (name → JSON text).
    public var headers: [String: String] = [:]
    public var bodyOverrides: [String: String] = [:]
    /// Pools, model list, auth header, Azure deployment, proxy (without its password).
    public var options = AccountOptions()
    /// The proxy's password in plain text, sealed when stored.
    public var proxyPassword: String?

    /// An account; the base URL defaults to the provider's.
    public init(
        name: String, provider: Provider, baseURL: String? = nil, apiKey: String, models: [String],
        modelMap: [String: String] = [:], priority: Int = 0, enabled: Bool = true, notes: String = "",
        limits: AccountLimits = .init()
    ) {
        self.name = name
        self.provider = provider
        self.baseURL = baseURL ?? provider.defaultBaseURL
        self.apiKey = apiKey
        self.models = models
        self.modelMap = modelMap
        self.priority = priority
        self.enabled = enabled
        self.notes = notes
        self.limits = limits
    }

    /// The stored form, with the secret sealed by the caller.
    public func input(secret: SealedSecret, proxySecret: SealedSecret? = nil, source: String) -> AccountInput {
        AccountInput(
            name: name, provider: provider, baseURL: baseURL, secret: secret, models: models, modelMap: modelMap, priority: priority,
            enabled: enabled, notes: notes, source: source, limits: limits, interceptWarmup: interceptWarmup,
            defaultInstructions: defaultInstructions, weight: weight, headers: headers, bodyOverrides: bodyOverrides, options: options,
            proxySecret: proxySecret)
    }
}

/// An admin's change to an account: every field optional, so the same type
/// creates (where the required ones must be present) and updates (where only
/// the given ones change). `null` on a cap removes the cap.
public struct AccountSettings: Sendable, Equatable {
    public var name: String
    public var provider: Provider?
    public var baseURL: String?
    public var apiKey: String?
    public var models: [String]?
    public var modelMap: [String: String]?
    public var priority: Int?
    public var enabled: Bool?
    public var notes: String?
    public var maxRPM: Int??
    public var maxTPM: Int??
    public var maxConcurrency: Int??
    public var maxWaiting: Int?
    public var waitTimeout: Duration?
    public var interceptWarmup: Bool?
    /// Responses instructions for requests without any; `.some(nil)` removes them.
    public var defaultInstructions: String??
    /// Its share of traffic among accounts of equal priority (1 to 1,000).
    public var weight: Int?
    /// Headers added upstream, and top-level body fields set; `.some([:])` (from `null`) removes them.
    public var headers: [String: String]?
    public var bodyOverrides: [String: String]?
    /// Pools it belongs to and the concrete models behind its globs; `.some([])` (from `null`) removes them.
    public var pools: [String]?
    public var modelList: [String]?
    /// Text in an upstream refusal that means the account is banned; `.some([])` removes them.
    public var banPatterns: [String]?
    /// The credential's header name (OpenAI-compatible upstreams), and Azure's
    /// deployment and API version; `.some(nil)` (from `null`) removes one.
    public var authHeader: String??
    public var deployment: String??
    public var apiVersion: String??
    /// `http://HOST:PORT`, `socks5://HOST:PORT` or `direct`, without its password; `.some(nil)` (from `null`)
    /// returns to the gateway's default.
    public var proxy: String??
    /// The password the proxy URL carried (sealed when stored); set with `proxy`.
    public var proxyPassword: String?

    /// Settings naming only the account.
    public init(name: String) { self.name = name }

    /// The fields an admin request may carry; anything else is refused.
    public static let fields = [
        "name", "provider", "base_url", "api_key", "models", "model_map", "model_list", "pools", "priority", "weight", "headers",
        "body_overrides", "auth_header", "deployment", "api_version", "ban_patterns", "proxy", "enabled", "notes", "max_rpm", "max_tpm",
        "max_concurrency",
        "max_waiting", "wait_timeout", "intercept_warmup", "default_instructions",
    ]

    /// Reads settings from a parsed JSON object, refusing unknown fields and wrong types.
    public init(json: [String: JSONValue], name fallbackName: String? = nil) throws(AdminError) {
        if let unknown = json.keys.sorted().first(where: { !Self.fields.contains($0) }) {
            throw AdminError(.invalid, "unknown setting \(unknown); known: \(Self.fields.joined(separator: ", "))")
        }
        func text(_ key: String) throws(AdminError) -> String? { try json[key].flatMap { v throws(AdminError) in try SettingValue.text(v, key) } }
        func whole(_ key: String, minimum: Int64) throws(AdminError) -> Int?? {
            guard let value = json[key] else { return nil }
            return .some(try SettingValue.whole(value, key, minimum: minimum).map(Int.init))
        }
        func flag(_ key: String) throws(AdminError) -> Bool? { try json[key].map { v throws(AdminError) in try SettingValue.flag(v, key) } }
        guard let name = try text("name") ?? fallbackName, !name.isEmpty else { throw AdminError(.invalid, "name is required") }
        if fallbackName == nil, let problem = RecordName.problem(name) { throw AdminError(.invalid, "name: \(problem)") }
        if let fallbackName, name != fallbackName { throw AdminError(.invalid, "an account cannot be renamed") }
        self.name = name
        if let raw = try text("provider") {
            guard let provider = Provider(rawValue: raw) else {
                throw AdminError(
                    .invalid, "provider must be openai, anthropic, gemini or azure (got \(jsonStringLiteral(String(raw.prefix(64)))))")
            }
            self.provider = provider
        }
        baseURL = try text("base_url")
        apiKey = try text("api_key")
        notes = try text("notes")
        if let value = json["models"] {
            guard let list = try SettingValue.list(value, "models"), !list.isEmpty, !list.contains(where: \.isEmpty) else {
                throw AdminError(.invalid, "models must list at least one model")
            }
            models = list
        }
        if let value = json["model_map"] {
            guard case .object(let map) = value else { throw AdminError(.invalid, "model_map must map strings to strings") }
            var strings: [String: String] = [:]
            for (source, item) in map {
                guard case .string(let target) = item, !source.isEmpty, !target.isEmpty else {
                    throw AdminError(.invalid, "model_map must map strings to strings")
                }
                // A target's `*` takes what a source glob's `*` matched: it needs one to take.
                let stars = (source.filter { $0 == "*" }.count, target.filter { $0 == "*" }.count)
                guard stars.1 <= stars.0 else {
                    throw AdminError(.invalid, "model_map.\(source): the target has more * than the source has to carry over")
                }
                strings[source] = target
            }
            modelMap = strings
        }
        pools = try json["pools"].map { v throws(AdminError) in try SettingValue.names(v, "pools") }
        modelList = try json["model_list"].map { v throws(AdminError) in try SettingValue.names(v, "model_list", limit: 10_000) }
        banPatterns = try json["ban_patterns"].map { v throws(AdminError) in try SettingValue.names(v, "ban_patterns", limit: 20) }
        func option(_ key: String, _ check: (String) -> Bool, _ problem: String) throws(AdminError) -> String?? {
            guard let value = json[key] else { return nil }
            guard let text = try SettingValue.text(value, key), !text.isEmpty else { return .some(nil) }
            guard text.utf8.count <= 200, check(text) else { throw AdminError(.invalid, "\(key) \(problem)") }
            return .some(text)
        }
        authHeader = try option(
            "auth_header",
            {
                Self.tokenBytes.isSuperset(of: $0.lowercased().utf8)
                    && !AccountEntry.reservedHeaders.subtracting(AccountEntry.credentialHeaders).contains($0.lowercased())
            },
            "must be a header name (not one HTTP itself manages)")
        deployment = try option(
            "deployment", { !$0.utf8.contains { [UInt8(ascii: "/"), UInt8(ascii: "?"), UInt8(ascii: "#"), 37].contains($0) } },
            "must be a deployment name (no /, ?, # or %)")
        proxy = try option(
            "proxy", { $0 == "direct" || UpstreamProxy.parse($0) != nil },
            "must be http://[USER:PASSWORD@]HOST:PORT, socks5://[USER:PASSWORD@]HOST:PORT or direct")
        if case .some(.some(let text)) = proxy, let parsed = UpstreamProxy.parse(text) {
            proxy = .some(parsed.withoutPassword)
            proxyPassword = parsed.password
        }
        apiVersion = try option("api_version", { $0.utf8.allSatisfy { Self.versionBytes.contains($0) } }, "must be a version such as 2024-10-21")
        if let value = json["default_instructions"] {
            let text = try SettingValue.text(value, "default_instructions")
            defaultInstructions = .some(text?.isEmpty == false ? text : nil)
        }
        interceptWarmup = try flag("intercept_warmup")
        enabled = try flag("enabled")
        priority = try whole("priority", minimum: -1_000_000) ?? nil
        headers = try json["headers"].map { v throws(AdminError) in try Self.headers(v) }
        bodyOverrides = try json["body_overrides"].map { v throws(AdminError) in try Self.bodyOverrides(v) }
        weight = try json["weight"].flatMap { v throws(AdminError) in
            try SettingValue.whole(v, "weight", minimum: AccountEntry.weights.lowerBound, maximum: AccountEntry.weights.upperBound).map(Int.init)
        }
        maxRPM = try whole("max_rpm", minimum: 1)
        maxTPM = try whole("max_tpm", minimum: 1)
        maxConcurrency = try whole("max_concurrency", minimum: 1)
        maxWaiting = try whole("max_waiting", minimum: 0) ?? nil
        waitTimeout = try json["wait_timeout"].map { v throws(AdminError) in try SettingValue.duration(v, "wait_timeout") }
    }

    /// A new account from these settings: `provider` and `models` are
    /// required, and `api_key` when `requireSecret` (a config file may leave it
    /// to the environment); everything else takes its default.
    public func definition(requireSecret: Bool) throws(AdminError) -> AccountDefinition {
        guard let provider else { throw AdminError(.invalid, "provider is required") }
        guard let models, !models.isEmpty else { throw AdminError(.invalid, "models must list at least one model") }
        if requireSecret, apiKey?.isEmpty ?? true { throw AdminError(.invalid, "api_key is required") }
        if provider == .azure, baseURL?.isEmpty ?? true {
            throw AdminError(.invalid, "base_url is required for azure (the resource's endpoint, https://NAME.openai.azure.com)")
        }
        var account = AccountDefinition(
            name: name, provider: provider, baseURL: baseURL, apiKey: apiKey ?? "", models: models, modelMap: modelMap ?? [:],
            priority: priority ?? 0, enabled: enabled ?? true, notes: notes ?? "", limits: apply(to: AccountLimits()))
        account.interceptWarmup = interceptWarmup ?? false
        account.weight = weight ?? 1
        account.headers = headers ?? [:]
        account.bodyOverrides = bodyOverrides ?? [:]
        account.defaultInstructions = defaultInstructions ?? nil
        account.options = apply(to: AccountOptions())
        account.proxyPassword = proxyPassword
        if provider != .azure, account.options.deployment != nil || account.options.apiVersion != nil {
            throw AdminError(.invalid, "deployment and api_version are for provider azure")
        }
        return account
    }

    /// Applies these settings to an account's options.
    public func apply(to options: AccountOptions) -> AccountOptions {
        var options = options
        if let pools { options.pools = pools.isEmpty ? nil : pools }
        if let modelList { options.modelList = modelList.isEmpty ? nil : modelList }
        if let banPatterns { options.banPatterns = banPatterns.isEmpty ? nil : banPatterns }
        if let authHeader { options.authHeader = authHeader?.lowercased() }
        if let deployment { options.deployment = deployment }
        if let apiVersion { options.apiVersion = apiVersion }
        if let proxy { options.proxy = proxy }
        return options
    }

    /// Applies these settings to limits.
    public func apply(to limits: AccountLimits) -> AccountLimits {
        var limits = limits
        if let maxRPM { limits.maxRPM = maxRPM }
        if let maxTPM { limits.maxTPM = maxTPM }
        if let maxConcurrency { limits.maxConcurrency = maxConcurrency }
        if let maxWaiting { limits.maxWaiting = maxWaiting }
        if let waitTimeout { limits.waitTimeout = waitTimeout }
        return limits
    }
}

/// An admin operation's failure, with a fixed code.
extension AccountSettings {
    /// `headers`: names to values, added to or replacing the upstream request's;
    /// never the credential or hop-by-hop headers; `null` removes them all.
    static func headers(_ value: JSONValue) throws(AdminError) -> [String: String] {
        if value == .null { return [:] }
        guard case .object(let fields) = value else { throw AdminError(.invalid, "headers must map header names to text, or be null") }
        var headers: [String: String] = [:]
        for (name, raw) in fields {
            let lower = name.lowercased()
            guard !lower.isEmpty, lower.utf8.count <= 100, lower.utf8.allSatisfy({ Self.tokenBytes.contains($0) }) else {
                throw AdminError(.invalid, "headers: \(jsonStringLiteral(String(name.prefix(100)))) is not a header name")
            }
            guard !AccountEntry.reservedHeaders.contains(lower), !lower.hasPrefix("proxy-") else {
                throw AdminError(.invalid, "headers: \(lower) cannot be set (the credential and hop-by-hop headers are the gateway's)")
            }
            guard case .string(let text) = raw, text.utf8.count <= 4096, !text.utf8.contains(where: { $0 == 13 || $0 == 10 || $0 == 0 }) else {
                throw AdminError(.invalid, "headers.\(lower) must be text of at most 4096 bytes on one line")
            }
            headers[lower] = text
        }
        return headers
    }

    /// `body_overrides`: top-level fields of the upstream body set to fixed
    /// JSON values (not `model`, `stream` or `stream_options`); `null` removes them all.
    static func bodyOverrides(_ value: JSONValue) throws(AdminError) -> [String: String] {
        if value == .null { return [:] }
        guard case .object(let fields) = value else {
            throw AdminError(.invalid, "body_overrides must map top-level fields to JSON values, or be null")
        }
        var overrides: [String: String] = [:]
        for (name, field) in fields {
            guard !name.isEmpty, name.utf8.count <= 100 else { throw AdminError(.invalid, "body_overrides: a field name must be 1 to 100 bytes") }
            guard !BodyOverrides.reserved.contains(name) else {
                throw AdminError(.invalid, "body_overrides: \(name) cannot be set (the gateway reads it to route, stream and bill)")
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            guard let data = try? encoder.encode(field), data.count <= 16_384 else {
                throw AdminError(.invalid, "body_overrides.\(name) must be a JSON value of at most 16 KiB")
            }
            overrides[name] = String(decoding: data, as: UTF8.self)
        }
        return overrides
    }

    /// The bytes of an API version (`2024-10-21`, `2025-04-01-preview`).
    static let versionBytes = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._".utf8)

    /// The bytes of an HTTP token (a header name).
    static let tokenBytes = Set("abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~".utf8)
}

public struct AdminError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case invalid = "invalid_request"
        case notFound = "not_found"
        case conflict = "conflict"
        case unauthorized = "unauthorized"
        case throttled = "too_many_attempts"
        case unavailable = "unavailable"

        /// The HTTP status of the code.
        public var status: Int {
            switch self {
            case .invalid: return 400
            case .unauthorized: return 401
            case .notFound: return 404
            case .conflict: return 409
            case .throttled: return 429
            case .unavailable: return 503
            }
        }
    }

    public var code: Code
    public var description: String

    public init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }
}
