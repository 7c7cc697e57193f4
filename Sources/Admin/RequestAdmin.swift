import Engine
import Policy
import Storage
import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One request as the explorer shows it: its ledger row, money as exact
/// decimal strings, the accounts passed over or failed on the way, and why
/// the serving account was chosen.
public struct RequestView: Sendable, Encodable {
    public var requestId: String
    public var createdAt: Date
    public var key: String?
    public var user: String?
    public var account: String?
    public var provider: String?
    /// The route's operation (`chat`, `messages`, `responses`, `gemini`, …).
    public var dialect: String
    public var model: String?
    public var upstreamModel: String?
    public var status: Int
    public var outcome: String
    public var errorCode: String?
    public var stream: Bool
    public var tokens: Tokens
    public var costUsd: String
    /// The list price of the usage, before a group's multiplier.
    public var upstreamCostUsd: String
    public var priced: Bool
    public var usageSource: String
    public var usageIncomplete: Bool
    public var deliveredBytes: Int64
    public var latencyMs: Int64
    public var firstByteMs: Int64?
    /// Time spent waiting on upstreams; `latency_ms` less this is what the gateway added.
    public var upstreamMs: Int64?
    public var attempts: Int
    /// Accounts passed over or failed before the serving one, in order.
    public var route: [Hop]
    /// Why the serving account was chosen (`session`, `ranked`, `waited`).
    public var selection: String?
    public var clientAddress: String?
    public var userAgent: String?
    /// The session as the gateway keys it (a digest of what named it); absent without one.
    public var session: String?
    /// What the cache reads saved against the same tokens uncached, at list price.
    public var cacheSavedUsd: String

    /// Tokens by class.
    public struct Tokens: Sendable, Encodable {
        public var input: Int64
        public var cacheRead: Int64
        public var cacheWrite5m: Int64
        public var cacheWrite1h: Int64
        public var output: Int64
        public var reasoning: Int64
    }

    /// One account on the way: `cooling(rate_limited,12s)`, `failed(transient)`, `full`, ….
    public struct Hop: Sendable, Encodable, Equatable {
        public var account: String
        public var reason: String

        public init(account: String, reason: String) {
            self.account = account
            self.reason = reason
        }
    }

    init(_ row: LedgerRow) {
        requestId = row.requestID
        createdAt = row.createdAt
        key = row.keyName
        user = row.userName
        account = row.accountName
        provider = row.provider
        dialect = row.dialect
        model = row.model
        upstreamModel = row.upstreamModel
        status = row.status
        outcome = row.outcome.rawValue
        errorCode = row.errorCode
        stream = row.stream
        tokens = Tokens(
            input: row.usage.inputUncached, cacheRead: row.usage.cacheRead, cacheWrite5m: row.usage.cacheWrite5m,
            cacheWrite1h: row.usage.cacheWrite1h, output: row.usage.output, reasoning: row.usage.reasoning)
        costUsd = row.cost.dollarsString
        upstreamCostUsd = row.upstreamCost.dollarsString
        priced = row.priced
        usageSource = row.usageSource.rawValue
        usageIncomplete = row.usageIncomplete
        deliveredBytes = row.deliveredBytes
        latencyMs = row.latencyMs
        firstByteMs = row.firstByteMs
        upstreamMs = row.upstreamMs
        attempts = row.attempts
        route = Self.hops(row.route)
        selection = row.selection
        clientAddress = row.clientAddress
        userAgent = row.userAgent
        session = row.session
        cacheSavedUsd = row.listCosts.cacheSaved.dollarsString
    }

    /// The reasons a route records, as they start.
    static let reasonStarts = ["disabled", "unhealthy", "cooling(", "rpm_cap(", "tpm_cap(", "full", "tried", "failed("]

    /// Reads the ledger's compact route (`a=cooling(rate_limited,12s) b=failed(transient)`).
    /// An account name may hold spaces or `=`: a part is complete only once what
    /// follows its last `=` reads as a reason.
    public static func hops(_ route: String?) -> [Hop] {
        guard let route, !route.isEmpty else { return [] }
        var hops: [Hop] = []
        var pending = ""
        for token in route.split(separator: " ", omittingEmptySubsequences: false) {
            pending = pending.isEmpty ? String(token) : pending + " " + token
            guard let equals = pending.lastIndex(of: "=") else { continue }
            let reason = String(pending[pending.index(after: equals)...])
            guard reasonStarts.contains(where: { reason == $0 || ($0.hasSuffix("(") && reason.hasPrefix($0)) }) else { continue }
            hops.append(Hop(account: String(pending[..<equals]), reason: reason))
            pending = ""
        }
        if !pending.isEmpty { hops.append(Hop(account: pending, reason: "unknown")) }
        return hops
    }
}

/// A page of the request explorer.
public struct RequestPage: Sendable, Encodable {
    public var requests: [RequestView]
    /// Pass as `cursor` for the next page; absent on the last one.
    public var nextCursor: String?
}

/// One session's requests added up: where its cache was read and what that saved.
public struct SessionView: Sendable, Encodable {
    /// The gateway's key for the session (as requests show it).
    public var session: String
    public var key: String?
    public var user: String?
    /// The accounts that served it; more than one when it failed over or its account stopped serving.
    public var accounts: [String]
    public var firstAt: Date
    public var lastAt: Date
    public var requests: Int64
    public var errors: Int64
    public var tokens: UsageStatsView.Tokens
    public var costUsd: String
    /// Cache reads over all prompt tokens; nil without prompt tokens.
    public var cacheHitRatio: Double?
    public var cacheSavedUsd: String
    /// Whether the session (or its key) is quarantined now.
    public var quarantined: Bool

