import Dialects
import Foundation
import Logging
import NIOCore
import Policy
import Storage
import SwitchboardCore
import Synchronization
import Upstream

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
    public let transport: UpstreamTransport
    let ledger: LedgerWriter
    let prices: PriceTable
    let hasher: KeyHasher
    let configuration: Configuration
    let logger: Logger
    /// Requests answered for models without a price (served at zero cost).
    let unpriced = Atomic<Int>(0)
    /// Models already warned about, so the log says it once per model.
    let unpricedModels = Mutex<Set<String>>([])

    /// Counters admins watch: requests for unpriced models, money charged past holds.
    public var stats: GatewayStats {
        GatewayStats(unpricedRequests: unpricedRequests, overrunUsd: Money(picos: limiter.overrunPicos).dollarsString)
    }

    /// How many requests were served for models the price table does not know.
    public var unpricedRequests: Int { unpriced.load(ordering: .relaxed) }

    /// Creates the pipeline.
    public init(
        snapshots: SnapshotHolder, pool: AccountPool, limiter: KeyLimiter, transport: UpstreamTransport, ledger: LedgerWriter, prices: PriceTable,
        hasher: KeyHasher, configuration: Configuration = .init(), logger: Logger
    ) {
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

    /// The key with this id in the current snapshot (usable or not).
    public func keyEntry(id: Int64) -> KeyEntry? { snapshots.snapshot.keys.entry(id: id) }

    /// The key a credential belongs to, if it is usable now.
    public func authenticate(_ credential: String?) -> KeyEntry? {
        guard let credential, !credential.isEmpty else { return nil }
        return snapshots.snapshot.keys.authenticate(hash: hasher.hash(credential), now: Date())
    }

    /// Handles one generation request (chat completions or messages). Every call
    /// leaves exactly one ledger row.
    public func handle(_ request: GatewayRequest) async -> GatewayResponse {
        guard !ledger.isBacklogged else {
            // The ledger cannot keep up (the database is failing): serving would
            // mean requests without records, so refuse until it recovers.
            return errorResponse(GatewayError(.ledgerUnavailable, retryAfterSeconds: 5), dialect: request.dialect, requestID: request.requestID)
        }
        let settlement = Settlement(
            row: LedgerRow(requestID: request.requestID, createdAt: Date(), dialect: request.operation.rawValue, status: 0, outcome: ""),
            ledger: ledger, started: request.receivedAt)
        guard let key = authenticate(request.credential) else {
            return fail(GatewayError(.unauthorized), request: request, settlement: settlement, outcome: "unauthorized")
        }
        settlement.update {
            $0.keyID = key.id
            $0.keyName = key.name
        }
        let client: ClientRequest
        do {
            client = try request.inspect(try await readBody(request.body))
        } catch {
            return fail(error, request: request, settlement: settlement, outcome: "client_error")
        }
        settlement.update {
            $0.model = client.model
            $0.stream = client.stream
        }
        guard key.policy.allows(userAgent: request.header("user-agent")) else {
            return fail(GatewayError(.clientNotAllowed), request: request, settlement: settlement, outcome: "refused")
        }
        guard key.policy.allows(model: client.model) else {
            return fail(GatewayError(.modelNotAllowed, param: "model"), request: request, settlement: settlement, outcome: "refused")
        }
        switch snapshots.snapshot.accounts.select(model: client.model, dialect: request.dialect, translate: request.operation.translatable) {
        case .unknownModel:
            return fail(
                GatewayError(.modelNotFound, message: "The model \(jsonStringLiteral(client.model)) does not exist or this key cannot use it.", param: "model"),
                request: request, settlement: settlement, outcome: "client_error")
        case .otherDialectOnly:
            return fail(
                GatewayError(.invalidRequest, message: "The model \(jsonStringLiteral(client.model)) is served through another API format, and this operation is not translated between formats.", param: "model"),
                request: request, settlement: settlement, outcome: "client_error")
        case .candidates(let accounts):
            if configuration.refuseUnpriced, !accounts.contains(where: { isPriced(client.model, account: $0) }) {
                return fail(
                    GatewayError(.invalidRequest, message: "The model \(jsonStringLiteral(client.model)) has no price, and this gateway refuses unpriced models.", param: "model"),
                    request: request, settlement: settlement, outcome: "refused")
            }
            let admitted: Admitted
            switch admitNow(key, client: client, request: request, accounts: accounts, settlement: settlement) {
            case .refused(let error):
                return fail(error, request: request, settlement: settlement, outcome: "refused")
            case .mustWait(let demand, let usable) where client.stream && Self.keepalive(request.dialect) != nil:
                // Answer now and keep the stream alive while the request waits.
                return waitingStream(
                    keepalive: Self.keepalive(request.dialect)!, key, demand: demand, client: client, request: request, accounts: usable, settlement: settlement)
            case .mustWait(let demand, let usable):
                switch await admitAfterWaiting(key, demand: demand, request: request, accounts: usable, settlement: settlement) {
                case .failure(let error): return fail(error, request: request, settlement: settlement, outcome: "refused")
                case .success(let after): admitted = after
                }
            case .admitted(let now):
                admitted = now
            }
            var response = await relay(client, request: request, accounts: admitted.accounts, settlement: settlement)
            if response.status < 400 { response.headers += admitted.headers }
            return response
        }
    }

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
        snapshots.snapshot.accounts.servableModels(dialect: dialect, translate: true)
            .filter { key.policy.allows(model: $0.model) && key.policy.allows(provider: $0.provider) }
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
        let body = (try? AdminJSON.encode(report)) ?? Data("{}".utf8)
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

    /// Settles a request that failed before any upstream answer reached the client.
    func fail(_ error: GatewayError, request: GatewayRequest, settlement: Settlement, outcome: String) -> GatewayResponse {
        settlement.settle(status: error.status(in: request.dialect), outcome: outcome, errorCode: error.code.rawValue)
        return errorResponse(error, dialect: request.dialect, requestID: request.requestID)
    }

    /// Whether the table prices a model as this account would send it.
    func isPriced(_ model: String, account: AccountEntry) -> Bool {
        prices.price(for: account.upstreamModel(for: model), provider: account.provider) != nil
            || prices.price(for: model, provider: account.provider) != nil
    }

    /// The cost of usage on a model, and whether a price was found. An unpriced
    /// model is counted and logged: it is served at zero cost.
    func price(_ usage: TokenUsage, model: String, upstreamModel: String, provider: Provider) -> (Money, Bool) {
        guard let price = prices.price(for: upstreamModel, provider: provider) ?? prices.price(for: model, provider: provider) else {
            unpriced.wrappingAdd(1, ordering: .relaxed)
            if unpricedModels.withLock({ $0.insert(upstreamModel).inserted }) {
                logger.warning("no price for model; served and recorded at zero cost", metadata: ["model": "\(upstreamModel)"])
            }
            return (.zero, false)
        }
        return (price.cost(usage), true)
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
}
