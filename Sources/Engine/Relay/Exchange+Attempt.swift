import Dialects
import NIOCore
import Policy
import SwitchboardCore
import Upstream

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension Exchange {
    /// One attempt on one account: build the upstream request, send it, and
    /// tell the machine how the answer began.
    func send(to account: AccountEntry, upstreamModel: String) async -> RelayStep {
        var outbound: UpstreamRequest
        do {
            guard let built = try outboundRequest(for: account, upstreamModel: upstreamModel) else {
                // Counting for a provider without a counting endpoint: estimated here, and marked so.
                let estimate = withHeld { $0.carrier?.estimatedCount } ?? ByteBuffer(string: "{}")
                withHeld {
                    $0.body = GatewayResponse(
                        status: 200, headers: [("content-type", "application/json"), ("x-switchboard-token-count", "estimate")],
                        body: .full(estimate))
                }
                return decide { $0.answered(status: 200, reported: nil, estimated: .zero) }
            }
            outbound = built
            outbound.eventLoop = request.eventLoop
        } catch {
            // What the client asked cannot be carried to this account: its mistake, unless
            // this was a failover to another format, where the earlier failure stands.
            return decide { $0.cannotCarry(error) }
        }
        let response: UpstreamResponse
        upstreamBegan(span: attemptSpan(account, upstreamModel: upstreamModel, outbound: &outbound))
        do {
            response = try await gateway.transport.send(outbound)
        } catch .outOfDescriptors {
            gateway.outOfDescriptors.note(logger: gateway.logger, now: gateway.clock.now())
            return decide { $0.gatewayExhausted() }
        } catch {
            return failed(
                AttemptFailure(
                    failureClass: FailureClass.classify(transport: error), detail: error.rawValue,
                    timedOut: error == .firstByteTimeout || error == .idleTimeout))
        }
        upstreamAnswered(status: response.status)
        guard (200..<300).contains(response.status) else {
            defer { upstreamEnded() }
            return await refused(response, account: account)
        }
        if lane == .counting {
            defer { upstreamEnded() }
            return await counted(response, account: account)
        }
        let contentType = response.header("content-type") ?? "application/json"
        // An event stream is relayed and metered as one, whatever the client asked.
        if contentType.hasPrefixIgnoringASCIICase("text/event-stream") { return await peekStream(response, account: account) }
        let body: ByteBuffer
        do {
            body = try await response.collect(upTo: gateway.transport.settings.maxResponseBytes)
            upstreamEnded()
        } catch {
            return failed(AttemptFailure(failureClass: .transient, detail: error.rawValue, timedOut: error == .idleTimeout))
        }
        let carrier = withHeld { $0.carrier }
        let upstreamDialect = carrier == nil ? client.dialect : Translator.upstreamDialect(of: account.provider)
        let (reported, answerID) = body.withUnsafeReadableBytes { UsageReader.answer($0, dialect: upstreamDialect) }
        // Only an answer without a usage report needs an estimate (scanning its text costs on every request).
        let promptBytes = client.body.readableBytes
        func estimated() -> TokenUsage {
            carrier?.estimatedUsage
                ?? UsageEstimate.merge(
                    reported: nil, promptBytes: promptBytes,
                    outputTextBytes: body.withUnsafeReadableBytes { DeliveredText.count($0, dialect: upstreamDialect) })
        }
        var answer = body
        if let carrier {
            guard
                let translated = carrier.clientBody(
                    fromUpstream: body, provider: account.provider, usage: reported ?? estimated(), requestID: request.requestID)
            else { return failed(AttemptFailure(failureClass: .transient, detail: "upstream_answer_not_json")) }
            answer = translated
        }
        if client.dialect == .openAIResponses, carrier == nil { gateway.rememberAnswer(answerID, account: account, keyID: key.id) }
        withHeld {
            $0.body = GatewayResponse(
                status: response.status, headers: [("content-type", carrier == nil ? contentType : "application/json")], body: .full(answer))
        }
        return decide { $0.answered(status: response.status, reported: reported, estimated: estimated()) }
    }

    /// A failed attempt, unless the client left meanwhile (then nobody is left
    /// to fail over for, and the account is not to blame).
    func failed(_ failure: AttemptFailure) -> RelayStep {
        upstreamEnded(failure: failure.detail)
        if Task.isCancelled { return decide { $0.clientGone() } }
        gateway.logAttemptFailure(failure, request: request, account: withHeld { $0.accountLease?.account.name } ?? "")
        return decide { $0.attemptFailed(failure) }
    }

    /// The request as this account takes it: as the client wrote it for an
    /// account of its own format, translated for another; nil when counting
    /// tokens for a provider that has no counting endpoint.
    func outboundRequest(for account: AccountEntry, upstreamModel: String) throws(GatewayError) -> UpstreamRequest? {
        guard var outbound = try clientOrTranslated(for: account, upstreamModel: upstreamModel) else { return nil }
        // The account's own headers and body fields (`headers`, `body_overrides`) go on last.
        if !account.headers.isEmpty {
            outbound.forwardedHeaders.removeAll { account.headers[$0.name] != nil }
            outbound.forwardedHeaders += account.headers.sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) }
        }
        if !account.bodyOverrides.isEmpty, lane != .counting, outbound.operation != .listModels {
            outbound.body = BodyOverrides.apply(account.bodyOverrides.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, to: outbound.body)
        }
        return outbound
    }

    /// The request as the client wrote it (this account's format) or translated, before the account's own additions.
    private func clientOrTranslated(for account: AccountEntry, upstreamModel: String) throws(GatewayError) -> UpstreamRequest? {
        let forwarded = request.headers.filter { UpstreamRequest.forwardableHeaders.contains($0.name) }
        withHeld { $0.carrier = nil }
        if account.provider.speaks(client.dialect) {
            // Default instructions never reach Codex: it brings its own, and an extra
            // prompt would change its behaviour.
            let instructions = client.hasInstructions || request.isCodex || lane == .counting ? nil : account.defaultInstructions
            return account.upstreamRequest(
                request.operation, model: upstreamModel, body: client.upstreamBody(model: upstreamModel, defaultInstructions: instructions),
                forwardedHeaders: forwarded)
        }
        let carrier: Carrier
        if let built = withHeld({ $0.translator }) {
            carrier = built
        } else {
            carrier = try Carrier(client, operation: request.operation)
            withHeld { $0.translator = carrier }
        }
        withHeld { $0.carrier = carrier }
        let headers = forwarded.filter { $0.name == "user-agent" || account.provider == .anthropic }
        if lane == .counting {
            guard let (operation, body) = try carrier.countRequest(for: account.provider, model: upstreamModel) else { return nil }
            return account.upstreamRequest(operation, model: upstreamModel, body: body, forwardedHeaders: headers.filter { $0.name == "user-agent" })
        }
        let (operation, body) = try carrier.outbound(for: account.provider, model: upstreamModel, stream: client.stream)
        return account.upstreamRequest(operation, model: upstreamModel, body: body, forwardedHeaders: headers)
    }

    /// An upstream error status: the client's own mistakes go back to it (in its
    /// format, the account not blamed); anything else is a failure another
    /// account may not have.
    private func refused(_ response: UpstreamResponse, account: AccountEntry) async -> RelayStep {
        let errorBody = try? await response.collect(upTo: gateway.configuration.maxErrorBodyBytes)
        let hint = errorBody.map { String(buffer: $0.getSlice(at: $0.readerIndex, length: min(512, $0.readableBytes)) ?? ByteBuffer()) } ?? ""
        if gateway.configuration.sessionQuarantine != .off,
            let signal = BanSignal.detect(
                status: response.status, body: errorBody.map { String(buffer: $0) } ?? "", patterns: account.options.banPatterns ?? [],
                request: String(buffer: client.body))
        {
            return await banned(signal: signal, account: account)
        }
        let failureClass = FailureClass.classify(status: response.status, bodyHint: hint)
        guard failureClass == .callerFault else {
            return failed(
                AttemptFailure(
                    failureClass: failureClass, detail: "upstream answered \(response.status)",
                    retryAfter: RetryAfter.hint(from: response.headers, now: gateway.clock.now())))
        }
        let answer: GatewayResponse
        if withHeld({ $0.carrier }) != nil {
            answer = gateway.reworded(errorBody, status: response.status, dialect: client.dialect, requestID: request.requestID)
        } else if let errorBody {
            answer = GatewayResponse(
                status: response.status, headers: [("content-type", response.header("content-type") ?? "application/json")],
                body: .full(errorBody))
        } else {
            // Too large or broken to pass on: say so in the client's own format.
            var reworded = gateway.errorResponse(
                GatewayError(.invalidRequest, message: "The upstream provider refused the request (status \(response.status))."),
                dialect: client.dialect, requestID: request.requestID)
            reworded.status = response.status
            answer = reworded
        }
        withHeld { $0.refusal = answer }
        return decide { $0.callerFault(status: response.status) }
    }

    /// The upstream flagged the account itself (suspended, disabled, a policy
    /// ban): the request is not moved to another account, the session (or the
    /// key, as `session_quarantine` says) is quarantined so later requests are
    /// refused rather than moved, and the account is marked unhealthy.
    private func banned(signal: String, account: AccountEntry) async -> RelayStep {
        let mode = gateway.configuration.sessionQuarantine
        let scope: Quarantine.Scope? = mode == .key ? .key : session == nil ? nil : .session
        if let scope {
            await gateway.begin(
                Quarantine(
                    scope: scope, session: scope == .session ? session : nil, keyID: key.id, keyName: key.name, account: account.name,
                    signal: signal, requestID: request.requestID, createdAt: gateway.clock.now()))
        }
        let error =
            scope == nil
            ? GatewayError(
                .upstreamAuthFailed, message: "The upstream provider suspended the account serving this request; it was not retried elsewhere.")
            : GatewayError(.sessionQuarantined)
        return decide { $0.banned(error, detail: "ban signal: \(signal)") }
    }

    /// A token count answered: passed on, or said in the client's format when
    /// the count came from another provider.
    private func counted(_ response: UpstreamResponse, account: AccountEntry) async -> RelayStep {
        let body: ByteBuffer
        do {
            body = try await response.collect(upTo: gateway.configuration.maxErrorBodyBytes)
        } catch {
            return failed(AttemptFailure(failureClass: .transient, detail: error.rawValue, timedOut: error == .idleTimeout))
        }
        guard let carrier = withHeld({ $0.carrier }) else {
            withHeld {
                $0.body = GatewayResponse(
                    status: response.status, headers: [("content-type", response.header("content-type") ?? "application/json")],
                    body: .full(body))
            }
            return decide { $0.answered(status: response.status, reported: nil, estimated: .zero) }
        }
        guard let tokens = Translator.countedTokens(body), let answer = carrier.countAnswer(tokens) else {
            // A 2xx without a count cannot be carried: the client hears a 400.
            withHeld { $0.refusal = gateway.reworded(body, status: 400, dialect: client.dialect, requestID: request.requestID) }
            return decide { $0.callerFault(status: 400) }
        }
        withHeld { $0.body = GatewayResponse(status: 200, headers: [("content-type", "application/json")], body: .full(answer)) }
        return decide { $0.answered(status: 200, reported: nil, estimated: .zero) }
    }
}
