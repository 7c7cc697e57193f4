import Dialects
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

/// Carries one admitted-or-refused request out: asks the `RelayMachine` what
/// to do, does it (pool, limiter, transport, ledger), and tells the machine
/// what happened. It owns the leases and the I/O; every decision about them is
/// the machine's. A request dropped before it settled (its response never
/// written) settles when the exchange goes away.
final class Exchange: Sendable {
    let gateway: Gateway
    let request: GatewayRequest
    let client: ClientRequest
    let key: KeyEntry
    /// The request's session, if it has one: a digest of what named it (as the ledger and quarantines keep it).
    let session: String?
    /// The same within its key, as the account pool keeps sessions: one key's
    /// session name cannot move or pin another key's session.
    let poolSession: String?
    /// The pool's key for the start of its prompt (`cache_prefix_bytes`), when the prompt is longer.
    let prefix: String?
    /// What the request asks of accounts: generation or counting.
    let lane: AccountLane
    /// Who sent it, as its row records them (for its journal record).
    let origin: (address: String?, userAgent: String?)
    /// The request's span, when tracing is on.
    let span: (any Span)?
    private let machine: Mutex<RelayMachine>
    private let held = Mutex(Held())

    /// What the exchange holds between steps: leases, and the pieces of an
    /// answer that the machine refers to.
    struct Held: Sendable {
        var keyLease: KeyLease?
        var accountLease: AccountLease?
        /// The candidate accounts, tier by tier, as admitted.
        var tiers: [RouteTier] = []
        /// How the request is carried to the current account when it speaks another format.
        var carrier: Carrier?
        /// The translator built once for the request, reused across attempts.
        var translator: Carrier?
        /// The upstream's whole answer, ready for the client.
        var body: GatewayResponse?
        /// The upstream's refusal of the client's request, ready for the client.
        var refusal: GatewayResponse?
        /// A stream that passed its first event, waiting to be relayed.
        var stream: PendingStream?
        /// The rate-limit headers of a successful answer.
        var headers: [(String, String)] = []
        /// The request is open in the journal (progress notes go there).
        var journaled = false
        /// When the current attempt went upstream, until its answer ended.
        var upstreamSince: ContinuousClock.Instant?
        /// Time spent on upstreams by the attempts that ended; nil before the first.
        var upstreamTime: Duration?
        /// The open attempt's span, when tracing is on.
        var attemptSpan: (any Span)?
        /// The open attempt's upstream status, once it answered.
        var attemptStatus: Int?
        /// What a captured stream sent the client (up to `capture.max_bytes`), and whether more went.
        var capturedStream: ByteBuffer?
        var capturedStreamCut = false
    }

    /// The `capture:` settings when this request's key is captured.
    var capture: CaptureSettings? {
        guard let capture = gateway.configuration.capture, capture.keys.contains(key.name) else { return nil }
        return capture
    }

    /// An attempt goes upstream now (a previous one still open ends here).
    func upstreamBegan(span: (any Span)?) {
        let now = ContinuousClock.now
        let previous = held.withLock {
            let previous = $0.closeUpstream(at: now)
            $0.upstreamSince = now
            $0.attemptSpan = span
            return previous
        }
        endAttemptSpan(previous.span, status: previous.status, failure: nil)
    }

    /// The current attempt's upstream answered with this status.
    func upstreamAnswered(status: Int) { held.withLock { $0.attemptStatus = status } }

    /// The current attempt's answer ended (read whole, failed, or its stream
    /// finished), with a fixed detail when it failed.
    func upstreamEnded(failure: String? = nil) {
        let now = ContinuousClock.now
        let closed = held.withLock { $0.closeUpstream(at: now) }
        endAttemptSpan(closed.span, status: closed.status, failure: failure)
    }

