import Dialects
import Foundation
import NIOCore
import Policy
import Storage
import SwitchboardCore
import Upstream

extension Gateway {
    /// What one failed attempt left behind, to decide the final answer.
    struct AttemptFailure: Sendable {
        var failureClass: FailureClass
        var detail: String
        var retryAfter: Duration?
        var timedOut = false
    }

    /// What a successful attempt needs to finish the request.
    struct RelayContext: Sendable {
        var client: ClientRequest
        var request: GatewayRequest
        var lease: AccountLease
        var upstreamModel: String
        var settlement: Settlement
        /// How the request is carried to an account that speaks another dialect (nil: relayed as is).
        var carrier: Carrier?

        var account: AccountEntry { lease.account }
        /// The dialect the upstream answers in.
        var upstreamDialect: Dialect { carrier == nil ? client.dialect : Translator.upstreamDialect(of: account.provider) }
    }

    /// Headers in which clients name their session: Claude Code's, then Codex's.
    public static let sessionHeaders = ["x-claude-code-session-id", "session-id", "session_id"]

    /// The session a request belongs to: the client's own session header, else
    /// what the body says (see `ClientRequest.sessionHint`).
    static func sessionKey(_ request: GatewayRequest, _ client: ClientRequest) -> String? {
        // A stored response lives on the account that answered it: nothing else may decide.
        if let previous = client.previousResponseID { return "resp:" + previous.prefix(200) }
        for name in sessionHeaders {
            if let value = request.header(name), !value.isEmpty { return "h:" + value.prefix(200) }
        }
        return client.sessionHint
    }

