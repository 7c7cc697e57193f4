import Engine
import Foundation
import HTTPServer
import Policy
import SwitchboardCore
import Upstream

/// Everything `switchboard` reads at start: from a YAML file, then overridden by
/// `SWITCHBOARD_*` environment variables (one per top-level setting).
public struct Configuration: Sendable {
    /// Where the server listens, `host:port`.
    public var listen = "127.0.0.1:8080"
    /// The database URL: `sqlite:PATH` (default), a plain path, or
    /// `postgres://user:password@host:port/database?sslmode=…`.
    public var database = "sqlite:switchboard-data/switchboard.db"
    /// Where the master key file lives; the database's directory when unset.
    public var dataDirectory: String?
    /// A LiteLLM-format price file that replaces the bundled table.
    public var pricesFile: String?
    /// The largest request body accepted, in bytes.
    public var maxBodyBytes = 32 * 1024 * 1024
    /// How many times a request may move to another account.
    public var maxFailovers = 3
    /// Cooldowns after upstream failures, and session stickiness.
    public var pool = PoolSettings()
    /// How often accounts the upstream refused are probed (free `GET …/models`); 0 turns probing off.
    public var healthProbeInterval: Duration = .seconds(60)
    /// The bearer token the admin API requires; the admin API is off without one.
    public var adminToken: String?
    /// Failed admin logins (API or console) an address may make within a minute before it is refused for a while.
    public var adminLoginAttempts = 10
    /// The bearer token `/metrics` takes; without one it answers private addresses only.
    public var metricsToken: String?
    /// A `host:port` of its own for `/metrics` (then not served on `listen`).
    public var metricsListen: String?
    /// Whether `/metrics` counts requests by key name too.
    public var metricsKeyLabels = false
    /// An OpenTelemetry collector's OTLP/HTTP address (`http://host:4318`): request spans go
    /// there. Tracing is off without one.
    public var otlpEndpoint: String?
    /// Whether an attempt sends its `traceparent` upstream.
    public var propagateTrace = false
    /// Per-model prices in LiteLLM's format (`input_cost_per_token`, …), over the table.
    public var priceOverrides: Data?
    /// Refuse requests for models without a price instead of serving them at zero cost.
    public var refuseUnpriced = false
    /// How long a request may queue for one of its key's concurrency slots.
    public var keyWaitTimeout: Duration = .seconds(30)
    /// How often a streaming request waiting in a key's queue gets a keepalive.
    public var keepaliveInterval: Duration = .seconds(5)
    /// What a stream the client leaves before its usage is billed from: `drain` or `estimate`.
    public var onClientDisconnect: DisconnectPolicy = .drain
    /// Failovers allowed within one provider's accounts (`providers: {anthropic: {max_failovers: 1}}`).
    public var providerFailovers: [Provider: Int] = [:]
    /// How much of a prompt's start sends a new session to where it is cached (0: off).
    public var cachePrefixBytes = 4096
    /// How far an upstream's ban signal reaches: off, session (default) or key.
    public var sessionQuarantine = QuarantineMode.session
    /// How long a stream is read on after its client left, for its usage.
    public var drainTimeout: Duration = .seconds(30)
    /// How much of a stream is read on after its client left, at most.
    public var drainMaxBytes = 4 * 1024 * 1024
    /// What client connections may take: timeouts, a connection cap, head limits.
    public var limits = ConnectionLimits()
    /// Proxies in front of the gateway whose `X-Forwarded-For` names the client.
    public var trustedProxies: [CIDR] = []
    /// Where accounts may send requests (and so their secrets).
    public var upstreamPolicy = UpstreamPolicy()
    /// How long a replica's leases (slots, holds) on PostgreSQL outlive its last renewal (`lease_ttl`).
    public var leaseTTL: Duration = .seconds(30)
    /// How old the oldest unwritten ledger row may grow before new requests are refused.
    public var ledgerStallTimeout: Duration = .seconds(5)
    /// How long ledger rows are kept; nil (`0`) keeps them for ever. Rollups and totals stay either way.
    public var ledgerRetention: Duration? = .seconds(90 * 86400)
    /// Webhooks that hear of accounts failing, budgets running out, the ledger failing, and each day's spend.
    public var alerts = AlertSettings()
    /// Request and response bodies kept for chosen keys; off with no keys named.
    public var capture = Capture()

    /// `capture:` as the file gives it.
    public struct Capture: Sendable, Equatable {
        public var keys: [String] = []
        public var maxBytes = 65_536
        public var redact: [String] = []
    }
    /// How often housekeeping (retention) runs.
    public var housekeepingInterval: Duration = .seconds(3600)
    /// Longest wait for an upstream connection.
    public var connectTimeout: Duration = .seconds(10)
    /// Longest wait for an upstream response head.
    public var firstByteTimeout: Duration = .seconds(600)
    /// Longest silence from the upstream once the request is sent.
    public var streamIdleTimeout: Duration = .seconds(600)
    /// How long shutdown waits for in-flight requests.
    public var shutdownTimeout: Duration = .seconds(30)
    /// `trace`, `debug`, `info`, `notice`, `warning`, `error` or `critical`.
    public var logLevel = "info"
    /// One line of `key=value` text per event, or one JSON object.
    public var logFormat = LogFormat.text
    /// Upstream accounts declared in the file, upserted at start.
    public var accounts: [AccountDeclaration] = []
    /// Downstream keys declared in the file, upserted at start.
    public var keys: [KeyDeclaration] = []
    /// Users declared in the file (owners of keys, with a balance).
    public var users: [UserEntry] = []
    /// Groups declared in the file (price multiplier, subscription caps).
    public var groups: [GroupEntry] = []
    /// Model aliases (`models:`): a name standing for target models, in order or by weight.
    public var aliases: [ModelAlias] = []
    /// The master key from the environment, when given.
    public var masterKey: String?

