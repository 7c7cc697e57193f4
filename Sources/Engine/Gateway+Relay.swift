import Dialects
import Foundation
import NIOCore
import Policy
import Storage
import SwitchboardCore
import Upstream

extension Gateway {
    /// What one failed attempt left behind, to decide the final answer.
    struct AttemptFailure {
        var failureClass: FailureClass
        var detail: String
        var retryAfterSeconds: Int?
    }

    /// Tries the candidates in order until one answers; moves on only while
    /// nothing has reached the client.
    func relay(_ client: ClientRequest, request: GatewayRequest, accounts: [AccountEntry], settlement: Settlement) async
        -> GatewayResponse
    {
        let forwarded = request.headers.filter { UpstreamRequest.forwardableHeaders.contains($0.name) }
        var lastFailure: AttemptFailure?
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
                account: account, operation: client.dialect == .openAIChat ? .openAIChat : .anthropicMessages,
                body: client.upstreamBody(model: upstreamModel), forwardedHeaders: forwarded)
            let response: UpstreamResponse
            do {
                response = try await transport.send(outbound)
            } catch {
                lastFailure = AttemptFailure(failureClass: FailureClass.classify(transport: error), detail: error.rawValue)
                logger.warning("upstream attempt failed", metadata: ["request": "\(request.requestID)", "account": "\(account.name)", "failure": "\(error.rawValue)"])
                continue
            }
            if (200..<300).contains(response.status) {
                let context = RelayContext(
                    client: client, request: request, account: account, upstreamModel: upstreamModel, settlement: settlement)
                if let answer = await deliver(response, context: context) { return answer }
                lastFailure = AttemptFailure(failureClass: .transient, detail: "empty_or_broken_stream")
                continue
            }
            // An error status: read a bounded part of the body to classify it.
            let errorBody = (try? await response.body.collect(upTo: configuration.maxErrorBodyBytes)) ?? ByteBuffer()
            let hint = String(buffer: errorBody.getSlice(at: errorBody.readerIndex, length: min(512, errorBody.readableBytes)) ?? ByteBuffer())
            let failureClass = FailureClass.classify(status: response.status, bodyHint: hint)
            logger.warning("upstream answered with an error", metadata: ["request": "\(request.requestID)", "account": "\(account.name)", "status": "\(response.status)", "class": "\(failureClass.rawValue)"])
            if failureClass == .callerFault {
                // The client's own request is at fault: it gets the upstream's answer,
                // which is already in its dialect, and the account is not blamed.
                settlement.settle(status: response.status, outcome: "client_error", errorCode: "upstream_\(response.status)")
                return GatewayResponse(
                    status: response.status, headers: [("content-type", response.header("content-type") ?? "application/json")],
                    body: .full(errorBody))
            }
            lastFailure = AttemptFailure(
                failureClass: failureClass, detail: "status_\(response.status)",
                retryAfterSeconds: RetryAfter.seconds(from: response.headers))
        }
        let failure = lastFailure ?? AttemptFailure(failureClass: .transient, detail: "no_attempt")
        var error = GatewayError(failure.failureClass.clientError, retryAfterSeconds: failure.retryAfterSeconds)
        if failure.detail == TransportFailure.firstByteTimeout.rawValue { error = GatewayError(.upstreamTimeout) }
        return fail(error, request: request, settlement: settlement, outcome: "upstream_error")
    }

    /// What a successful attempt needs to finish the request.
    struct RelayContext: Sendable {
        var client: ClientRequest
        var request: GatewayRequest
        var account: AccountEntry
        var upstreamModel: String
        var settlement: Settlement
    }

    /// Turns a 2xx upstream answer into the client's response, or nil when the
    /// upstream broke before anything could be sent (so another account may try).
    func deliver(_ response: UpstreamResponse, context: RelayContext) async -> GatewayResponse? {
        let contentType = response.header("content-type") ?? "application/json"
        let isStream = contentType.lowercased().hasPrefix("text/event-stream")
        guard isStream else {
            guard let body = try? await response.body.collect(upTo: transport.configuration.maxResponseBytes) else { return nil }
            let usage = body.withUnsafeReadableBytes { UsageReader.fromResponseBody($0, dialect: context.client.dialect) }
            settleSuccess(context, usage: usage ?? .zero, complete: usage != nil, firstByteMs: context.settlement.elapsedMs())
            return GatewayResponse(status: response.status, headers: [("content-type", contentType)], body: .full(body))
        }
        // Peek at the first chunk: a stream that dies before it is still retryable.
        let iterator = UpstreamIterator(response.body.makeAsyncIterator())
        guard let first = try? await iterator.next() else { return nil }
        let producer: StreamProducer = { write in
            await self.stream(first: first, rest: iterator, context: context, write: write)
        }
        return GatewayResponse(
            status: response.status,
            headers: [("content-type", "text/event-stream; charset=utf-8"), ("cache-control", "no-cache")],
            body: .stream(producer))
    }

    /// Relays a stream event by event, flushing each upstream chunk's events at once.
    func stream(first: ByteBuffer, rest: UpstreamIterator, context: RelayContext, write: BodyWrite) async {
        var parser = SSEParser()
        var observer = makeStreamObserver(for: context.client)
        var firstByteMs: Int64?
        let dialect = context.client.dialect

        /// Parses a chunk and writes what the client should see; throws `ClientGone` when it cannot.
        func pass(_ chunk: ByteBuffer) async throws {
            var out = ByteBuffer()
            for event in try parser.push(chunk) where observer.observe(event) == .forward {
                var raw = event.raw
                out.writeBuffer(&raw)
            }
            guard out.readableBytes > 0 else { return }
            do { try await write(out) } catch { throw ClientGone() }
            if firstByteMs == nil { firstByteMs = context.settlement.elapsedMs() }
        }

        var outcome = "ok"
        var errorCode: String?
        do {
            try await pass(first)
            while let chunk = try await rest.next() { try await pass(chunk) }
            let end = parser.finish()
            var out = ByteBuffer()
            for event in end.events where observer.observe(event) == .forward {
                var raw = event.raw
                out.writeBuffer(&raw)
            }
            if var unfinished = end.unfinished { out.writeBuffer(&unfinished) }
            if out.readableBytes > 0 { try? await write(out) }
            if !observer.completed {
                outcome = "upstream_error"
                errorCode = "stream_truncated"
                try? await write(ErrorBody.streamEvent(GatewayError(.upstreamBadResponse, message: "The upstream stream ended early."), dialect: dialect, requestID: context.request.requestID))
            }
        } catch is ClientGone {
            outcome = "client_disconnected"
        } catch {
            let failure = (error as? TransportFailure) ?? .badResponse
            outcome = "upstream_error"
            errorCode = failure.rawValue
            let code: GatewayError.Code = failure == .idleTimeout ? .upstreamTimeout : .upstreamUnavailable
            try? await write(ErrorBody.streamEvent(GatewayError(code), dialect: dialect, requestID: context.request.requestID))
        }
        if let upstreamError = observer.upstreamErrorType, outcome == "ok" {
            outcome = "upstream_error"
            errorCode = upstreamError
        }
        let usage = observer.usage
        settleSuccess(
            context, usage: usage ?? .zero, complete: usage != nil && outcome == "ok", firstByteMs: firstByteMs,
            outcome: outcome, errorCode: errorCode)
    }

    /// Prices the usage and writes the row for a request an upstream answered.
    func settleSuccess(
        _ context: RelayContext, usage: TokenUsage, complete: Bool, firstByteMs: Int64?, outcome: String = "ok",
        errorCode: String? = nil
    ) {
        let (cost, priced) = price(
            usage, model: context.client.model, upstreamModel: context.upstreamModel, provider: context.account.provider)
        context.settlement.settle(status: 200, outcome: outcome, errorCode: errorCode) {
            $0.usage = usage
            $0.cost = cost
            $0.priced = priced
            $0.usageIncomplete = !complete
            $0.firstByteMs = firstByteMs
        }
    }
}

/// The client stopped reading.
struct ClientGone: Error {}

/// Hands one upstream body iterator from the attempt to the stream producer.
/// Only one task ever reads it: first the peek, then the producer.
final class UpstreamIterator: @unchecked Sendable {
    private var base: UpstreamBody.AsyncIterator

    init(_ base: UpstreamBody.AsyncIterator) { self.base = base }

    func next() async throws -> ByteBuffer? { try await base.next() }
}
