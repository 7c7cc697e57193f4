import Dialects
import Logging
import NIOCore
import Policy
import Storage
import SwitchboardCore
import Synchronization
import Tracing
import Upstream

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The request pipeline: authenticate, read, select, send, relay, settle.
/// It knows nothing of the HTTP server; `HTTPServer` adapts it.
public final class Gateway: Sendable {
    /// Settings that shape the pipeline.
    public struct Configuration: Sendable {
        /// How many times a request may move to another account before giving up.
        public var maxFailovers: Int
        /// The largest request body accepted.
        public var maxBodyBytes: Int
        /// The largest upstream error body read (for classification and pass-through).
        public var maxErrorBodyBytes: Int
        /// How long a request may queue for one of its key's concurrency slots.
        public var keyWaitTimeout: Duration
        /// Refuse models without a price instead of serving them at zero cost.
        public var refuseUnpriced: Bool
        /// How often a streaming client waiting for a key slot gets a keepalive.
        public var keepaliveInterval: Duration
        /// What a stream the client leaves before its usage arrived is billed from.
        public var onClientDisconnect: DisconnectPolicy = .drain
        /// How long a stream is read on after its client left, for the usage.
        public var drainTimeout: Duration = .seconds(30)
        /// How many bytes a stream is read on after its client left, at most.
        public var drainBytes = 4 * 1024 * 1024
        /// Proxies whose `X-Forwarded-For` names the client, for the ledger's client address.
        public var trustedProxies: [CIDR] = []
        /// Where request spans go (`otlp_endpoint`); nil when tracing is off.
        public var tracer: (any Tracer)?
        /// Whether attempts send their `traceparent` upstream (`propagate_trace`).
        public var propagateTrace = false
        /// Request and response bodies kept for chosen keys (`capture:`); nil when off.
        public var capture: CaptureSettings?
        /// How much of a prompt's start names it for cache affinity (`cache_prefix_bytes`); 0 turns it off.
        public var cachePrefixBytes = 4096
        /// How far an upstream's ban signal reaches (`session_quarantine`).
        public var sessionQuarantine = QuarantineMode.session
        /// How long this replica's shared leases outlive its last renewal (`lease_ttl`, PostgreSQL only).
        public var leaseTTL: Duration = .seconds(30)

        public init(
            maxFailovers: Int = 3, maxBodyBytes: Int = 32 * 1024 * 1024, maxErrorBodyBytes: Int = 256 * 1024,
            keyWaitTimeout: Duration = .seconds(30), refuseUnpriced: Bool = false, keepaliveInterval: Duration = .seconds(5)
        ) {
            self.keepaliveInterval = keepaliveInterval
            self.refuseUnpriced = refuseUnpriced
            self.maxFailovers = maxFailovers
            self.maxBodyBytes = maxBodyBytes
            self.maxErrorBodyBytes = maxErrorBodyBytes
            self.keyWaitTimeout = keyWaitTimeout
        }
    }

    /// The snapshot in force: keys, accounts, users, groups.
    public let snapshots: SnapshotHolder
    /// The accounts' live state: load, windows, cooldowns, health, sessions.
    public let pool: AccountPool
    /// The keys' live state: slots, windows, money held and spent.
    public let limiter: KeyLimiter
    /// The HTTP client to upstreams.
    public let transport: any UpstreamTransport
    let ledger: LedgerWriter
    /// The prices in force.
    public let prices: PriceTable
    /// Whose turn it is among each weighted alias's targets.
    let aliasRotation = AliasRotation()
    /// Quarantines this process began that the snapshot may not hold yet.
    let pendingQuarantines = Mutex<[Quarantine]>([])
    /// Where quarantines are kept (nil in tests that run without one).
    let store: (any GatewayStore)?
    /// Key limits shared with the other replicas (PostgreSQL); nil on SQLite.
    public let shared: SharedKeyLimits?
    /// Settlements of shared leases, applied in order off the request path.
    public let sharedSettlements: SharedSettlements?
    let hasher: KeyHasher
    let configuration: Configuration
    let logger: Logger
    /// Requests answered for models without a price (served at zero cost).
    let unpriced = Atomic<Int>(0)
    /// Requests without a valid key: counted, logged sparingly, never recorded.
    let unauthenticated = UnauthenticatedRequests()
    /// Alert deliveries made and given up (`alerts:` webhooks).
    public let alertCounters = AlertCounters()
    /// Upstream connections that could not be opened for want of descriptors: counted, logged sparingly.
    let outOfDescriptors = OutOfDescriptors()
    /// Requests with a valid key whose body could not be read or was malformed: counted, never recorded.
    let malformed = Atomic<Int>(0)
    /// The clock cooldowns, windows, waits and keepalives follow.
    public var clock: any GatewayClock { pool.clock }
    /// Models already warned about, so the log says it once per model.
    let unpricedModels = Mutex<Set<String>>([])

