import Dialects
import Logging
import NIOCore
import Policy
import Storage
import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension Gateway {
    /// Output tokens assumed when a client sets no `max_tokens`, for the hold.
    static let defaultMaxOutputTokens: Int64 = 16_384

    /// What a key lets through: its lease (slot, window entry, hold) and the
    /// rate-limit headers for the answer.
    struct Admitted: Sendable {
        var lease: KeyLease
        var headers: [(String, String)]
    }

    /// The first step of admission: admitted at once, refused, or to wait in
    /// the key's queue for a slot.
    enum FirstAdmission: Sendable {
        case admitted(Admitted)
        case refused(GatewayError)
        case mustWait(KeyDemand)
    }

    /// The limiter's window, slot and budgets in one atomic step (429 / quota),
    /// holding what the request can cost at the dearest of `accounts` (a
    /// failover may land on any). Counting tokens holds no money, but takes a
    /// slot and a window entry like any request.
    func admitNow(
        _ key: KeyEntry, client: ClientRequest, request: GatewayRequest, tiers: [RouteTier], lane: AccountLane
    ) -> FirstAdmission {
        let owner = snapshots.snapshot.owner(of: key)?.pricing(client.model)
        var demand: KeyDemand
        if lane == .counting {
            // The smallest hold: refused only when a budget is already spent.
            demand = KeyDemand(hold: Money(picos: 1), tokens: 0)
        } else {
            // A translation may ask for more than the client wrote (a thinking budget on top of the cap).
            let holds = key.policy.meters || key.policy.tokenLimit != nil || owner?.meters == true
            let translator =
                holds && tiers.contains { $0.accounts.contains { !$0.provider.speaks(client.dialect) } } ? try? Translator(client) : nil
            demand =
                tiers.flatMap { tier in
                    tier.accounts.map { account in
                        let translatedCap = account.provider.speaks(client.dialect) ? nil : translator?.outputCap(for: account.provider)
                        return Self.demand(
                            for: client, model: tier.model, policy: key.policy, owner: owner, account: account, prices: prices,
                            translatedCap: translatedCap)
                    }
                }
                .max { $0.hold < $1.hold } ?? .nothing
            if let group = owner?.group { demand.hold = group.charge(demand.hold) }
        }
        demand.model = client.model
        let admission = limiter.decide(key, owner: owner, demand: demand)
        if limiter.mayQueue(key, owner: owner, after: admission) { return .mustWait(demand) }
        switch admitted(admission, key: key, request: request) {
        case .success(let admitted): return .admitted(admitted)
        case .failure(let error): return .refused(error)
        }
    }

    /// Waits in the key's queue for a slot, up to `key_wait_timeout`.
    func admitAfterWaiting(_ key: KeyEntry, demand: KeyDemand, request: GatewayRequest) async -> Result<Admitted, GatewayError> {
        let owner = snapshots.snapshot.owner(of: key)?.pricing(demand.model)
        let admission = await limiter.wait(key, owner: owner, demand: demand, timeout: configuration.keyWaitTimeout)
        switch admitted(admission, key: key, request: request) {
        case .success(let admitted): return await confirmShared(admitted, key: key, request: request)
        case .failure(let error): return .failure(error)
        }
    }

    /// With replicas on PostgreSQL, a request this replica admitted must also
    /// pass its key's shared counts (concurrency, balance, request window)
    /// and its user's balance:
    /// one conditional statement. A refusal gives the local lease back and
    /// answers as the local limiter would; a database that cannot be asked
    /// refuses (503 `store_unavailable`): a limited key is never served unchecked.
    /// A key with a queue (`max_waiting`) waits for a shared slot up to `key_wait_timeout`.
    /// How long a request waits for the shared database before it is refused (503 `store_unavailable`).
    static let sharedDeadline: Duration = .seconds(2)

    func confirmShared(_ admitted: Admitted, key: KeyEntry, request: GatewayRequest) async -> Result<Admitted, GatewayError> {
        let policy = key.policy
        let user = admitted.lease.owner?.user
        let userBalance = user.flatMap { user in user.balance.map { (id: user.id, name: user.name, balance: $0) } }
        guard let shared, let settlements = sharedSettlements else { return .success(admitted) }
        let meters = Self.sharedMeters(for: key, owner: admitted.lease.owner, demand: admitted.lease.demand, now: clock.now())
        guard policy.concurrency != nil || policy.balance != nil || policy.rateLimit?.requests != nil || userBalance != nil || !meters.isEmpty
        else { return .success(admitted) }
        var wanted = SharedDemand(
            requestID: request.requestID, keyID: key.id, concurrency: policy.concurrency, balance: policy.balance,
            hold: admitted.lease.demand.hold, windowRequests: policy.rateLimit?.requests,
            windowMilliseconds: Int64(policy.rateLimit?.windowMinutes ?? 1).saturatingMultiply(60_000))
        wanted.user = userBalance
        wanted.meters = meters
        // A usage reset of the window starts the shared request window again, as it does this replica's.
        if let reset = policy.usageReset, reset.parts.contains(.window) { wanted.windowFloor = reset.atMilliseconds }
        let demand = wanted
        let uses = meters.map(\.use)
        let userWaits = (admitted.lease.owner?.user.limits.maxWaiting ?? 0) > 0
        let deadline = ContinuousClock.now.advanced(by: configuration.keyWaitTimeout)
        let clock = self.clock
        // An admission that outlives its deadline (or fails, so whether it
        // committed is unknown) may still file a lease: once it is done, its
        // settlement takes any lease back.
        let (requestID, keyID) = (request.requestID, key.id)
        let ask = { @Sendable () async throws -> SharedVerdict in
            try await withDeadline(
                Self.sharedDeadline,
                abandoned: { attempt in
                    Task {
                        _ = await attempt.result
                        settlements.enqueue(requestID: requestID, keyID: keyID, cost: .zero)
                    }
                }
            ) { try await shared.admit(demand, now: clock.now()) }
        }
        do {
            var verdict = try await ask()
            // A slot just freed may not be settled in the database yet (settlements go in batches, off the
            // request path, from whichever replica served): a client's next request waits those milliseconds
            // (a few looks, more while this replica's own settlement of the key is on its way), not a 429.
            for look in 0..<50 where verdict == .concurrency && (look < 5 || settlements.isSettling(keyID)) && !Task.isCancelled {
                try await LoopTimer.sleep(for: .milliseconds(10))
                verdict = try await ask()
            }
            // A full set of slots that allows a queue: the shared slot is asked for again until the wait runs out.
            func mayWait(_ verdict: SharedVerdict) -> Bool {
                switch verdict {
                case .concurrency: return (policy.maxWaiting ?? 0) > 0
                case .meter(let meter, _): return meter.refusal == .userConcurrency && userWaits
                default: return false
                }
            }
            while mayWait(verdict), ContinuousClock.now < deadline, !Task.isCancelled {
                try await LoopTimer.sleep(for: .milliseconds(20))
                verdict = try await ask()
            }
            let refusal: GatewayError
            switch verdict {
            case .admitted:
                let userID = userBalance?.id
                admitted.lease.whenSettled { cost, tokens in
                    settlements.enqueue(requestID: requestID, keyID: keyID, userID: userID, cost: cost, tokens: tokens, meters: uses)
                }
                return .success(admitted)
            case .meter(let meter, let oldest):
                var refused = meter.refusal
                if case .rateLimited(_, let what) = refused {
                    // Room comes when the window's oldest entry leaves it.
                    let now = clock.now()
                    let until = oldest.map { $0.addingTimeInterval(Double(meter.windowMilliseconds) / 1000) } ?? now.addingTimeInterval(1)
                    refused = .rateLimited(until: max(until, now), what: what)
                }
                refusal = Self.error(for: refused, now: clock.now())
            case .concurrency:
                refusal = GatewayError(.keyConcurrencyLimited, retryAfterSeconds: 1)
            case .balance:
                refusal = GatewayError(.insufficientQuota, message: "This key's balance cannot cover this request. Top it up or raise the limit.")
            case .userBalance:
                refusal = GatewayError(
                    .insufficientQuota, message: "The key owner's balance cannot cover this request. Top it up or raise the limit.")
            case .rateLimited(let until):
                refusal = GatewayError(
                    .keyRateLimited, message: "This key's rate limit on requests is reached. Retry after the time given.",
                    retryAfterSeconds: RetryAfter.seconds(until: until, now: clock.now()))
            }
            admitted.lease.settle(cost: .zero, tokens: 0)
            return .failure(refusal)
        } catch {
            admitted.lease.settle(cost: .zero, tokens: 0)
            if !(error is DeadlineExceeded) { settlements.enqueue(requestID: requestID, keyID: keyID, cost: .zero) }
            logger.warning("shared key limits could not be checked", metadata: ["error": "\(error)"])
            return .failure(GatewayError(.storeUnavailable, retryAfterSeconds: 1))
        }
    }

    /// Turns the limiter's answer into the lease or the client's error.
    private func admitted(_ admission: KeyLimiter.Admission, key: KeyEntry, request: GatewayRequest) -> Result<Admitted, GatewayError> {
        switch admission {
        case .admitted(let lease):
            return .success(Admitted(lease: lease, headers: rateLimitHeaders(key, dialect: request.dialect)))
        case .refused(let refusal):
            return .failure(Self.error(for: refusal, now: limiter.clock.now()))
        }
    }

    /// The client's error for a key's refusal, whichever limiter (this
    /// replica's or the shared one) made it.
    static func error(for refusal: KeyRefusal, now: Date) -> GatewayError {
        switch refusal {
        case .rateLimited(let until, let what):
            var error = GatewayError(.keyRateLimited, message: "This key's rate limit on \(what) is reached. Retry after the time given.")
            error.retryAfterSeconds = RetryAfter.seconds(until: until, now: now)
            return error
        case .concurrency:
            return GatewayError(.keyConcurrencyLimited, retryAfterSeconds: 1)
        case .userConcurrency:
            return GatewayError(
                .keyConcurrencyLimited, message: "The key owner has as many requests in flight as it may. Retry shortly.", retryAfterSeconds: 1)
        case .modelBudget(let refusal):
            let whose = refusal.owner == "user" ? "The key owner's" : "This key's"
            return GatewayError(
                .insufficientQuota,
                message:
                    "\(whose) \(refusal.period) budget for \(refusal.pattern) models cannot cover this request. Wait for the next period or raise the limit."
            )
        case .quotaExhausted(let which):
            let what =
                [
                    "balance": "This key's balance", "daily_cost": "This key's daily cost limit", "token_limit": "This key's token limit",
                    "weekly_cost": "This key's weekly cost limit", "monthly_cost": "This key's monthly cost limit",
                    "user_balance": "The key owner's balance", "subscription_daily": "The subscription's daily limit",
                    "subscription_weekly": "The subscription's weekly limit", "subscription_monthly": "The subscription's monthly limit",
                    "budget": "This key's budget",
                ][which] ?? "A budget"
            return GatewayError(.insufficientQuota, message: "\(what) cannot cover this request. Top it up or raise the limit.")
        }
    }

    /// The most a request can cost and use, held until it settles: the prompt
    /// estimated high (a token per three bytes of body, at the dearest input
    /// rate) plus the output cap at the output price (the largest cap the
    /// request or its translation carries, else the model's ceiling), times the
    /// answers asked for. Nothing is held for keys that meter neither money nor tokens.
    static func demand(
        for client: ClientRequest, model: String? = nil, policy: KeyPolicy, owner: Owner?, account: AccountEntry, prices: PriceTable,
        translatedCap: Int64? = nil
    ) -> KeyDemand {
        guard policy.meters || policy.tokenLimit != nil || owner?.meters == true else { return .nothing }
        let input = Int64((client.body.readableBytes + 2) / 3)
        let model = model ?? client.model
        let upstreamModel = account.upstreamModel(for: model)
        let price = prices.price(for: upstreamModel, provider: account.provider) ?? prices.price(for: model, provider: account.provider)
        // Every answer asked for (n, candidateCount) may run to the cap; without
        // one, to the model's own ceiling.
        let cap = max(client.maxTokens ?? 0, translatedCap ?? 0)
        let output = (cap > 0 ? cap : price?.maxOutputTokens ?? defaultMaxOutputTokens).saturatingMultiply(client.choices)
        guard let price else { return KeyDemand(hold: .zero, tokens: input.saturatingAdd(output)) }
        let dearestInput =
            [
                TokenUsage(inputUncached: input), TokenUsage(cacheWrite5m: input), TokenUsage(cacheWrite1h: input),
            ].map { price.cost($0) }.max() ?? .zero
        let outputCost = price.cost(TokenUsage(inputUncached: input, output: output)) - price.cost(TokenUsage(inputUncached: input))
        return KeyDemand(hold: dearestInput + outputCost, tokens: input.saturatingAdd(output))
    }

    /// `x-ratelimit-*` (OpenAI routes) or `anthropic-ratelimit-*` (Anthropic
    /// routes) for a key with a rate window, as of its admission.
    func rateLimitHeaders(_ key: KeyEntry, dialect: Dialect) -> [(String, String)] {
        guard let rate = key.policy.rateLimit else { return [] }
        let usage = limiter.usage(of: key)
        let now = limiter.clock.now()
        let reset = now.addingTimeInterval(TimeInterval(usage.windowResetSeconds))
        var headers: [(String, String)] = []
        func add(_ kind: String, limit: Int64, remaining: Int64) {
            switch dialect {
            case .gemini:
                break  // Gemini has no rate-limit headers of its own
            case .openAIChat, .openAIResponses:
                headers += [
                    ("x-ratelimit-limit-\(kind)", String(limit)), ("x-ratelimit-remaining-\(kind)", String(max(0, remaining))),
                    ("x-ratelimit-reset-\(kind)", "\(usage.windowResetSeconds)s"),
                ]
            case .anthropicMessages:
                headers += [
                    ("anthropic-ratelimit-\(kind)-limit", String(limit)),
                    ("anthropic-ratelimit-\(kind)-remaining", String(max(0, remaining))),
                    ("anthropic-ratelimit-\(kind)-reset", Self.rfc3339(reset)),
                ]
            }
        }
        if let requests = rate.requests { add("requests", limit: Int64(requests), remaining: Int64(requests - usage.windowRequests)) }
        if let tokens = rate.tokens { add("tokens", limit: tokens, remaining: tokens - usage.windowTokens) }
        return headers
    }

    static func rfc3339(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: false))
    }
}
