import Policy
import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A downstream key as stored: never the key itself, only its keyed hash.
public struct KeyRecord: Sendable, Equatable {
    public var id: Int64
    public var name: String
    /// The hex HMAC-SHA256 of the key under the server's hash secret.
    public var hash: String
    /// The key's recognisable start, e.g. `sk-sb-`.
    public var prefix: String
    /// The key's last four characters, to tell keys apart in listings.
    public var lastFour: String
    public var enabled: Bool
    /// Where the key was declared: `config` or `cli`.
    public var source: String
    public var createdAt: Date
    public var lastUsedAt: Date?
    public var expiresAt: Date?
    public var revokedAt: Date?
    /// Limits, allow-lists and budgets.
    public var policy: KeyPolicy = .init()
    /// Why the stored record cannot be enforced (its policy or times do not
    /// read); such a key is refused until an admin replaces it.
    public var unreadable: String?

    /// The state shown to admins.
    public func state(now: Date) -> String {
        if unreadable != nil { return "unreadable" }
        if revokedAt != nil { return "revoked" }
        if !enabled { return "disabled" }
        if let expiresAt, expiresAt <= now { return "expired" }
        return "active"
    }
}

/// A new or changed key, before the store gives it an id.
public struct KeyInput: Sendable {
    public var name: String
    public var hash: String
    public var prefix: String
    public var lastFour: String
    public var source: String
    public var expiresAt: Date?
    public var policy: KeyPolicy

    public init(
        name: String, hash: String, prefix: String, lastFour: String, source: String, expiresAt: Date? = nil,
        policy: KeyPolicy = .init()
    ) {
        self.name = name
        self.hash = hash
        self.prefix = prefix
        self.lastFour = lastFour
        self.source = source
        self.expiresAt = expiresAt
        self.policy = policy
    }
}

/// A secret sealed with AES-GCM, and the id of the master key that sealed it.
public struct SealedSecret: Sendable, Equatable {
    /// Identifies the master key (not the key itself).
    public var keyID: String
    /// Nonce, ciphertext and tag, as AES-GCM's combined form.
    public var combined: Data

    public init(keyID: String, combined: Data) {
        self.keyID = keyID
        self.combined = combined
    }
}

/// An upstream account as stored; its secret stays sealed.
public struct AccountRecord: Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var provider: Provider
    public var baseURL: String
    public var secret: SealedSecret
    public var models: [String]
    public var modelMap: [String: String]
    public var priority: Int
    public var enabled: Bool
    public var notes: String
    public var source: String
    public var createdAt: Date
    /// Caps on requests, tokens and concurrency.
    public var limits: AccountLimits
    /// Grows each time the account is enabled; a running server then clears its cooldown.
    public var generation: Int64
    /// Whether Claude Code's warmup requests are answered without the upstream.
    public var interceptWarmup: Bool = false
    /// Responses `instructions` added to requests that bring none (not Codex's).
    public var defaultInstructions: String?
    /// Its share of traffic among accounts of equal priority.
    public var weight = 1
    /// Headers added to upstream requests, and top-level body fields set (name → JSON text).
    public var headers: [String: String] = [:]
    public var bodyOverrides: [String: String] = [:]
    /// Pools, model list and egress settings.
    public var options = AccountOptions()
    /// The proxy's password, sealed; nil when the proxy has none.
    public var proxySecret: SealedSecret?
    /// Why the stored record cannot be used as written (a cap or map that does
    /// not read); such an account is never chosen.
    public var unreadable: String?
}

/// A new or changed account.
public struct AccountInput: Sendable {
    public var name: String
    public var provider: Provider
    public var baseURL: String
    public var secret: SealedSecret
    public var models: [String]
    public var modelMap: [String: String]
    public var priority: Int
    public var enabled: Bool
    public var notes: String
    public var source: String
    public var limits: AccountLimits
    public var interceptWarmup: Bool
    public var defaultInstructions: String?
    /// Its share of traffic among accounts of equal priority.
    public var weight = 1
    /// Headers added to upstream requests, and top-level body fields set (name → JSON text).
    public var headers: [String: String] = [:]
    public var bodyOverrides: [String: String] = [:]
    /// Pools, model list and egress settings.
    public var options = AccountOptions()
    /// The proxy's password, sealed; nil when the proxy has none.
    public var proxySecret: SealedSecret?

    public init(
        name: String, provider: Provider, baseURL: String, secret: SealedSecret, models: [String],
        modelMap: [String: String] = [:], priority: Int = 0, enabled: Bool = true, notes: String = "", source: String,
        limits: AccountLimits = .init(), interceptWarmup: Bool = false, defaultInstructions: String? = nil, weight: Int = 1,
        headers: [String: String] = [:], bodyOverrides: [String: String] = [:], options: AccountOptions = .init(),
        proxySecret: SealedSecret? = nil
    ) {
        self.proxySecret = proxySecret
        self.options = options
        self.weight = weight
        self.headers = headers
        self.bodyOverrides = bodyOverrides
        self.interceptWarmup = interceptWarmup
        self.defaultInstructions = defaultInstructions
        self.name = name
        self.provider = provider
        self.baseURL = baseURL
        self.secret = secret
        self.models = models
        self.modelMap = modelMap
        self.priority = priority
        self.enabled = enabled
        self.notes = notes
        self.source = source
        self.limits = limits
    }
}

