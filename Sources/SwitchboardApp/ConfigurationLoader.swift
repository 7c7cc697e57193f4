import Admin
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
        "on_client_disconnect", "session_quarantine", "cache_prefix_bytes", "drain_timeout", "drain_max_size", "client_header_timeout",
        "client_body_timeout",
        "client_send_timeout",
        "keepalive_timeout",
        "max_connections", "max_header_fields", "max_head_size", "allow_private_upstreams", "upstream_allow_hosts", "upstream_proxy",
        "trusted_proxies",
        "ledger_stall_timeout", "ledger_retention", "housekeeping_interval", "lease_ttl",
        "prices", "accounts", "keys", "users", "groups", "alerts", "capture", "models", "providers",
    ]

    /// Top-level settings that hold lists or maps (no environment override).
    static let structuredKeys: Set<String> = [
        "accounts", "keys", "prices", "users", "groups", "upstream_allow_hosts", "trusted_proxies", "alerts", "capture", "models", "providers",
    ]

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
                try Self.account(item, reader: reader, at: "accounts[\(index)]")
            }
        }
        if let list = root["groups"] {
            groups = try reader.list(list, at: "groups").enumerated().map { index, item in
                let path = "groups[\(index)]"
                let json = try reader.jsonObject(item, at: path)
                let name = try reader.name(try reader.mapping(item, at: path), at: path)
                do throws(AdminError) {
                    return try GroupSettings.apply(json, to: GroupEntry(id: 0, name: name))
                } catch {
                    throw Self.placed(error, at: path, fields: GroupSettings.fields)
                }
            }
        }
        if let list = root["users"] {
            users = try reader.list(list, at: "users").enumerated().map { index, item in
                let path = "users[\(index)]"
                let json = try reader.jsonObject(item, at: path)
                let name = try reader.name(try reader.mapping(item, at: path), at: path)
                do throws(AdminError) {
                    return try UserSettings.apply(json, to: UserEntry(id: 0, name: name))
                } catch {
                    throw Self.placed(error, at: path, fields: UserSettings.fields)
                }
            }
        }
        if let value = root["providers"] {
            let json = try reader.jsonObject(value, at: "providers")
            for name in json.keys.sorted() {
                do throws(AdminError) {
                    let setting = try ProviderSettings.setting(name, json[name]!)
                    providerFailovers[setting.provider] = setting.maxFailovers
                } catch {
                    throw ConfigurationError(error.description)
                }
            }
        }
        if let value = root["models"] {
            let json = try reader.jsonObject(value, at: "models")
            aliases = try json.keys.sorted().map { name in
                do throws(AdminError) {
                    return try AliasSettings.alias(name, json[name]!)
                } catch {
                    throw ConfigurationError("models: \(error.description)")
                }
            }
        }
        if let value = root["alerts"] { alerts = try Self.alerts(value, reader: reader) }
        if let value = root["capture"] { capture = try Self.capture(value, reader: reader) }
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
        case "upstream_proxy":
            guard let proxy = UpstreamProxy.parse(value) else {
                throw ConfigurationError("\(source) must be http://[USER:PASSWORD@]HOST:PORT or socks5://[USER:PASSWORD@]HOST:PORT")
            }
            upstreamPolicy.defaultProxy = proxy
        case "cache_prefix_bytes":
            guard value == "0" || ByteSize.parse(value).map({ (1...(1 << 20)).contains($0) }) == true else {
                throw ConfigurationError("\(source) must be 0 (off) or a size up to 1MiB, such as 4KiB")
            }
            cachePrefixBytes = value == "0" ? 0 : ByteSize.parse(value) ?? 4096
        case "session_quarantine":
            guard let mode = QuarantineMode(rawValue: value) else { throw ConfigurationError("\(source) must be off, session or key") }
            sessionQuarantine = mode
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
        case "lease_ttl":
            let ttl = try DurationText.parse(value, source: source)
            guard ttl >= .seconds(3), ttl <= .seconds(3600) else { throw ConfigurationError("\(source) must be from 3s to 1h") }
            leaseTTL = ttl
        case "ledger_retention":
            let retention = try DurationText.parse(value, source: source)
            ledgerRetention = retention == .zero ? nil : retention
        case "housekeeping_interval":
            housekeepingInterval = try DurationText.parse(value, source: source)
            guard housekeepingInterval >= .seconds(1) else { throw ConfigurationError("\(source) must be at least 1s") }
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

extension Configuration {
    /// An account as the file declares it, read by the same settings type the
    /// admin API, the console and the CLI use (`AccountSettings`).
    static func account(_ value: Any, reader: ValueReader, at path: String) throws -> AccountDeclaration {
        let json = try reader.jsonObject(value, at: path)
        do {
            return try AccountSettings(json: json).definition(requireSecret: false)
        } catch {
            throw placed(error, at: path, fields: AccountSettings.fields)
        }
    }

