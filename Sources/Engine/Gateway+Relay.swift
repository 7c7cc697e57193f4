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
        var retryAfterSeconds: Int?
        var timedOut = false
    }

    /// What a successful attempt needs to finish the request.
    struct RelayContext: Sendable {
        var client: ClientRequest
        var request: GatewayRequest
        var account: AccountEntry
        var upstreamModel: String
        var settlement: Settlement
    }

    /// Tries the candidates in order until one answers; moves on only while
    /// nothing has reached the client.
    func relay(_ client: ClientRequest, request: GatewayRequest, accounts: [AccountEntry], settlement: Settlement) async
        -> GatewayResponse
    {
        let forwarded = request.headers.filter { UpstreamRequest.forwardableHeaders.contains($0.name) }
        var lastFailure = AttemptFailure(failureClass: .transient, detail: "no_attempt")
        var attempts = 0
        for account in accounts.prefix(1 + max(0, configuration.maxFailovers)) {
            attempts += 1
            let upstreamModel = account.upstreamModel(for: client.model)
            settlement.update {
                $0.accountID = account.id
                $0.accountName = account.name
                $0.provider = account.provider.rawValue
                $0.upstreamModel = upstreamModel
                $0.attempts = attempts
            }
            let outbound = UpstreamRequest(
                provider: account.provider, baseURL: account.baseURL, secret: account.secret ?? "",
                operation: client.dialect == .openAIChat ? .openAIChat : .anthropicMessages,
                body: client.upstreamBody(model: upstreamModel), forwardedHeaders: forwarded)
            let context = RelayContext(
                client: client, request: request, account: account, upstreamModel: upstreamModel, settlement: settlement)
            switch await attempt(outbound, context: context) {
            case .answered(let response):
                return response
            case .failed(let failure):
                lastFailure = failure
                logger.warning("upstream attempt failed", metadata: [
                    "request": "\(request.requestID)", "account": "\(account.name)",
                    "class": "\(failure.failureClass.rawValue)", "detail": "\(failure.detail)",
                ])
            }
        }
        let error = lastFailure.timedOut
            ? GatewayError(.upstreamTimeout)
            : GatewayError(lastFailure.failureClass.clientError, retryAfterSeconds: lastFailure.retryAfterSeconds)
        return fail(error, request: request, settlement: settlement, outcome: "upstream_error")
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
        let usage = body.withUnsafeReadableBytes { UsageReader.fromResponseBody($0, dialect: context.client.dialect) }
        settleAnswered(context, status: response.status, usage: usage ?? .zero, complete: usage != nil, firstByteMs: context.settlement.elapsedMs())
        return .answered(GatewayResponse(status: response.status, headers: [("content-type", contentType)], body: .full(body)))
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
                failureClass: failureClass, detail: "status_\(response.status)",
                retryAfterSeconds: RetryAfter.seconds(from: response.headers)))
        }
        context.settlement.settle(status: response.status, outcome: "client_error", errorCode: "upstream_\(response.status)")
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
