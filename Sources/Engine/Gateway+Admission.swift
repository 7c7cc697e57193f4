import Dialects
import Foundation
import Policy
import SwitchboardCore

extension Gateway {
    /// Output tokens assumed when a client sets no `max_tokens`, for the hold.
    static let defaultMaxOutputTokens: Int64 = 16_384

    /// What a key lets through, after its allow-lists and its limiter: the
    /// accounts it may use and the rate-limit headers for the answer.
    struct Admitted {
        var accounts: [AccountEntry]
        var headers: [(String, String)]
    }

    /// The first step of admission: allowed, and admitted at once, refused, or
    /// to wait in the key's queue.
    enum FirstAdmission {
        case admitted(Admitted)
        case refused(GatewayError)
        case mustWait(KeyDemand, accounts: [AccountEntry])
    }

    /// Admission in the documented order: client, provider and model (403), then
    /// the limiter's window, slot and budgets in one atomic step (429 / quota).
    /// The slot and holds are tied to the request's row and settle with it.
    func admitNow(
        _ key: KeyEntry, client: ClientRequest, request: GatewayRequest, accounts: [AccountEntry], settlement: Settlement
    ) -> FirstAdmission {
        let usable = accounts.filter { key.policy.allows(provider: $0.provider) }
        guard !usable.isEmpty else { return .refused(GatewayError(.providerNotAllowed)) }
        let owner = snapshots.snapshot.owner(of: key)
        if let owner { settlement.update { $0.userName = owner.user.name } }
        // Failover may land on any of them: hold the dearest.
        var demand = usable.map { Self.demand(for: client, policy: key.policy, owner: owner, account: $0, prices: prices) }
            .max { $0.holdPicos < $1.holdPicos } ?? KeyDemand(holdPicos: 0, holdTokens: 0)
        if let group = owner?.group { demand.holdPicos = group.charge(demand.holdPicos) }
        let admission = limiter.decide(key, owner: owner, demand: demand)
        if limiter.mayQueue(key, after: admission) { return .mustWait(demand, accounts: usable) }
        switch admitted(admission, key: key, request: request, accounts: usable, settlement: settlement) {
        case .success(let admitted): return .admitted(admitted)
        case .failure(let error): return .refused(error)
        }
    }

    /// Waits in the key's queue for a slot, up to `key_wait_timeout`.
    func admitAfterWaiting(
        _ key: KeyEntry, demand: KeyDemand, request: GatewayRequest, accounts: [AccountEntry], settlement: Settlement
    ) async -> Result<Admitted, GatewayError> {
        let admission = await limiter.wait(
            key, owner: snapshots.snapshot.owner(of: key), demand: demand, timeout: configuration.keyWaitTimeout)
        return admitted(admission, key: key, request: request, accounts: accounts, settlement: settlement)
    }

    /// Turns the limiter's answer into the accounts to use or the client's error.
    private func admitted(
        _ admission: KeyLimiter.Admission, key: KeyEntry, request: GatewayRequest, accounts: [AccountEntry], settlement: Settlement
    ) -> Result<Admitted, GatewayError> {
        switch admission {
        case .admitted(let lease):
            settlement.attach(lease)
            return .success(Admitted(accounts: accounts, headers: rateLimitHeaders(key, dialect: request.dialect)))
        case .refused(.rateLimited(let until, let what)):
            var error = GatewayError(.keyRateLimited, message: "This key's rate limit on \(what) is reached. Retry after the time given.")
            error.retryAfterSeconds = RetryAfter.seconds(until: until, now: limiter.clock.now())
            return .failure(error)
        case .refused(.concurrency):
            return .failure(GatewayError(.keyConcurrencyLimited, retryAfterSeconds: 1))
        case .refused(.quotaExhausted(let which)):
            let what = [
                "balance": "This key's balance", "daily_cost": "This key's daily cost limit", "token_limit": "This key's token limit",
                "user_balance": "The key owner's balance", "subscription_daily": "The subscription's daily limit",
                "subscription_weekly": "The subscription's weekly limit", "subscription_monthly": "The subscription's monthly limit",
            ][which] ?? "A budget"
            return .failure(GatewayError(.insufficientQuota, message: "\(what) cannot cover this request. Top it up or raise the limit."))
        }
    }

    /// The most a request can cost and use, held until it settles: the prompt
    /// estimated high (a token per three bytes of body, at the dearest input
    /// rate) plus `max_tokens` at the output price. Nothing is held for keys that
    /// meter neither money nor tokens.
    static func demand(
        for client: ClientRequest, policy: KeyPolicy, owner: Owner?, account: AccountEntry, prices: PriceTable
    ) -> KeyDemand {
        guard policy.meters || policy.tokenLimit != nil || owner?.meters == true else { return KeyDemand(holdPicos: 0, holdTokens: 0) }
        let input = Int64((client.body.readableBytes + 2) / 3)
        let output = client.maxTokens ?? defaultMaxOutputTokens
        let upstreamModel = account.upstreamModel(for: client.model)
        guard let price = prices.price(for: upstreamModel, provider: account.provider) ?? prices.price(for: client.model, provider: account.provider)
        else { return KeyDemand(holdPicos: 0, holdTokens: input + output) }
        let dearestInput = [
            TokenUsage(inputUncached: input), TokenUsage(cacheWrite5m: input), TokenUsage(cacheWrite1h: input),
        ].map { price.cost($0).picos }.max() ?? 0
        let outputCost = price.cost(TokenUsage(inputUncached: input, output: output)).picos - price.cost(TokenUsage(inputUncached: input)).picos
        return KeyDemand(holdPicos: dearestInput + outputCost, holdTokens: input + output)
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
