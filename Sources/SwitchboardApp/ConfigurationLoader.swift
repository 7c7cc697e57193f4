import Engine
import Foundation
import HTTPServer
import Policy
import SwitchboardCore
import Upstream
import Yams

extension Configuration {
    /// Settings a file may hold at the top level, with their environment names.
    static let topLevelKeys: [String] = [
        "listen", "database", "data_dir", "prices_file", "max_body_size", "max_failovers", "connect_timeout",
        "first_byte_timeout", "stream_idle_timeout", "shutdown_timeout", "log_level", "log_format", "rate_limit_cooldown",
        "rate_limit_cooldown_max", "overload_cooldown", "transient_failures", "transient_window", "transient_cooldown",
        "session_ttl", "health_probe_interval", "admin_token", "admin_login_attempts", "metrics_token", "metrics_listen", "metrics_key_labels",
        "otlp_endpoint", "propagate_trace", "refuse_unpriced", "key_wait_timeout", "keepalive_interval",
        "on_client_disconnect", "drain_timeout", "drain_max_size", "client_header_timeout", "client_body_timeout", "client_send_timeout",
        "keepalive_timeout",
        "max_connections", "max_header_fields", "max_head_size", "allow_private_upstreams", "upstream_allow_hosts", "trusted_proxies",
        "ledger_stall_timeout",
        "prices", "accounts", "keys", "users", "groups",
    ]

    /// Top-level settings that hold lists or maps (no environment override).
    static let structuredKeys: Set<String> = ["accounts", "keys", "prices", "users", "groups", "upstream_allow_hosts", "trusted_proxies"]

    /// The environment variable that overrides a top-level setting.
    public static func environmentName(_ key: String) -> String { "SWITCHBOARD_" + key.uppercased() }

    /// A yes/no setting.
    static func flag(_ value: String, source: String) throws -> Bool {
        guard let flag = ["true": true, "false": false, "yes": true, "no": false][value.lowercased()] else {
            throw ConfigurationError("\(source) must be true or false")
        }
        return flag
    }

    /// A bearer token setting: empty is none; otherwise long enough not to be guessed.
    static func token(_ value: String, source: String) throws -> String? {
        guard value.isEmpty || value.count >= 16 else {
            throw ConfigurationError("\(source) must be at least 16 characters (e.g. from `openssl rand -hex 32`)")
        }
        return value.isEmpty ? nil : value
    }