    /// Counters admins watch: requests for unpriced models, money charged past
    /// holds, requests without a valid key, upstream connections the process
    /// had no descriptor for.
    public var stats: GatewayStats {
        GatewayStats(
            unpricedRequests: unpricedRequests, overrunUsd: limiter.overrun.dollarsString,
            unauthenticatedRequests: unauthenticated.count, malformedRequests: malformed.load(ordering: .relaxed),
            alertsDelivered: alertCounters.deliveredCount, alertDeadLetters: alertCounters.deadLetterCount,
            upstreamOutOfDescriptors: outOfDescriptors.count)
    }

    /// How many requests were served for models the price table does not know.
    public var unpricedRequests: Int { unpriced.load(ordering: .relaxed) }

    /// Creates the pipeline.
    public init(
        snapshots: SnapshotHolder, pool: AccountPool, limiter: KeyLimiter, transport: any UpstreamTransport, ledger: LedgerWriter, prices: PriceTable,
        hasher: KeyHasher, configuration: Configuration = .init(), logger: Logger, store: (any GatewayStore)? = nil
    ) {
        self.store = store
        shared = store.flatMap { SharedKeyLimits(store: $0, leaseTTL: configuration.leaseTTL) }
        sharedSettlements = shared.map { limits in
            SharedSettlements(limits: limits, logger: logger, orphans: store.map { (ledger.journal?.mirror, $0, prices) })
        }
        self.snapshots = snapshots
        self.pool = pool
        self.limiter = limiter
        self.transport = transport
        self.ledger = ledger
        self.prices = prices
        self.hasher = hasher
        self.configuration = configuration
        self.logger = logger
    }

    /// Whether the key's and its user's address rules let a request from
    /// `address` (as the ledger records it) through; most keys have none.
    func admitsAddress(_ address: String?, key: KeyEntry) -> Bool {
        let user = snapshots.snapshot.owner(of: key)?.user.addresses ?? AddressRules()
        let rules = key.policy.addressRules
        guard !rules.isEmpty || !user.isEmpty else { return true }
        let parsed = address.flatMap(IPAddress.init)
        return rules.admits(parsed) && user.admits(parsed)
    }

    /// The key with this id in the current snapshot (usable or not).
    public func keyEntry(id: Int64) -> KeyEntry? { snapshots.snapshot.keys.entry(id: id) }

    /// The key a credential belongs to, if it is usable now.
    public func authenticate(_ credential: String?) -> KeyEntry? {
        guard let credential, !credential.isEmpty else { return nil }
        return snapshots.snapshot.keys.authenticate(hash: hasher.hash(credential), now: Date())
    }

    /// Handles one request to a model: a generation (chat, messages, responses,
    /// Gemini, embeddings) or a token count. A request with a valid key and a
    /// well-formed body leaves exactly one ledger row, however it ends; one
    /// without a valid key, or whose body cannot be read, is answered without a
    /// row (a flood of them cannot fill the disk): they are counted instead.
    ///
    /// The work runs in a child task: the relay's async frames are allocated in
    /// the task that runs them and kept by it at their largest until it ends,
    /// so run in the connection's own task they stayed (about 50 KB) with every
    /// idle keep-alive connection.
    public func handle(_ request: GatewayRequest) async -> GatewayResponse {
        async let response = handleInThisTask(request)
        return await response
    }

