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
    /// for a generation, so cooldowns and health apply.
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
        guard case .candidates(let listed) = snapshots.snapshot.accounts.select(model: client.model, dialect: dialect, translate: false) else {
            return refuse(GatewayError(.modelNotFound, param: "model"))
        }
        let accounts = listed.filter { key.policy.allows(provider: $0.provider) }
        guard !accounts.isEmpty else { return refuse(GatewayError(.providerNotAllowed)) }
        if case .quotaExhausted? = limiter.check(key, owner: snapshots.snapshot.owner(of: key)) {
            return refuse(GatewayError(.insufficientQuota))
        }
        let forwarded = request.headers.filter { UpstreamRequest.forwardableHeaders.contains($0.name) }
        var tried: Set<Int64> = []
        var last = GatewayError(.noUsableAccount)
        while tried.count <= configuration.maxFailovers, case .lease(let lease, _) = pool.pick(from: accounts, excluding: tried) {
            tried.insert(lease.account.id)
            let account = lease.account
            let outbound = UpstreamRequest(
                provider: account.provider, baseURL: account.baseURL, secret: account.secret ?? "", operation: request.operation,
                model: account.upstreamModel(for: client.model), body: client.upstreamBody(model: account.upstreamModel(for: client.model)), forwardedHeaders: forwarded)
            do {
                let response = try await transport.send(outbound)
                let body = try await response.body.collect(upTo: configuration.maxErrorBodyBytes)
                let failureClass = (200..<300).contains(response.status) ? nil : FailureClass.classify(status: response.status)
                if failureClass == nil || failureClass == .callerFault {
                    lease.finish(.notBlamed(tokens: 0))
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
