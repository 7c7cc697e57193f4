import Dialects
import Foundation
import NIOCore
import Policy
import SwitchboardCore
import Upstream

extension Gateway {
    /// `POST /v1/messages/count_tokens` and Gemini's `:countTokens`: the key must be valid, allowed the model
    /// and not out of budget; no key slot is taken and no ledger row is written
    /// (counting costs nothing upstream). Accounts are chosen and failed over as
    /// for a generation, so cooldowns and health apply. A model served in another
    /// format is counted by that provider's own endpoint (Anthropic, Gemini), or
    /// estimated where there is none (OpenAI-compatible: one token per four bytes
    /// of the prompt, marked `x-switchboard-token-count: estimate`).
    public func countTokens(_ request: GatewayRequest) async -> GatewayResponse {
        let dialect = request.dialect
        func refuse(_ error: GatewayError) -> GatewayResponse { errorResponse(error, dialect: dialect, requestID: request.requestID) }
        guard let key = authenticate(request.credential) else { return refuse(GatewayError(.unauthorized)) }
        let client: ClientRequest
        do {
            client = try request.inspect(try await readBody(request.body))
        } catch {
            return refuse(error)
        }
        guard key.policy.allows(userAgent: request.header("user-agent")) else { return refuse(GatewayError(.clientNotAllowed)) }
        guard key.policy.allows(model: client.model) else { return refuse(GatewayError(.modelNotAllowed, param: "model")) }
        guard case .candidates(let listed) = snapshots.snapshot.accounts.select(model: client.model, dialect: dialect, translate: true) else {
            return refuse(GatewayError(.modelNotFound, param: "model"))
        }
        let accounts = listed.filter { key.policy.allows(provider: $0.provider) }
        guard !accounts.isEmpty else { return refuse(GatewayError(.providerNotAllowed)) }
        if case .quotaExhausted? = limiter.check(key, owner: snapshots.snapshot.owner(of: key)) {
            return refuse(GatewayError(.insufficientQuota))
        }
        let forwarded = request.headers.filter { UpstreamRequest.forwardableHeaders.contains($0.name) }
        var translator: Translator?
        var tried: Set<Int64> = []
        var last = GatewayError(.noUsableAccount)
        while tried.count <= configuration.maxFailovers, case .lease(let lease, _) = pool.pick(from: accounts, excluding: tried) {
            tried.insert(lease.account.id)
            let account = lease.account
            let upstreamModel = account.upstreamModel(for: client.model)
            let outbound: UpstreamRequest
            // This attempt's translator: a native account after a translated one answers as it is.
            var attemptTranslator: Translator?
            if account.provider.speaks(dialect) {
                outbound = UpstreamRequest(
                    provider: account.provider, baseURL: account.baseURL, secret: account.secret ?? "", operation: request.operation,
                    model: upstreamModel, body: client.upstreamBody(model: upstreamModel), forwardedHeaders: forwarded)
            } else {
                // Another format: count with the provider's own endpoint, or estimate where it has none.
                let carried: Translator
                let body: ByteBuffer?
                do {
                    if let translator { carried = translator } else { carried = try Translator(counting: client) }
                    translator = carried
                    attemptTranslator = carried
                    body = try carried.countBody(for: account.provider, model: upstreamModel)
                } catch {
                    lease.finish(.notBlamed(tokens: 0))
                    return refuse(error)
                }
                guard let body else {
                    lease.finish(.notBlamed(tokens: 0))
                    return GatewayResponse(
                        status: 200, headers: [("content-type", "application/json"), ("x-switchboard-token-count", "estimate")],
                        body: .full(carried.countAnswer(carried.estimatedTokens())))
                }
                outbound = UpstreamRequest(
                    provider: account.provider, baseURL: account.baseURL, secret: account.secret ?? "",
                    operation: account.provider == .anthropic ? .anthropicCountTokens : .geminiCountTokens, model: upstreamModel,
                    body: body, forwardedHeaders: forwarded.filter { $0.name == "user-agent" })
            }
            do {
                let response = try await transport.send(outbound)
                let body = try await response.body.collect(upTo: configuration.maxErrorBodyBytes)
                let failureClass = (200..<300).contains(response.status) ? nil : FailureClass.classify(status: response.status)
                if failureClass == nil || failureClass == .callerFault {
                    lease.finish(.notBlamed(tokens: 0))
                    if let translator = attemptTranslator {
                        guard failureClass == nil, let tokens = Translator.countedTokens(body) else {
                            // A refusal in the upstream's format, or a 2xx without a count (then: 400).
                            return reworded(body, status: failureClass == nil ? 400 : response.status, dialect: dialect, requestID: request.requestID)
                        }
                        return GatewayResponse(status: 200, headers: [("content-type", "application/json")], body: .full(translator.countAnswer(tokens)))
                    }
                    return GatewayResponse(
                        status: response.status, headers: [("content-type", response.header("content-type") ?? "application/json")],
                        body: .full(body))
                }
                lease.finish(.failed(failureClass!, retryAfter: RetryAfter.hint(from: response.headers), detail: "upstream answered \(response.status)"))
                last = GatewayError(failureClass!.clientError)
            } catch {
                lease.finish(.failed(.transient, retryAfter: nil, detail: error.rawValue))
                last = GatewayError(.upstreamUnavailable)
            }
        }
        return refuse(last)
    }
}