    init(gateway: Gateway, request: GatewayRequest, client: ClientRequest, key: KeyEntry, row: LedgerRow, lane: AccountLane, billable: Bool) {
        self.gateway = gateway
        self.request = request
        self.client = client
        self.key = key
        self.lane = lane
        self.origin = (row.clientAddress, row.userAgent)
        self.session = Gateway.sessionKey(request, client)
        self.poolSession = session.map { Gateway.poolSession($0, keyID: key.id) }
        self.prefix = Gateway.prefixKey(client, bytes: gateway.configuration.cachePrefixBytes)
        self.span = Self.requestSpan(request, model: client.model, tracer: gateway.configuration.tracer)
        let facts = RequestFacts(
            dialect: request.dialect, model: client.model, promptBytes: client.body.readableBytes, localAnswer: client.localAnswer)
        let prices = gateway.prices
        let counter = gateway
        gateway.ledger.opened()
        var row = row
        row.session = session
        let relay = RelayMachine(
            row: row, facts: facts, maxAttempts: 1 + max(0, gateway.configuration.maxFailovers),
            disconnect: gateway.configuration.onClientDisconnect, billable: billable,
            price: { usage, model, upstreamModel, provider in
                counter.price(usage, model: model, upstreamModel: upstreamModel, provider: provider, prices: prices)
            })
        machine = Mutex(relay)
    }

    deinit {
        // Dropped unfinished (the server never ran the response body): the
        // machine decides what that means, as for any client that left.
        let step = machine.withLock { $0.abandoned() }
        if case .finish(let finish) = step { settle(finish) }
    }

    /// Feeds the machine an event and returns what to do.
    func decide(_ event: (inout RelayMachine) -> RelayStep) -> RelayStep { machine.withLock { event(&$0) } }

    /// Whether the request settled.
    var isFinished: Bool { machine.withLock { $0.isFinished } }

    // MARK: running

    /// Where driving the machine stopped: the request settled, or a stream is
    /// ready to relay.
    enum Reached: Sendable {
        case finished(RelayFinish)
        case stream(PendingStream)
        /// The machine had settled already (a late event): nothing to answer.
        case settledBefore
        /// A stream must queue for a slot on a full account: its answer starts
        /// now, with keepalives while it waits (the caller does that wait).
        case mustWaitForAccount(AccountEntry)
    }

    /// Performs steps until the request settles or its stream starts. A stream
    /// whose answer has not begun (`headSent` false) stops before queueing for
    /// an account, so the wait can carry keepalives.
    func advance(_ first: RelayStep, headSent: Bool) async -> Reached {
        var step = first
        while true {
            switch step {
            case .none:
                return .settledBefore
            case .pick(let excluding, let releasing):
                if let releasing { releaseAccount(releasing) }
                step = pick(excluding: excluding)
            case .waitForAccount(let account) where !headSent && client.stream && Gateway.keepalive(request.dialect) != nil:
                return .mustWaitForAccount(account)
            case .waitForAccount(let account):
                step = await waitForAccount(account)
            case .send(let account, let upstreamModel):
                if let lease = held.withLock({ $0.accountLease }), let full = await gateway.holdSharedCaps(of: lease, requestID: request.requestID) {
                    step = decide { $0.fullElsewhere(full) }
                    continue
                }
                step = await send(to: account, upstreamModel: upstreamModel)
            case .startStream, .continueStream:
                guard let pending = held.withLock({ $0.stream.take() }) else {
                    step = decide { $0.clientGone() }
                    continue
                }
                return .stream(pending)
            case .drain:
                // Only a stream drains; one is never pending here.
                step = decide { $0.drainEnded(StreamProgress()) }
            case .finish(let finish):
                settle(finish)
                return .finished(finish)
            }
        }
    }