    /// Creates the defaults.
    public init() {}

    /// An upstream account in the config file: an account's settings, whole.
    public typealias AccountDeclaration = AccountDefinition

    /// A downstream key in the config file.
    public struct KeyDeclaration: Sendable, Equatable {
        public var name: String
        public var key: String
        public var expiresAt: Date?
        /// Days from the key's creation to its expiry (kept, not renewed, at later starts).
        public var expiresInDays: Int?
        /// Limits, allow-lists and budgets.
        public var policy = KeyPolicy()

        /// A key declaration.
        public init(name: String, key: String, expiresAt: Date? = nil, policy: KeyPolicy = .init()) {
            self.name = name
            self.key = key
            self.expiresAt = expiresAt
            self.policy = policy
        }
    }

    /// The database `database` names.
    public func databaseLocation() throws -> DatabaseLocation {
        var url = database
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            guard let components = URLComponents(string: url), components.host?.isEmpty == false else {
                throw ConfigurationError("database: a PostgreSQL URL looks like postgres://user:password@host:5432/database")
            }
            return .postgres(url: url)
        }
        if url.hasPrefix("sqlite://") { url.removeFirst("sqlite://".count) } else if url.hasPrefix("sqlite:") { url.removeFirst("sqlite:".count) }
        guard !url.isEmpty else { throw ConfigurationError("database must name a file, e.g. sqlite:switchboard-data/switchboard.db") }
        return .sqlite(path: url)
    }

    /// The directory holding the master key file: with SQLite, the database's
    /// own; with PostgreSQL (whose replicas must share one key:
    /// `SWITCHBOARD_MASTER_KEY`, or a `data_dir` they share), `switchboard-data`.
    public func resolvedDataDirectory() throws -> String {
        if let dataDirectory { return dataDirectory }
        guard case .sqlite(let path) = try databaseLocation() else { return "switchboard-data" }
        let directory = (path as NSString).deletingLastPathComponent
        return directory.isEmpty ? "." : directory
    }

    /// The host and port to listen on.
    public func listenAddress() throws -> (host: String, port: Int) { try Self.address(listen, setting: "listen") }

    /// The host and port `/metrics` has to itself, when `metrics_listen` is set.
    public func metricsAddress() throws -> (host: String, port: Int)? {
        try metricsListen.map { try Self.address($0, setting: "metrics_listen") }
    }

    /// Where spans are posted: `otlp_endpoint` with `/v1/traces` (OTLP/HTTP's path
    /// for traces) unless it names a path of its own.
    public func otlpTracesURL() throws -> String? {
        guard let endpoint = otlpEndpoint else { return nil }
        guard let url = URL(string: endpoint), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host?.isEmpty == false,
            url.user == nil, url.query == nil
        else { throw ConfigurationError("otlp_endpoint must be an http or https URL such as http://127.0.0.1:4318 (got \(endpoint))") }
        if url.path.isEmpty || url.path == "/" { return (endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint) + "/v1/traces" }
        return endpoint
    }

    /// Reads `host:port` (`[::1]:9090` for IPv6; an empty host is every address).
    static func address(_ text: String, setting: String) throws -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        else { throw ConfigurationError("\(setting) must be host:port, e.g. 127.0.0.1:8080 (got \(text))") }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }
}

/// A configuration problem, said in terms of the file or variable at fault.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension Configuration: CustomStringConvertible {
    /// The settings without any secret, safe to log.
    public var description: String {
        let database = (try? databaseLocation()).map(\.description) ?? "(unreadable)"
        return "Configuration(listen: \(listen), database: \(database), accounts: \(accounts.map(\.name)), keys: \(keys.map(\.name)))"
    }
}

extension Configuration.AccountDeclaration: CustomStringConvertible {
    /// The account without its secret.
    public var description: String { "Account(\(name), \(provider.rawValue), \(baseURL), \(models))" }
}

extension Configuration.KeyDeclaration: CustomStringConvertible {
    /// The key's name only.
    public var description: String { "Key(\(name))" }
}

extension Configuration {
    /// The prices in force: the `prices_file` (else the bundled LiteLLM table), with the `prices` overrides on top.
    public func priceTable() throws -> PriceTable {
        var prices = try pricesFile.map { try PriceTable(contentsOf: $0) } ?? PriceTable.bundled()
        if let priceOverrides { prices = prices.overriding(with: try PriceTable(json: priceOverrides)) }
        return prices
    }
}

/// Where the store lives.
public enum DatabaseLocation: Sendable, Equatable, CustomStringConvertible {
    /// An SQLite file (the embedded default).
    case sqlite(path: String)
    /// A PostgreSQL database several replicas share.
    case postgres(url: String)

    /// The location for messages: an absolute path, or the URL without its password.
    public var description: String {
        switch self {
        case .sqlite(let path): return path.absolutePath
        case .postgres(let url):
            guard var components = URLComponents(string: url) else { return "postgres://(unreadable URL)" }
            if components.password != nil { components.password = "***" }
            components.query = nil
            return components.string ?? "postgres://(unreadable URL)"
        }
    }
}