    /// A settings error said at its place in the file: `accounts[0].max_rpm must be …`
    /// when it names a setting, `accounts[0]: …` otherwise.
    static func placed(_ error: AdminError, at path: String, fields: [String]) -> ConfigurationError {
        let first = error.description.prefix { $0 != " " && $0 != ":" && $0 != "." }
        return ConfigurationError(fields.contains(String(first)) ? "\(path).\(error.description)" : "\(path): \(error.description)")
    }
}

extension Configuration.KeyDeclaration {
    /// A key as the file declares it, read by the same settings type the admin
    /// API, the console and the CLI use (`KeySettings`). `enabled` is the one
    /// setting a file does not hold: disabling a key is an admin's act, kept
    /// across restarts.
    init(_ value: Any, reader: ValueReader, at path: String) throws {
        let json = try reader.jsonObject(value, at: path)
        do throws(AdminError) {
            if json["enabled"] != nil { throw AdminError(.invalid, "enabled is not read from the file; use `switchboard keys disable NAME`") }
            guard case .string(let name)? = json["name"], !name.isEmpty else { throw AdminError(.invalid, "name is required") }
            if let problem = RecordName.problem(name) { throw AdminError(.invalid, "name: \(problem)") }
            let change = try KeySettings.apply(json, to: KeyPolicy())
            self.init(name: name, key: change.key ?? "", expiresAt: change.expiresAt ?? nil, policy: change.policy)
            expiresInDays = change.expiresInDays
        } catch {
            throw Configuration.placed(error, at: path, fields: KeySettings.fields)
        }
    }
}

extension Configuration {
    /// `alerts: {webhooks: [{url, secret, events}], interval, storm_accounts}`.
    /// `capture: {keys: [...], max_bytes: 65536, redact: [...]}`.
    static func capture(_ value: Any, reader: ValueReader) throws -> Configuration.Capture {
        let map = try reader.mapping(value, at: "capture")
        try reader.rejectUnknown(map, allowed: ["keys", "max_bytes", "redact"], at: "capture")
        var capture = Configuration.Capture()
        capture.keys = try map["keys"].map { try reader.textList($0, at: "capture.keys") } ?? []
        capture.redact = try map["redact"].map { try reader.textList($0, at: "capture.redact") } ?? []
        if let bytes = map["max_bytes"] {
            guard let count = Int(try reader.scalarText(bytes, at: "capture.max_bytes")), (1...CaptureSettings.maxBytesLimit).contains(count) else {
                throw ConfigurationError("capture.max_bytes must be a whole number from 1 to \(CaptureSettings.maxBytesLimit)")
            }
            capture.maxBytes = count
        }
        return capture
    }

    static func alerts(_ value: Any, reader: ValueReader) throws -> AlertSettings {
        let map = try reader.mapping(value, at: "alerts")
        try reader.rejectUnknown(map, allowed: ["webhooks", "interval", "storm_accounts"], at: "alerts")
        var settings = AlertSettings()
        if let interval = map["interval"] {
            settings.interval = try DurationText.parse(try reader.scalarText(interval, at: "alerts.interval"), source: "alerts.interval")
            guard settings.interval >= .seconds(1) else { throw ConfigurationError("alerts.interval must be at least 1s") }
        }
        if let storm = map["storm_accounts"] {
            guard let count = Int(try reader.scalarText(storm, at: "alerts.storm_accounts")), (2...1000).contains(count) else {
                throw ConfigurationError("alerts.storm_accounts must be a whole number from 2 to 1000")
            }
            settings.stormAccounts = count
        }
        let known = AlertEvent.allCases.map(\.rawValue)
        settings.webhooks = try reader.list(map["webhooks"] ?? [Any](), at: "alerts.webhooks").enumerated().map { index, item in
            let path = "alerts.webhooks[\(index)]"
            let hook = try reader.mapping(item, at: path)
            try reader.rejectUnknown(hook, allowed: ["url", "secret", "events"], at: path)
            let url = try reader.scalarText(hook["url"] ?? "", at: "\(path).url")
            guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""), parsed.host?.isEmpty == false else {
                throw ConfigurationError("\(path).url must be an http or https URL")
            }
            let secret = try reader.scalarText(hook["secret"] ?? "", at: "\(path).secret")
            guard secret.count >= 16 else { throw ConfigurationError("\(path).secret must be at least 16 characters (it signs every alert)") }
            var events = Set(AlertEvent.allCases)
            if let list = hook["events"] {
                let names = try reader.textList(list, at: "\(path).events")
                if let unknown = names.first(where: { !known.contains($0) }) {
                    throw ConfigurationError("\(path).events: \(unknown) is not one of \(known.joined(separator: ", "))")
                }
                events = Set(names.compactMap(AlertEvent.init(rawValue:)))
            }
            return AlertWebhook(url: url, secret: secret, events: events)
        }
        return settings
    }
}