    /// Takes accounts from the pool in its order and tries them until one
    /// answers; moves on only while nothing has reached the client, and never to
    /// an account this request already tried.
    func relay(_ client: ClientRequest, request: GatewayRequest, accounts: [AccountEntry], settlement: Settlement) async
        -> GatewayResponse
    {
        let forwarded = request.headers.filter { UpstreamRequest.forwardableHeaders.contains($0.name) }
        let session = Self.sessionKey(request, client)
        var tried: Set<Int64> = []
        var route = Route()
        var lastFailure: AttemptFailure?
        var lastSkipped: [AccountPool.Skipped] = []
        var waited = false
        var carrier: Carrier?
        attempts: while tried.count <= max(0, configuration.maxFailovers) {
            let lease: AccountLease
            switch pool.pick(from: accounts, excluding: tried, session: session) {
            case .lease(let granted, let skipped):
                route.note(skipped, now: pool.clock.now())
                lease = granted
            case .none(let skipped):
                lastSkipped = skipped
                // Everything is full: queue (once) for the first account that has
                // room in its queue, unless an attempt already failed.
                guard lastFailure == nil, !waited,
                    let queued = skipped.first(where: { $0.reason == .full(canWait: true) })
                else { break attempts }
                waited = true
                guard let granted = await pool.waitForSlot(on: queued.account, session: session) else {
                    if Task.isCancelled {
                        settlement.settle(status: 499, outcome: "client_disconnected", errorCode: "cancelled")
                        return errorResponse(GatewayError(.noUsableAccount), dialect: request.dialect, requestID: request.requestID)
                    }
                    continue attempts  // the wait ran out or the account changed: look again, once
                }
                route.note(skipped.filter { $0.account.id != queued.account.id }, now: pool.clock.now())
                lease = granted
            }
            tried.insert(lease.account.id)
            let account = lease.account
            if account.interceptWarmup, let kind = client.localAnswer {
                return interceptWarmup(kind, client, request: request, lease: lease, settlement: settlement, attempts: tried.count)
            }
            let upstreamModel = account.upstreamModel(for: client.model)
            let attempts = tried.count
            let routeText = route.text
            settlement.update {
                $0.accountID = account.id
                $0.accountName = account.name
                $0.provider = account.provider.rawValue
                $0.upstreamModel = upstreamModel
                $0.attempts = attempts
                $0.route = routeText
            }
            let outbound: UpstreamRequest
            var attemptCarrier: Carrier?
            if account.provider.speaks(client.dialect) {
                // Default instructions never reach Codex: it brings its own, and an extra
                // prompt would change its behaviour.
                let instructions = client.hasInstructions || request.isCodex ? nil : account.defaultInstructions
                outbound = UpstreamRequest(
                    provider: account.provider, baseURL: account.baseURL, secret: account.secret ?? "",
                    operation: request.operation, model: upstreamModel,
                    body: client.upstreamBody(model: upstreamModel, defaultInstructions: instructions), forwardedHeaders: forwarded)
            } else {
                do throws(GatewayError) {
                    let carried: Carrier
                    if let carrier { carried = carrier } else { carried = try Carrier(client, operation: request.operation) }
                    carrier = carried
                    attemptCarrier = carried
                    let (operation, body) = try carried.outbound(for: account.provider, model: upstreamModel, stream: client.stream)
                    outbound = UpstreamRequest(
                        provider: account.provider, baseURL: account.baseURL, secret: account.secret ?? "",
                        operation: operation, model: upstreamModel, body: body,
                        forwardedHeaders: forwarded.filter { $0.name == "user-agent" || account.provider == .anthropic })
                } catch {
                    // What the client asked cannot be carried: its mistake, not the account's.
                    lease.finish(.notBlamed(tokens: 0))
                    return fail(error, request: request, settlement: settlement, outcome: "client_error")
                }
            }
            let context = RelayContext(
                client: client, request: request, lease: lease, upstreamModel: upstreamModel, settlement: settlement,
                carrier: attemptCarrier)
            switch await attempt(outbound, context: context) {
            case .answered(let response):
                return response
            case .failed(let failure):
                if Task.isCancelled {
                    // The client left while waiting: not the account's failure, and no one to fail over for.
                    lease.finish(.notBlamed(tokens: 0))
                    settlement.settle(status: 499, outcome: "client_disconnected", errorCode: "cancelled")
                    return errorResponse(GatewayError(.upstreamUnavailable), dialect: request.dialect, requestID: request.requestID)
                }
                lease.finish(.failed(failure.failureClass, retryAfter: failure.retryAfter, detail: failure.detail))
                lastFailure = failure
                route.failed(account.name, failure.failureClass)
                logger.warning("upstream attempt failed", metadata: [
                    "request": "\(request.requestID)", "account": "\(account.name)",
                    "class": "\(failure.failureClass.rawValue)", "detail": "\(failure.detail)",
                ])
            }
        }
        let routeText = route.text
        settlement.update { $0.route = routeText }
        guard let lastFailure else { return refuse(skipped: lastSkipped, request: request, model: client.model, settlement: settlement) }
        var error = lastFailure.timedOut
            ? GatewayError(.upstreamTimeout)
            : GatewayError(lastFailure.failureClass.clientError)
        if lastFailure.failureClass == .rateLimited || lastFailure.failureClass == .overloaded {
            error.retryAfterSeconds = retryAfter(accounts, fallback: lastFailure.retryAfter)
        }
        return fail(error, request: request, settlement: settlement, outcome: "upstream_error")
    }

    /// Answers Claude Code's warmup, title and topic requests locally for an
    /// account that asks for it: a minimal valid message, no upstream request,
    /// recorded at zero cost.
    func interceptWarmup(
        _ kind: LocalAnswer.Kind, _ client: ClientRequest, request: GatewayRequest, lease: AccountLease, settlement: Settlement, attempts: Int
    ) -> GatewayResponse {
        lease.finish(.notBlamed(tokens: 0))
        settlement.settle(status: 200, outcome: kind.outcome) {
            $0.accountID = lease.account.id
            $0.accountName = lease.account.name
            $0.provider = lease.account.provider.rawValue
            $0.attempts = attempts
            $0.priced = true
        }
        let body = LocalAnswer.anthropicMessage(kind, model: client.model, id: "msg_local_" + request.requestID, stream: client.stream)
        if client.stream {
            return GatewayResponse(
                status: 200, headers: [("content-type", "text/event-stream; charset=utf-8"), ("cache-control", "no-cache")],
                body: .stream({ write in try? await write(body) }))
        }
        return GatewayResponse(status: 200, headers: [("content-type", "application/json")], body: .full(body))
    }