    private func handleInThisTask(_ request: GatewayRequest) async -> GatewayResponse {
        if let unavailable = ledger.unavailable {
            // Serving would mean requests without records: refuse until it recovers.
            return errorResponse(
                GatewayError(.ledgerUnavailable, message: unavailable, retryAfterSeconds: 5), dialect: request.dialect,
                requestID: request.requestID)
        }
        guard let key = authenticate(request.credential) else {
            unauthenticated.note(address: request.clientAddress, logger: logger, now: clock.now())
            return errorResponse(GatewayError(.unauthorized), dialect: request.dialect, requestID: request.requestID)
        }
        let client: ClientRequest
        do {
            client = try request.inspect(try await readBody(request.body))
        } catch {
            malformed.wrappingAdd(1, ordering: .relaxed)
            return errorResponse(error, dialect: request.dialect, requestID: request.requestID)
        }
        let lane: AccountLane = request.operation.isCounting ? .counting : .generation
        var row = LedgerRow(
            requestID: request.requestID, createdAt: Date(), keyID: key.id, keyName: key.name, dialect: request.operation.rawValue,
            model: client.model, status: 0, outcome: .ok, stream: client.stream, userName: snapshots.snapshot.owner(of: key)?.user.name)
        row.clientAddress = ClientOrigin.address(
            peer: request.clientAddress, forwardedFor: request.headers.filter { $0.name == "x-forwarded-for" }.map(\.value),
            trusted: configuration.trustedProxies)
        row.userAgent = ClientOrigin.userAgent(request.header("user-agent"))
        let clientAddress = row.clientAddress
        // The row's last use here: handed over, not shared (a shared row is copied at its first change).
        let exchange = Exchange(gateway: self, request: request, client: client, key: key, row: row, lane: lane, billable: lane == .generation)
        guard admitsAddress(clientAddress, key: key) else {
            return exchange.refuseNow(GatewayError(.ipNotAllowed), outcome: .refused)
        }
        guard key.policy.allows(userAgent: request.header("user-agent")) else {
            return exchange.refuseNow(GatewayError(.clientNotAllowed), outcome: .refused)
        }
        guard key.policy.allows(model: client.model) else {
            return exchange.refuseNow(GatewayError(.modelNotAllowed, param: "model"), outcome: .refused)
        }
        if quarantine(covering: key.id, session: exchange.session) != nil {
            return exchange.refuseNow(GatewayError(.sessionQuarantined), outcome: .refused)
        }
        let translate = lane == .counting || request.operation.translatable
        switch routing(model: client.model, key: key, dialect: request.dialect, translate: translate, promptBytes: client.body.readableBytes) {
        case .unknownModel:
            return exchange.refuseNow(
                GatewayError(
                    .modelNotFound, message: "The model \(jsonStringLiteral(client.model)) does not exist or this key cannot use it.", param: "model"),
                outcome: .clientError)
        case .otherDialectOnly:
            return exchange.refuseNow(
                GatewayError(
                    .invalidRequest,
                    message:
                        "The model \(jsonStringLiteral(client.model)) is served through another API format, and this operation is not translated between formats.",
                    param: "model"),
                outcome: .clientError)
        case .tiers(let tiers, let passed):
            if lane == .generation, configuration.refuseUnpriced,
                !tiers.contains(where: { tier in tier.accounts.contains { isPriced(tier.model, account: $0) } })
            {
                return exchange.refuseNow(
                    GatewayError(
                        .invalidRequest,
                        message: "The model \(jsonStringLiteral(client.model)) has no price, and this gateway refuses unpriced models.",
                        param: "model"),
                    outcome: .refused)
            }
            let snapshot = snapshots.snapshot
            let maxFailovers = snapshot.aliases[client.model]?.maxFailovers
            let providerFailovers = snapshot.providerFailovers
            if !passed.isEmpty || maxFailovers != nil || !providerFailovers.isEmpty {
                _ = exchange.decide { machine in
                    machine.routed(passed: passed, maxFailovers: maxFailovers, providerFailovers: providerFailovers)
                    return .none
                }
            }
            return await exchange.run(tiers: tiers)
        }
    }