    /// Asks the pool tier by tier: a later tier only when no account of the earlier ones can take the request.
    private func pick(excluding: Set<Attempted>) -> RelayStep {
        let exhausted = machine.withLock { $0.exhaustedProviders }
        let tiers = held.withLock { $0.tiers }.map { tier in
            exhausted.isEmpty ? tier : RouteTier(model: tier.model, accounts: tier.accounts.filter { !exhausted.contains($0.provider) })
        }
        let now = gateway.clock.now()
        var passed: [AccountPool.Skipped] = []
        for tier in tiers {
            let tried = Set(excluding.filter { $0.model == tier.model }.map(\.account))
            switch gateway.pool.pick(from: tier.accounts, excluding: tried, session: poolSession, prefix: prefix, lane: lane) {
            case .lease(let lease, let skipped):
                held.withLock { $0.accountLease = lease }
                return decide { $0.picked(lease.account, model: tier.model, choice: lease.choice, skipped: passed + skipped, now: now) }
            case .none(let skipped):
                passed += skipped
            }
        }
        return decide { $0.noAccount(skipped: passed, now: now) }
    }

    func waitForAccount(_ account: AccountEntry) async -> RelayStep {
        guard let lease = await gateway.pool.waitForSlot(on: account, session: poolSession, lane: lane) else {
            if Task.isCancelled { return decide { $0.clientGone() } }
            return decide { $0.accountWaitFailed() }
        }
        held.withLock { $0.accountLease = lease }
        let model = held.withLock { $0.tiers }.first { $0.accounts.contains { $0.id == account.id } }?.model ?? client.model
        return decide { $0.picked(lease.account, model: model, choice: lease.choice, skipped: [], now: gateway.clock.now()) }
    }

    // MARK: settling

    /// Releases the current attempt's account lease with the machine's outcome.
    func releaseAccount(_ outcome: AttemptOutcome) {
        held.withLock { $0.accountLease.take() }?.finish(outcome)
    }

    /// Performs the machine's one settlement: the account lease back, the
    /// key's hold turned into the real charge, the row to the ledger.
    func settle(_ finish: RelayFinish) {
        if let release = finish.release { releaseAccount(release) }
        if let charge = finish.charge { held.withLock { $0.keyLease.take() }?.settle(cost: charge.cost, tokens: charge.tokens) }
        var row = finish.row
        let now = ContinuousClock.now
        row.latencyMs = request.receivedAt.duration(to: now).wholeMilliseconds
        let (upstreamMs, closed) = held.withLock { held in
            let closed = held.closeUpstream(at: now)
            return (held.upstreamTime.map { min($0.wholeMilliseconds, row.latencyMs) }, closed)
        }
        row.upstreamMs = upstreamMs
        if let capture { row.capture = sealedCapture(capture, answer: finish.answer) }
        if !row.priced, row.usage.total > 0 { gateway.countUnpriced(row.upstreamModel ?? row.model ?? "") }
        endAttemptSpan(closed.span, status: closed.status, failure: nil)
        endSpan(row)
        gateway.ledger.record(row)
    }

    /// The request's body and what the client got, as `capture:` keeps them.
    private func sealedCapture(_ capture: CaptureSettings, answer: RelayAnswer) -> SealedSecret? {
        let (response, streamed, cut) = held.withLock { held -> (ByteBuffer?, Bool, Bool) in
            if let stream = held.capturedStream { return (stream, true, held.capturedStreamCut) }
            let whole: GatewayResponse?
            switch answer {
            case .upstreamBody: whole = held.body
            case .upstreamRefusal: whole = held.refusal
            default: whole = nil
            }
            guard case .full(let body)? = whole?.body else { return (nil, false, false) }
            return (body, false, false)
        }
        return capture.sealed(request: client.body, response: response, streamed: streamed, responseCut: cut)
    }

    /// Holds the key's admission: the lease settles with the row.
    func holdKey(_ lease: KeyLease, tiers: [RouteTier], headers: [(String, String)]) {
        held.withLock {
            $0.keyLease = lease
            $0.tiers = tiers
            $0.headers = headers
        }
    }

    /// Takes or gives the exchange's held pieces.
    func withHeld<T>(_ body: (inout Held) -> T) -> T { held.withLock { body(&$0) } }

    // MARK: answering