    /// Loads the file (when given), then applies the environment.
    public static func load(file: String?, environment: [String: String]) throws -> Configuration {
        var config = Configuration()
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ConfigurationError("cannot read the configuration file \(file)")
            }
            let text = String(decoding: data, as: UTF8.self)
            let parsed: Any?
            do { parsed = try Yams.load(yaml: text) } catch {
                throw ConfigurationError("\(file) is not valid YAML: \(Self.describe(yamlError: error))")
            }
            if let parsed {
                guard let root = parsed as? [String: Any] else { throw ConfigurationError("\(file) must hold a mapping of settings") }
                try config.apply(file: root, environment: environment)
            }
        }
        try config.apply(environment: environment)
        return config
    }

    /// Where and what the YAML problem is, without the line's text: the line may
    /// hold a secret.
    static func describe(yamlError error: any Error) -> String {
        guard let error = error as? YamlError else { return "unreadable" }
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return "\(problem) at line \(mark.line), column \(mark.column)"
        case .duplicatedKeysInMapping(let duplicates, let context):
            return "duplicate keys \(duplicates.joined(separator: ", ")) at line \(context.mark.line)"
        default:
            return "unreadable"
        }
    }

    mutating func apply(file root: [String: Any], environment: [String: String]) throws {
        let reader = ValueReader(environment: environment)
        try reader.rejectUnknown(root, allowed: Self.topLevelKeys, at: "the configuration")
        for (key, value) in root where !Self.structuredKeys.contains(key) {
            try set(key, reader.scalarText(value, at: key))
        }
        if let hosts = root["upstream_allow_hosts"] {
            upstreamPolicy.allowHosts = try reader.textList(hosts, at: "upstream_allow_hosts")
        }
        if let proxies = root["trusted_proxies"] {
            trustedProxies = try Self.ranges(try reader.textList(proxies, at: "trusted_proxies"), source: "trusted_proxies")
        }
        if let prices = root["prices"] {
            let map = try reader.mapping(prices, at: "prices")
            guard JSONSerialization.isValidJSONObject(map), let data = try? JSONSerialization.data(withJSONObject: map),
                let table = try? PriceTable(json: data), table.entries.count == map.count
            else {
                throw ConfigurationError("prices must map model names to LiteLLM price fields, e.g. input_cost_per_token: 3e-06")
            }
            priceOverrides = data
        }
        if let list = root["accounts"] {
            accounts = try reader.list(list, at: "accounts").enumerated().map { index, item in
                try AccountDeclaration(item, reader: reader, at: "accounts[\(index)]")
            }
        }
        if let list = root["groups"] {
            groups = try reader.list(list, at: "groups").enumerated().map { index, item in
                let path = "groups[\(index)]"
                let map = try reader.mapping(item, at: path)
                try reader.rejectUnknown(map, allowed: ["name", "multiplier", "subscription"], at: path)
                var group = GroupEntry(id: 0, name: try reader.name(map, at: path))
                if let value = map["multiplier"] {
                    guard let amount = Money(dollars: try reader.scalarText(value, at: "\(path).multiplier")),
                        amount.picos % 1_000_000 == 0, case let ppm = amount.picos / 1_000_000, (1...GroupEntry.maxMultiplierPPM).contains(ppm)
                    else {
                        throw ConfigurationError(
                            "\(path).multiplier must be a number from 0.000001 to 1000 with at most six decimals, such as 0.8 or 1.5")
                    }
                    group.multiplierPPM = ppm
                }
                if let value = map["subscription"] {
                    let sub = try reader.mapping(value, at: "\(path).subscription")
                    let subPath = "\(path).subscription"
                    try reader.rejectUnknown(sub, allowed: ["daily_usd", "weekly_usd", "monthly_usd"], at: subPath)
                    group.daily = try reader.dollars(sub, "daily_usd", at: subPath)
                    group.weekly = try reader.dollars(sub, "weekly_usd", at: subPath)
                    group.monthly = try reader.dollars(sub, "monthly_usd", at: subPath)
                }
                return group
            }
        }
        if let list = root["users"] {
            users = try reader.list(list, at: "users").enumerated().map { index, item in
                let path = "users[\(index)]"
                let map = try reader.mapping(item, at: path)
                try reader.rejectUnknown(map, allowed: ["name", "group", "balance_usd", "description"], at: path)
                return UserEntry(
                    id: 0, name: try reader.name(map, at: path),
                    group: try map["group"].map { try reader.scalarText($0, at: "\(path).group") },
                    balance: try reader.dollars(map, "balance_usd", at: path),
                    description: try map["description"].map { try reader.scalarText($0, at: "\(path).description") })
            }
        }
        if let list = root["keys"] {
            keys = try reader.list(list, at: "keys").enumerated().map { index, item in
                try KeyDeclaration(item, reader: reader, at: "keys[\(index)]")
            }
        }
        try applySecretOverrides(environment: environment)
    }

    mutating func apply(environment: [String: String]) throws {
        for key in Self.topLevelKeys where !Self.structuredKeys.contains(key) {
            if let value = environment[Self.environmentName(key)] { try set(key, value) }
        }
        if let master = environment["SWITCHBOARD_MASTER_KEY"], !master.isEmpty { masterKey = master }
        if let hosts = environment[Self.environmentName("upstream_allow_hosts")] {
            upstreamPolicy.allowHosts = Self.commaList(hosts)
        }
        if let proxies = environment[Self.environmentName("trusted_proxies")] {
            trustedProxies = try Self.ranges(Self.commaList(proxies), source: "trusted_proxies (\(Self.environmentName("trusted_proxies")))")
        }
    }

    /// `a, b,c` → `["a", "b", "c"]`.
    static func commaList(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// Addresses and CIDR ranges (`10.0.0.0/8`, `127.0.0.1`, `fd00::/8`).
    static func ranges(_ entries: [String], source: String) throws -> [CIDR] {
        try entries.map { entry in
            guard let range = CIDR(entry) else {
                throw ConfigurationError(
                    "\(source) must list IP addresses or CIDR ranges such as 10.0.0.0/8; \(jsonStringLiteral(String(entry.prefix(64)))) is neither")
            }
            return range
        }
    }

    /// `SWITCHBOARD_ACCOUNT_<NAME>_API_KEY` and `SWITCHBOARD_KEY_<NAME>` replace the
    /// secrets of declared accounts and keys, so files need not hold them.
    mutating func applySecretOverrides(environment: [String: String]) throws {
        for index in accounts.indices {
            if let secret = environment["SWITCHBOARD_ACCOUNT_\(Self.envSafe(accounts[index].name))_API_KEY"] {
                accounts[index].apiKey = secret
            }
        }
        for index in keys.indices {
            if let secret = environment["SWITCHBOARD_KEY_\(Self.envSafe(keys[index].name))"] { keys[index].key = secret }
        }
    }

    /// `openai-1` → `OPENAI_1`.
    public static func envSafe(_ name: String) -> String {
        String(name.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }

    mutating func set(_ key: String, _ value: String) throws {
        let source = "\(key) (\(Self.environmentName(key)))"
        switch key {
        case "listen": listen = value
        case "database": database = value
        case "data_dir": dataDirectory = value
        case "prices_file": pricesFile = value.isEmpty ? nil : value
        case "max_body_size":
            guard let bytes = ByteSize.parse(value), bytes > 0 else { throw ConfigurationError("\(source) must be a size such as 33554432 or 32MiB") }
            maxBodyBytes = bytes
        case "max_failovers":
            guard let count = Int(value), count >= 0 else { throw ConfigurationError("\(source) must be a whole number ≥ 0") }
            maxFailovers = count
        case "connect_timeout": connectTimeout = try DurationText.parse(value, source: source)
        case "first_byte_timeout": firstByteTimeout = try DurationText.parse(value, source: source)
        case "stream_idle_timeout": streamIdleTimeout = try DurationText.parse(value, source: source)
        case "shutdown_timeout": shutdownTimeout = try DurationText.parse(value, source: source)
        case "rate_limit_cooldown": pool.rateLimitCooldown = try DurationText.parse(value, source: source)
        case "rate_limit_cooldown_max": pool.rateLimitCooldownMax = try DurationText.parse(value, source: source)
        case "overload_cooldown":
            pool.overloadCooldown = try DurationText.parse(value, source: source)
            guard pool.overloadCooldown <= PoolSettings.overloadCooldownCap else {
                throw ConfigurationError("\(source) must be at most 10s: overload is brief, longer waits belong to the 429 ladder")
            }
        case "transient_failures":
            guard let count = Int(value), count >= 1 else { throw ConfigurationError("\(source) must be a whole number ≥ 1") }
            pool.transientFailures = count
        case "transient_window": pool.transientWindow = try DurationText.parse(value, source: source)
        case "transient_cooldown": pool.transientCooldown = try DurationText.parse(value, source: source)
        case "session_ttl": pool.sessionTTL = try DurationText.parse(value, source: source)
        case "key_wait_timeout": keyWaitTimeout = try DurationText.parse(value, source: source)
        case "keepalive_interval":
            keepaliveInterval = try DurationText.parse(value, source: source)
            guard keepaliveInterval >= .milliseconds(100) else { throw ConfigurationError("\(source) must be at least 100ms") }
        case "refuse_unpriced":
            refuseUnpriced = try Self.flag(value, source: source)
        case "health_probe_interval": healthProbeInterval = try DurationText.parse(value, source: source)
        case "on_client_disconnect":
            guard let policy = DisconnectPolicy(rawValue: value) else { throw ConfigurationError("\(source) must be drain or estimate") }
            onClientDisconnect = policy
        case "drain_timeout": drainTimeout = try DurationText.parse(value, source: source)
        case "drain_max_size":
            guard let bytes = ByteSize.parse(value), bytes > 0 else { throw ConfigurationError("\(source) must be a size such as 4MiB") }
            drainMaxBytes = bytes
        case "client_header_timeout": limits.headerTimeout = try DurationText.parse(value, source: source)
        case "client_body_timeout": limits.bodyTimeout = try DurationText.parse(value, source: source)
        case "client_send_timeout": limits.sendTimeout = try DurationText.parse(value, source: source)
        case "keepalive_timeout": limits.keepaliveTimeout = try DurationText.parse(value, source: source)
        case "max_connections":
            guard let count = Int(value), count >= 1, count <= 1_000_000 else {
                throw ConfigurationError("\(source) must be a whole number from 1 to 1000000")
            }
            limits.maxConnections = count
        case "max_header_fields":
            guard let count = Int(value), count >= 8, count <= 10_000 else {
                throw ConfigurationError("\(source) must be a whole number from 8 to 10000")
            }
            limits.maxHeaderFields = count
        case "max_head_size":
            guard let bytes = ByteSize.parse(value), bytes >= 1024, bytes <= 1 << 20 else {
                throw ConfigurationError("\(source) must be a size from 1KiB to 1MiB")
            }
            limits.maxHeadBytes = bytes
        case "allow_private_upstreams":
            upstreamPolicy.allowPrivate = try Self.flag(value, source: source)
        case "ledger_stall_timeout": ledgerStallTimeout = try DurationText.parse(value, source: source)
        case "admin_token":
            adminToken = try Self.token(value, source: source)
        case "admin_login_attempts":
            guard let count = Int(value), count >= 1, count <= 1_000_000 else {
                throw ConfigurationError("\(source) must be a whole number from 1 to 1000000")
            }
            adminLoginAttempts = count
        case "metrics_listen":
            metricsListen = value.isEmpty ? nil : value
            _ = try metricsAddress()
        case "metrics_key_labels":
            metricsKeyLabels = try Self.flag(value, source: source)
        case "metrics_token":
            metricsToken = try Self.token(value, source: source)
        case "otlp_endpoint":
            otlpEndpoint = value.isEmpty ? nil : value
            _ = try otlpTracesURL()
        case "propagate_trace":
            propagateTrace = try Self.flag(value, source: source)
        case "log_level":
            let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
            guard levels.contains(value) else { throw ConfigurationError("\(source) must be one of \(levels.joined(separator: ", "))") }
            logLevel = value
        case "log_format":
            guard let format = LogFormat(rawValue: value) else { throw ConfigurationError("\(source) must be text or json") }
            logFormat = format
        default: throw ConfigurationError("unknown setting \(key)")
        }
    }
}

extension Configuration.AccountDeclaration {
    static let allowedKeys = [
        "name", "provider", "base_url", "api_key", "models", "model_map", "priority", "enabled", "notes", "max_rpm",
        "max_tpm", "max_concurrency", "max_waiting", "wait_timeout", "intercept_warmup",
        "default_instructions",
    ]

    /// The API root used when an account names none.
    public static func defaultBaseURL(_ provider: Provider) -> String { provider.defaultBaseURL }

    init(_ value: Any, reader: ValueReader, at path: String) throws {
        let map = try reader.mapping(value, at: path)
        try reader.rejectUnknown(map, allowed: Self.allowedKeys, at: path)
        name = try reader.name(map, at: path)
        let providerText = try reader.requiredText(map, "provider", at: path)
        guard let provider = Provider(rawValue: providerText) else {
            throw ConfigurationError("\(path).provider must be openai, anthropic or gemini (got \(providerText))")
        }
        self.provider = provider
        baseURL = try map["base_url"].map { try reader.scalarText($0, at: "\(path).base_url") } ?? Self.defaultBaseURL(provider)
        apiKey = try map["api_key"].map { try reader.scalarText($0, at: "\(path).api_key") } ?? ""
        models = try reader.textList(map["models"] ?? [Any](), at: "\(path).models")
        guard !models.isEmpty else { throw ConfigurationError("\(path).models must list at least one model") }
        if let mapValue = map["model_map"] {
            let raw = try reader.mapping(mapValue, at: "\(path).model_map")
            modelMap = try raw.mapValues { try reader.scalarText($0, at: "\(path).model_map") }
        }
        if let value = map["priority"] {
            guard let number = Int(try reader.scalarText(value, at: "\(path).priority")) else {
                throw ConfigurationError("\(path).priority must be a whole number")
            }
            priority = number
        }
        if let value = map["enabled"] { enabled = try reader.bool(value, at: "\(path).enabled") }
        if let value = map["notes"] { notes = try reader.scalarText(value, at: "\(path).notes") }
        func count(_ name: String, minimum: Int) throws -> Int? {
            guard let value = map[name] else { return nil }
            guard let number = Int(try reader.scalarText(value, at: "\(path).\(name)")), number >= minimum else {
                throw ConfigurationError("\(path).\(name) must be a whole number ≥ \(minimum)")
            }
            return number
        }
        limits.maxRPM = try count("max_rpm", minimum: 1)
        limits.maxTPM = try count("max_tpm", minimum: 1)
        limits.maxConcurrency = try count("max_concurrency", minimum: 1)
        limits.maxWaiting = try count("max_waiting", minimum: 0) ?? 0
        if let value = map["intercept_warmup"] { interceptWarmup = try reader.bool(value, at: "\(path).intercept_warmup") }
        if let value = map["default_instructions"] {
            let text = try reader.scalarText(value, at: "\(path).default_instructions")
            defaultInstructions = text.isEmpty ? nil : text
        }
        if let value = map["wait_timeout"] {
            limits.waitTimeout = try DurationText.parse(try reader.scalarText(value, at: "\(path).wait_timeout"), source: "\(path).wait_timeout")
        }
    }
}

extension Configuration.KeyDeclaration {
    static let allowedKeys = [
        "name", "key", "description", "tags", "user", "expires_at", "expires_in_days", "activate_on_first_use_days", "on_expiry",
        "providers", "models",
        "clients", "rate_limit", "concurrency", "max_waiting", "token_limit", "daily_cost_usd", "balance_usd",
    ]

    init(_ value: Any, reader: ValueReader, at path: String) throws {
        let map = try reader.mapping(value, at: path)
        try reader.rejectUnknown(map, allowed: Self.allowedKeys, at: path)
        name = try reader.name(map, at: path)
        key = try map["key"].map { try reader.scalarText($0, at: "\(path).key") } ?? ""
        if let value = map["expires_at"] { expiresAt = try reader.date(value, at: "\(path).expires_at") }
        expiresInDays = try reader.wholeNumber(map, "expires_in_days", minimum: 1, maximum: Int64(KeyPolicy.maxDays), at: path).map(Int.init)
        policy.activateOnFirstUseDays = try reader.wholeNumber(
            map, "activate_on_first_use_days", minimum: 1, maximum: Int64(KeyPolicy.maxDays), at: path
        ).map(Int.init)
        if [expiresAt != nil, expiresInDays != nil, policy.activateOnFirstUseDays != nil].filter({ $0 }).count > 1 {
            throw ConfigurationError("\(path) sets more than one of expires_at, expires_in_days and activate_on_first_use_days; keep one")
        }
        func text(_ name: String) throws -> String? { try map[name].map { try reader.scalarText($0, at: "\(path).\(name)") } }
        func list(_ name: String) throws -> [String]? { try map[name].map { try reader.textList($0, at: "\(path).\(name)") } }
        policy.description = try text("description")
        policy.tags = try list("tags")
        policy.user = try text("user")
        if let onExpiry = try text("on_expiry") {
            guard ["disable", "delete"].contains(onExpiry) else { throw ConfigurationError("\(path).on_expiry must be disable or delete") }
            policy.onExpiry = onExpiry
        }
        if let providers = try list("providers") {
            policy.providers = try providers.map { name in
                guard let provider = Provider(rawValue: name) else {
                    throw ConfigurationError("\(path).providers: \(name) is not openai, anthropic or gemini")
                }
                return provider
            }
        }
        policy.models = try list("models")
        policy.clients = try list("clients")
        if let value = map["rate_limit"] {
            let rate = try reader.mapping(value, at: "\(path).rate_limit")
            let ratePath = "\(path).rate_limit"
            try reader.rejectUnknown(rate, allowed: ["window_minutes", "requests", "tokens", "cost_usd"], at: ratePath)
            policy.rateLimit = KeyPolicy.RateLimit(
                windowMinutes: Int(
                    try reader.wholeNumber(rate, "window_minutes", minimum: 1, maximum: Int64(KeyPolicy.RateLimit.maxWindowMinutes), at: ratePath)
                        ?? 1),
                requests: try reader.wholeNumber(rate, "requests", minimum: 1, at: ratePath).map(Int.init),
                tokens: try reader.wholeNumber(rate, "tokens", minimum: 1, at: ratePath),
                cost: try reader.dollars(rate, "cost_usd", at: ratePath))
        }
        policy.concurrency = try reader.wholeNumber(map, "concurrency", minimum: 1, at: path).map(Int.init)
        policy.maxWaiting = try reader.wholeNumber(map, "max_waiting", minimum: 0, at: path).map(Int.init)
        policy.tokenLimit = try reader.wholeNumber(map, "token_limit", minimum: 1, at: path)
        policy.dailyCost = try reader.dollars(map, "daily_cost_usd", at: path)
        policy.balance = try reader.dollars(map, "balance_usd", at: path)
    }
}