    init(_ usage: SessionUsage, quarantined: Bool) {
        session = usage.session
        key = usage.keyName
        user = usage.userName
        accounts = usage.accounts.sorted()
        firstAt = usage.firstAt
        lastAt = usage.lastAt
        requests = usage.requests
        errors = usage.errors
        tokens = UsageStatsView.Tokens(usage.tokens)
        costUsd = usage.cost.dollarsString
        cacheHitRatio = UsageStatsView.hitRatio(usage.tokens)
        cacheSavedUsd = usage.cacheSaved.dollarsString
        self.quarantined = quarantined
    }
}

/// The sessions a query found.
public struct SessionPage: Sendable, Encodable {
    public var from: Date?
    public var to: Date?
    public var sessions: [SessionView]
}

/// The request explorer's operations, shared by the admin API and the console.
public struct RequestAdmin: Sendable {
    let store: any GatewayStore
    /// Opens sealed captures (the master key); nil where none can be opened.
    let open: (@Sendable (SealedSecret) throws -> String)?

    public init(store: any GatewayStore, open: (@Sendable (SealedSecret) throws -> String)? = nil) {
        self.store = store
        self.open = open
    }

    /// A request's captured bodies (`capture:`), opened.
    public func capture(_ requestID: String) async throws -> CapturedExchange {
        guard let sealed = try await store.capture(requestID: requestID) else {
            throw AdminError(
                .notFound,
                "no capture for request \(jsonStringLiteral(String(requestID.prefix(80)))) (its key is not captured, or it went with retention)")
        }
        guard let open else { throw AdminError(.unavailable, "captures cannot be opened here") }
        let text: String
        do { text = try open(sealed) } catch {
            throw AdminError(.conflict, "the capture was sealed with master key \(sealed.keyID), which is not at hand")
        }
        guard let exchange = try? JSONDecoder().decode(CapturedExchange.self, from: Data(text.utf8)) else {
            throw AdminError(.conflict, "the capture cannot be read")
        }
        return exchange
    }

    /// Rows matching `query`, newest first.
    public func list(_ query: LedgerQuery) async throws -> RequestPage {
        let page = try await store.ledgerPage(query)
        return RequestPage(requests: page.rows.map(RequestView.init), nextCursor: page.next?.text)
    }

    /// The sessions among the rows matching `query` (its `from` defaulting to a day
    /// before its `to` or now), each key's apart, most recently active first:
    /// their cache use and what it saved.
    public func sessions(_ query: LedgerQuery, now: Date = Date()) async throws -> SessionPage {
        guard query.cursor == nil else { throw AdminError(.invalid, "sessions are not paged; narrow them with from and to") }
        var query = query
        query.from = query.from ?? (query.to ?? now).addingTimeInterval(-86400)
        let quarantined = try await store.activeQuarantines()
        let sessions = try await store.sessionUsage(query).map { usage in
            SessionView(
                usage,
                quarantined: usage.keyID.map { keyID in quarantined.contains { $0.covers(keyID: keyID, session: usage.session) } } ?? false)
        }
        return SessionPage(from: query.from, to: query.to, sessions: sessions)
    }

    /// One request's record.
    public func get(_ requestID: String) async throws -> RequestView {
        guard let row = try await store.ledgerRow(requestID: requestID) else {
            throw AdminError(.notFound, "no request with id \(jsonStringLiteral(String(requestID.prefix(80))))")
        }
        return RequestView(row)
    }

    /// Reads the explorer's filters from query parameters (`from`, `to` as
    /// ISO 8601, a UTC date, or Unix seconds; `key`, `user`, `account`, `model`, `dialect`,
    /// `status` as `429` or `5xx`, `outcome`, `request_id`, `session`, `cursor`, `limit`).
    /// A value that does not read is refused, never ignored: a filter silently
    /// dropped would show rows the admin asked to exclude.
    public static func query(_ parameters: [String: String]) throws(AdminError) -> LedgerQuery {
        var query = LedgerQuery()
        let read = QueryParameters(parameters)
        func text(_ name: String) throws(AdminError) -> String? { try read.text(name) }
        func time(_ name: String) throws(AdminError) -> Date? { try read.time(name) }
        query.from = try time("from")
        query.to = try time("to")
        query.keyName = try text("key")
        query.userName = try text("user")
        query.accountName = try text("account")
        query.model = try text("model")
        query.dialect = try text("dialect")
        query.requestID = try text("request_id")
        query.session = try text("session")
        if let value = try text("status") {
            guard let status = LedgerQuery.StatusFilter(value) else {
                throw AdminError(.invalid, "status must be a code such as 429 or a class such as 5xx")
            }
            query.status = status
        }
        if let value = try text("outcome") {
            guard let outcome = Outcome(rawValue: value) else {
                throw AdminError(.invalid, "outcome must be one of \(Outcome.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            query.outcome = outcome
        }
        if let value = try text("cursor") {
            guard let cursor = LedgerCursor(text: value) else { throw AdminError(.invalid, "cursor is not one this API gave out") }
            query.cursor = cursor
        }
        if let value = try text("limit") {
            guard let limit = Int(value), (1...LedgerQuery.maxLimit).contains(limit) else {
                throw AdminError(.invalid, "limit must be a whole number from 1 to \(LedgerQuery.maxLimit)")
            }
            query.limit = limit
        }
        return query
    }
}