    /// The client's response for a request that settled before any stream started.
    func response(for finish: RelayFinish) -> GatewayResponse {
        switch finish.answer {
        case .error(let error, let source):
            return gateway.errorResponse(resolve(error, source), dialect: request.dialect, requestID: request.requestID)
        case .upstreamBody:
            var response =
                held.withLock { $0.body.take() }
                ?? gateway.errorResponse(GatewayError(.internalError), dialect: request.dialect, requestID: request.requestID)
            response.headers += held.withLock { $0.headers }
            return response
        case .upstreamRefusal:
            return held.withLock { $0.refusal.take() }
                ?? gateway.errorResponse(GatewayError(.invalidRequest), dialect: request.dialect, requestID: request.requestID)
        case .local(let kind):
            return localAnswer(kind)
        case .streamEnd, .none:
            return gateway.errorResponse(GatewayError(.internalError), dialect: request.dialect, requestID: request.requestID)
        }
    }

    /// The same ending as stream bytes, for a response already under way
    /// (after keepalives): errors become the stream's opening error event.
    func streamBytes(for finish: RelayFinish) -> ByteBuffer? {
        switch finish.answer {
        case .error(let error, let source):
            return ErrorBody.streamEvent(resolve(error, source), dialect: request.dialect, requestID: request.requestID, opening: true)
        case .upstreamBody:
            guard case .full(let body)? = held.withLock({ $0.body.take() })?.body else { return nil }
            return body
        case .upstreamRefusal:
            guard case .full(let body)? = held.withLock({ $0.refusal.take() })?.body else { return nil }
            return ErrorBody.streamEvent(json: String(buffer: body), dialect: request.dialect, opening: true)
        case .local(let kind):
            return LocalAnswer.anthropicMessage(kind, model: client.model, id: "msg_local_" + request.requestID, stream: true)
        case .streamEnd(let error):
            return error.map { ErrorBody.streamEvent($0, dialect: request.dialect, requestID: request.requestID) }
        case .none:
            return nil
        }
    }

    /// The error with its `Retry-After` filled in where it comes from the pool.
    private func resolve(_ error: GatewayError, _ source: RetryAfterSource) -> GatewayError {
        guard case .soonestCooldown(let fallback) = source else { return error }
        var error = error
        let accounts = held.withLock { $0.tiers.allAccounts }
        if let soonest = gateway.pool.status(of: accounts).compactMap(\.cooldownUntil).min() {
            error.retryAfterSeconds = RetryAfter.seconds(until: soonest, now: gateway.clock.now())
        } else {
            error.retryAfterSeconds = fallback.map(RetryAfter.seconds) ?? 1
        }
        return error
    }

    /// Claude Code's warmup, title or topic request answered here.
    private func localAnswer(_ kind: LocalAnswer.Kind) -> GatewayResponse {
        let body = LocalAnswer.anthropicMessage(kind, model: client.model, id: "msg_local_" + request.requestID, stream: client.stream)
        if client.stream {
            return GatewayResponse(status: 200, headers: Self.streamHeaders, body: .stream({ write in try? await write(body) }))
        }
        return GatewayResponse(status: 200, headers: [("content-type", "application/json")], body: .full(body))
    }

    /// The head of every SSE answer.
    static let streamHeaders = [("content-type", "text/event-stream; charset=utf-8"), ("cache-control", "no-cache")]
}

extension Exchange.Held {
    /// Adds the open attempt's time so far, and closes it: its span and
    /// status go to the caller, which ends the span outside the lock.
    mutating func closeUpstream(at now: ContinuousClock.Instant) -> (span: (any Span)?, status: Int?) {
        guard let since = upstreamSince else { return (nil, nil) }
        upstreamTime = (upstreamTime ?? .zero) + since.duration(to: now)
        upstreamSince = nil
        defer { (attemptSpan, attemptStatus) = (nil, nil) }
        return (attemptSpan, attemptStatus)
    }
}