    /// The answer when no account could take the request at all: 429 with the
    /// soonest recovery when every one is only temporarily out, else 503.
    func refuse(skipped: [AccountPool.Skipped], request: GatewayRequest, model: String, settlement: Settlement) -> GatewayResponse {
        let now = pool.clock.now()
        logger.warning("no usable account", metadata: [
            "request": "\(request.requestID)", "model": "\(model)",
            "skipped": "\(skipped.map { "\($0.account.name)=\($0.reason.compact(now: now))" }.joined(separator: " "))",
        ])
        let temporary = skipped.filter(\.reason.isTemporary)
        guard !temporary.isEmpty else {
            return fail(GatewayError(.noUsableAccount), request: request, settlement: settlement, outcome: "no_account")
        }
        let cooling = temporary.allSatisfy { if case .coolingDown = $0.reason { return true } else { return false } }
        var error = GatewayError(cooling ? .accountsCoolingDown : .accountsAtCapacity)
        error.retryAfterSeconds = temporary.compactMap(\.reason.recovery).min().map { RetryAfter.seconds(until: $0, now: now) } ?? 1
        return fail(error, request: request, settlement: settlement, outcome: "no_account")
    }

    /// Seconds until the first of the accounts comes out of cooldown, for a
    /// client's `Retry-After`; the upstream's own hint when none is cooling.
    func retryAfter(_ accounts: [AccountEntry], fallback: Duration?) -> Int {
        if let soonest = pool.status(of: accounts).compactMap(\.cooldownUntil).min() {
            return RetryAfter.seconds(until: soonest, now: pool.clock.now())
        }
        return fallback.map(RetryAfter.seconds) ?? 1
    }

    /// The result of one attempt: an answer for the client, or a failure that
    /// left the client untouched (so another account may try).
    enum AttemptResult: Sendable {
        case answered(GatewayResponse)
        case failed(AttemptFailure)
    }

    /// Sends to one account and turns its answer into the client's response.
    func attempt(_ outbound: UpstreamRequest, context: RelayContext) async -> AttemptResult {
        let response: UpstreamResponse
        do {
            response = try await transport.send(outbound)
        } catch {
            return .failed(AttemptFailure(
                failureClass: FailureClass.classify(transport: error), detail: error.rawValue,
                timedOut: error == .firstByteTimeout || error == .idleTimeout))
        }
        guard (200..<300).contains(response.status) else { return await refused(response, context: context) }
        let contentType = response.header("content-type") ?? "application/json"
        if contentType.lowercased().hasPrefix("text/event-stream") {
            return await startStream(response, context: context)
        }
        let body: ByteBuffer
        do {
            body = try await response.body.collect(upTo: transport.configuration.maxResponseBytes)
        } catch {
            return .failed(AttemptFailure(failureClass: .transient, detail: error.rawValue, timedOut: error == .idleTimeout))
        }
        let (reported, answerID) = body.withUnsafeReadableBytes { UsageReader.answer($0, dialect: context.upstreamDialect) }
        let usage = reported ?? context.carrier?.estimatedUsage
        var answer = body
        if let carrier = context.carrier {
            guard let translated = carrier.clientBody(
                fromUpstream: body, provider: context.account.provider, usage: usage ?? .zero, requestID: context.request.requestID)
            else {
                return .failed(AttemptFailure(failureClass: .transient, detail: "upstream_answer_not_json"))
            }
            answer = translated
        }
        context.lease.finish(.served(tokens: usage?.total ?? 0))
        if context.client.dialect == .openAIResponses, context.carrier == nil { rememberAnswer(answerID, context: context) }
        settleAnswered(context, status: response.status, usage: usage ?? .zero, complete: reported != nil, firstByteMs: context.settlement.elapsedMs())
        return .answered(GatewayResponse(
            status: response.status, headers: [("content-type", context.carrier == nil ? contentType : "application/json")], body: .full(answer)))
    }