    /// Whether the gateway can take requests now, and if not, why (for `/ready`).
    public var readiness: (ready: Bool, reasons: [String]) {
        let reasons = [ledger.unavailable, snapshots.storeUnavailable, accountsUnavailable].compactMap { $0 }
        return (reasons.isEmpty, reasons)
    }

    /// Why no upstream account could serve at all, or nil when one can. An
    /// account resting after a 429 still counts: its cooldown ends by itself;
    /// disabled ones and ones whose credentials were refused do not.
    var accountsUnavailable: String? {
        let accounts = snapshots.snapshot.accounts.accounts
        guard !accounts.isEmpty else { return "no upstream accounts are configured" }
        let states = pool.status(of: accounts)
        guard !states.contains(where: { !["disabled", "unhealthy"].contains($0.state) }) else { return nil }
        let disabled = states.filter { $0.state == "disabled" }.count
        return
            "no upstream account is usable (\(disabled) disabled, \(states.count - disabled) unhealthy: their credentials were refused or their secrets do not open)"
    }

    /// `POST /v1/messages/count_tokens` and Gemini's `:countTokens`: admitted like
    /// any request (the key's window and a slot, no money held), recorded with
    /// a row at zero cost, and failed over like a generation. Counting calls cool
    /// an account only for counting. A model served in another format is counted
    /// by that provider's own endpoint (Anthropic, Gemini), or estimated where
    /// there is none (OpenAI-compatible: marked `x-switchboard-token-count: estimate`).
    public func countTokens(_ request: GatewayRequest) async -> GatewayResponse { await handle(request) }

    /// Reads the body within the configured limit; a declared oversize body is
    /// refused before a byte of it is read.
    func readBody(_ source: BodySource) async throws(GatewayError) -> ByteBuffer {
        let limit = configuration.maxBodyBytes
        let tooLarge = GatewayError(.bodyTooLarge, message: "The request body is larger than this gateway accepts (\(ByteCount.describe(limit))).")
        if let declared = source.declaredLength, declared > limit { throw tooLarge }
        do {
            return try await source.read(limit)
        } catch .tooLarge {
            throw tooLarge
        } catch {
            throw GatewayError(.invalidRequest, message: "The request body could not be read.")
        }
    }

    /// Every account with its live state (load, windows, cooldown, health), for admins.
    public func accountStatus() -> [(account: AccountEntry, status: AccountStatus)] {
        let accounts = snapshots.snapshot.accounts.accounts
        return Array(zip(accounts, pool.status(of: accounts))).map { ($0, $1) }
    }

    /// The models a key may use from a client speaking `dialect`, in its shape.
    public func models(credential: String?, dialect: Dialect, requestID: String) -> GatewayResponse {
        guard let key = authenticate(credential) else {
            return errorResponse(GatewayError(.unauthorized), dialect: dialect, requestID: requestID)
        }
        let body = ModelList.body(modelEntries(for: key, dialect: dialect), shape: ModelList.Shape(dialect))
        return GatewayResponse(status: 200, headers: [("content-type", "application/json")], body: .full(body))
    }

    /// One model the key may use (Gemini's `GET /v1beta/models/{model}`), or 404.
    public func model(_ name: String, credential: String?, dialect: Dialect, requestID: String) -> GatewayResponse {
        guard let key = authenticate(credential) else {
            return errorResponse(GatewayError(.unauthorized), dialect: dialect, requestID: requestID)
        }
        guard let entry = modelEntries(for: key, dialect: dialect).first(where: { $0.id == name }) else {
            return errorResponse(GatewayError(.modelNotFound, param: "model"), dialect: dialect, requestID: requestID)
        }
        return GatewayResponse(
            status: 200, headers: [("content-type", "application/json")], body: .full(ModelList.single(entry, shape: ModelList.Shape(dialect))))
    }