/// One request's record: exactly one per request id. Its `Fields` are read and
/// set as its own (`row.status`), kept in one shared box (`SharedFields`): a row is
/// copied on its way from the relay through the writer's queue to the database,
/// the rollups, metrics and the access log.
@dynamicMemberLookup
public struct LedgerRow: Sendable, Equatable {
    public struct Fields: Sendable, Equatable {
        public var requestID: String
        public var createdAt: Date
        public var keyID: Int64?
        public var keyName: String?
        public var accountID: Int64?
        public var accountName: String?
        public var provider: String?
        public var dialect: String
        /// The model the client asked for.
        public var model: String?
        /// The model name sent upstream.
        public var upstreamModel: String?
        /// The HTTP status the client got.
        public var status: Int
        /// How the request ended.
        public var outcome: Outcome
        /// The gateway error code or upstream error type, if any.
        public var errorCode: String?
        public var stream: Bool
        public var usage: TokenUsage
        public var cost: Money
        /// Whether a price was found for the model.
        public var priced: Bool
        /// Whether the response ended before its usage was complete.
        public var usageIncomplete: Bool
        /// Where the token counts come from: the upstream's report, or an estimate.
        public var usageSource: UsageSource = .none
        /// Bytes of the answer that reached the client (streams).
        public var deliveredBytes: Int64 = 0
        /// The list price of the usage, before a group's multiplier (`cost` is what was charged).
        public var upstreamCost: Money = .zero
        /// The list price class by class (input, cache read, cache writes, output): `upstreamCost` split.
        public var listCosts: TokenCosts = .zero
        /// The request's and response's bodies, sealed, for a key under `capture:`
        /// (kept beside the row, and deleted with it).
        public var capture: SealedSecret?
        public var latencyMs: Int64
        public var firstByteMs: Int64?
        /// How many upstream attempts were made.
        public var attempts: Int
        /// Why this account: the accounts skipped or failed before it, compactly
        /// (`openai-1=cooling(rate_limited,12s) openai-2=failed(transient)`); nil when none were.
        public var route: String?
        /// The user the request was charged to, if its key has one.
        public var userName: String?
        /// The client's IP address (from `X-Forwarded-For` only behind a trusted proxy).
        public var clientAddress: String?
        /// The client's User-Agent, capped and stripped of control characters.
        public var userAgent: String?
        /// Milliseconds spent waiting on upstreams (every attempt, from sending to
        /// the answer's end); `latencyMs` minus this is what the gateway added.
        /// Nil when no request went upstream.
        public var upstreamMs: Int64?
        /// Why the serving account was chosen: `session` (its sticky session),
        /// `ranked` (priority, load, least recently used) or `waited` (its queue).
        public var selection: String?
        /// The request's session as the account pool keys it (a digest of what named
        /// the session, never the name itself); nil for a request without one.
        public var session: String?
    }

    @usableFromInline var shared: SharedFields<Fields>

    @inlinable public subscript<Value>(dynamicMember field: WritableKeyPath<Fields, Value>) -> Value {
        get { shared[field] }
        set { shared.fields[keyPath: field] = newValue }
    }

    public init(
        requestID: String, createdAt: Date, keyID: Int64? = nil, keyName: String? = nil, accountID: Int64? = nil,
        accountName: String? = nil, provider: String? = nil, dialect: String, model: String? = nil,
        upstreamModel: String? = nil, status: Int, outcome: Outcome, errorCode: String? = nil, stream: Bool = false,
        usage: TokenUsage = .zero, cost: Money = .zero, priced: Bool = false, usageIncomplete: Bool = false,
        latencyMs: Int64 = 0, firstByteMs: Int64? = nil, attempts: Int = 0, route: String? = nil, userName: String? = nil
    ) {
        shared = SharedFields(
            Fields(
                requestID: requestID, createdAt: createdAt, keyID: keyID, keyName: keyName, accountID: accountID, accountName: accountName,
                provider: provider, dialect: dialect, model: model, upstreamModel: upstreamModel, status: status, outcome: outcome,
                errorCode: errorCode, stream: stream, usage: usage, cost: cost, priced: priced, usageIncomplete: usageIncomplete,
                latencyMs: latencyMs, firstByteMs: firstByteMs, attempts: attempts, route: route, userName: userName))
    }
}

/// Totals for one group of ledger rows (a key, a model).
public struct UsageTotals: Sendable, Equatable {
    /// The key or model name; `(none)` for rows without one.
    public var name: String
    public var requests: Int64
    public var errors: Int64
    public var inputTokens: Int64
    public var cacheReadTokens: Int64
    public var cacheWriteTokens: Int64
    public var outputTokens: Int64
    public var cost: Money

    public init(
        name: String, requests: Int64 = 0, errors: Int64 = 0, inputTokens: Int64 = 0, cacheReadTokens: Int64 = 0,
        cacheWriteTokens: Int64 = 0, outputTokens: Int64 = 0, cost: Money = .zero
    ) {
        self.name = name
        self.requests = requests
        self.errors = errors
        self.inputTokens = inputTokens
        self.cacheReadTokens = cacheReadTokens
        self.cacheWriteTokens = cacheWriteTokens
        self.outputTokens = outputTokens
        self.cost = cost
    }
}

/// Ledger totals by key and by model.
public struct UsageReport: Sendable, Equatable {
    public var byKey: [UsageTotals]
    public var byModel: [UsageTotals]
    public var total: UsageTotals
}