    /// Handles an upstream error status: the client's own mistakes go back to it
    /// (in its dialect already, and the account is not blamed); anything else is
    /// a failure another account may not have.
    func refused(_ response: UpstreamResponse, context: RelayContext) async -> AttemptResult {
        let errorBody = try? await response.body.collect(upTo: configuration.maxErrorBodyBytes)
        let hint = errorBody.map { String(buffer: $0.getSlice(at: $0.readerIndex, length: min(512, $0.readableBytes)) ?? ByteBuffer()) } ?? ""
        let failureClass = FailureClass.classify(status: response.status, bodyHint: hint)
        guard failureClass == .callerFault else {
            return .failed(AttemptFailure(
                failureClass: failureClass, detail: "upstream answered \(response.status)",
                retryAfter: RetryAfter.hint(from: response.headers, now: pool.clock.now())))
        }
        context.lease.finish(.notBlamed(tokens: 0))
        context.settlement.settle(status: response.status, outcome: "client_error", errorCode: "upstream_\(response.status)")
        if context.carrier != nil {
            return .answered(reworded(errorBody, status: response.status, dialect: context.client.dialect, requestID: context.request.requestID))
        }
        guard let errorBody else {
            // Too large or broken to pass on: say so in the client's own format.
            return .answered(errorResponse(
                GatewayError(.invalidRequest, message: "The upstream provider refused the request (status \(response.status))."),
                dialect: context.client.dialect, requestID: context.request.requestID))
        }
        return .answered(GatewayResponse(
            status: response.status, headers: [("content-type", response.header("content-type") ?? "application/json")],
            body: .full(errorBody)))
    }

    /// An upstream's refusal of a translated request, whose body is in the
    /// upstream's format, said in the client's with the upstream's status and message.
    func reworded(_ body: ByteBuffer?, status: Int, dialect: Dialect, requestID: String) -> GatewayResponse {
        let said = body.flatMap(Translator.upstreamMessage).map { ": " + $0 } ?? "."
        var answer = errorResponse(
            GatewayError(.invalidRequest, message: "The upstream provider refused the request (status \(status))" + said),
            dialect: dialect, requestID: requestID)
        answer.status = status
        return answer
    }

    /// Keeps a relayed Responses answer's id on its account, so a request that
    /// continues it (`previous_response_id`) goes where the response is stored.
    func rememberAnswer(_ id: String?, context: RelayContext) {
        guard let id, !id.isEmpty else { return }
        pool.remember(session: "resp:" + id.prefix(200), on: context.account.id)
    }

    /// Prices the usage and writes the row for a request an upstream answered.
    func settleAnswered(
        _ context: RelayContext, status: Int, usage: TokenUsage, complete: Bool, firstByteMs: Int64?,
        outcome: String = "ok", errorCode: String? = nil
    ) {
        let (cost, priced) = price(
            usage, model: context.client.model, upstreamModel: context.upstreamModel, provider: context.account.provider)
        context.settlement.settle(status: status, outcome: outcome, errorCode: errorCode) {
            $0.usage = usage
            $0.cost = cost
            $0.priced = priced
            $0.usageIncomplete = !complete
            $0.firstByteMs = firstByteMs
        }
    }
}

/// Why this account: the accounts a request passed over or failed on, in order,
/// for the ledger row and the request log.
struct Route {
    private var parts: [String] = []
    private var seen: Set<String> = []

    /// Notes skipped accounts (once each; tried ones are already noted as failed).
    mutating func note(_ skipped: [AccountPool.Skipped], now: Date) {
        for entry in skipped where entry.reason != .alreadyTried && seen.insert(entry.account.name).inserted {
            parts.append("\(entry.account.name)=\(entry.reason.compact(now: now))")
        }
    }

    /// Notes an account that was tried and failed.
    mutating func failed(_ name: String, _ failureClass: FailureClass) {
        seen.insert(name)
        parts.append("\(name)=failed(\(failureClass.rawValue))")
    }

    /// The compact form, nil when the first choice served.
    var text: String? { parts.isEmpty ? nil : parts.joined(separator: " ") }
}