    /// What a key may use from a dialect: servable models its allow-lists admit.
    func modelEntries(for key: KeyEntry, dialect: Dialect) -> [ModelList.Entry] {
        let snapshot = snapshots.snapshot
        let servable = snapshot.accounts.servableModels(dialect: dialect, admits: reachable(by: key))
            .filter { key.policy.allows(provider: $0.provider) }
        let providers = Dictionary(servable.map { ($0.model, $0.provider) }) { a, _ in a }
        // An alias is listed when one of its targets can be served to this key.
        let aliases = snapshot.aliases.values.compactMap { alias in
            alias.targets.lazy.compactMap { providers[$0.model] }.first.map { (model: alias.name, provider: $0) }
        }
        return (servable.filter { snapshot.aliases[$0.model] == nil } + aliases)
            .filter { key.policy.allows(model: $0.model) }
            .sorted { $0.model < $1.model }
            .map { ModelList.Entry(id: $0.model, ownedBy: $0.provider.rawValue) }
    }

    /// `GET /v1/usage`: the calling key's plan, what remains, and its window.
    public func usage(credential: String?, dialect: Dialect, requestID: String) -> GatewayResponse {
        guard let key = authenticate(credential) else {
            return errorResponse(GatewayError(.unauthorized), dialect: dialect, requestID: requestID)
        }
        let usage = limiter.usage(of: key)
        let owner = snapshots.snapshot.owner(of: key)
        let report = KeyUsageReport(key: key, usage: usage, owner: owner, ownerRemaining: owner.flatMap(limiter.remaining(of:)))
        let body = (try? report.encoded()) ?? Data("{}".utf8)
        return GatewayResponse(status: 200, headers: [("content-type", "application/json")], body: .full(ByteBuffer(bytes: body)))
    }

    /// An error response in the dialect's shape.
    public func errorResponse(_ error: GatewayError, dialect: Dialect, requestID: String) -> GatewayResponse {
        var headers = [("content-type", "application/json")]
        if let retry = error.retryAfterSeconds { headers.append(("retry-after", String(retry))) }
        if error.code == .bodyTooLarge { headers.append(("connection", "close")) }
        if error.retryIsFutile { headers.append(("x-should-retry", "false")) }
        return GatewayResponse(
            status: error.status(in: dialect), headers: headers, body: .full(ErrorBody.json(error, dialect: dialect, requestID: requestID)))
    }

    /// Whether the table prices a model as this account would send it.
    func isPriced(_ model: String, account: AccountEntry) -> Bool {
        prices.price(for: account.upstreamModel(for: model), provider: account.provider) != nil
            || prices.price(for: model, provider: account.provider) != nil
    }

    /// The list price of usage on a model, and whether the table has one (the
    /// account's name for the model first, then the client's).
    func price(_ usage: TokenUsage, model: String, upstreamModel: String, provider: Provider, prices: PriceTable) -> (TokenCosts, Bool) {
        guard let price = prices.price(for: upstreamModel, provider: provider) ?? prices.price(for: model, provider: provider) else {
            return (.zero, false)
        }
        return (price.costs(usage), true)
    }

    /// Counts a request served for a model the table does not price (recorded
    /// at zero cost), warning once per model.
    func countUnpriced(_ model: String) {
        unpriced.wrappingAdd(1, ordering: .relaxed)
        if unpricedModels.withLock({ $0.count < 1000 && $0.insert(model).inserted }) {
            logger.warning("no price for model; served and recorded at zero cost", metadata: ["model": "\(model)"])
        }
    }
}

/// Byte counts for people.
enum ByteCount {
    static func describe(_ bytes: Int) -> String {
        bytes >= 1 << 20 && bytes % (1 << 20) == 0 ? "\(bytes >> 20) MiB" : "\(bytes) bytes"
    }
}

/// Gateway-wide counters for admins.
public struct GatewayStats: Sendable, Encodable {
    /// Requests served for models without a price (recorded at zero cost).
    public var unpricedRequests: Int
    /// Money charged beyond what requests held (estimates too low), in dollars.
    public var overrunUsd: String
    /// Requests refused for want of a valid key (not in the ledger).
    public var unauthenticatedRequests: Int
    /// Requests refused because their body was unreadable or malformed (not in the ledger).
    public var malformedRequests: Int
    /// Alerts delivered to webhooks.
    public var alertsDelivered: Int
    /// Alerts no attempt could deliver.
    public var alertDeadLetters: Int
    /// Upstream connections that could not be opened for want of file
    /// descriptors (the gateway's own limit; answered 503, no account blamed).
    public var upstreamOutOfDescriptors: Int
}
