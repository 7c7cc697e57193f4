import Dialects
import Foundation
import NIOCore
import SwitchboardCore
import Upstream

/// Parses an upstream stream and decides, event by event, what the client sees.
struct StreamRelay: Sendable {
    var parser = SSEParser()
    var observer: any StreamObserver
    /// Whether anything reached the client; until then the attempt may still fail over.
    var committed = false

    /// What a chunk yielded.
    enum Absorbed {
        /// Bytes to send (possibly none).
        case events(ByteBuffer)
        /// Before anything was sent, the upstream reported an error in the stream.
        case upstreamErrorFirst(type: String)
    }

    /// Takes a chunk and returns the events to forward, whole, in one buffer.
    mutating func absorb(_ chunk: ByteBuffer) throws -> Absorbed {
        forward(try parser.push(chunk))
    }

    /// Ends the stream: a final event completed by the end is forwarded; an event
    /// cut in the middle is dropped, as the SSE specification says.
    mutating func finish() -> ByteBuffer {
        var out = ByteBuffer()
        if case .events(let last) = forward(parser.finish().events) { out = last }
        if let end = observer.missingEnd { out.writeString(end) }
        return out
    }

    private mutating func forward(_ events: [SSEEvent]) -> Absorbed {
        var out = ByteBuffer()
        for event in events {
            let errorBefore = observer.upstreamErrorType
            let verdict = observer.observe(event)
            if !committed, out.readableBytes == 0, errorBefore == nil, let type = observer.upstreamErrorType {
                return .upstreamErrorFirst(type: type)
            }
            switch verdict {
            case .forward:
                var raw = event.raw
                out.writeBuffer(&raw)
            case .replace(var bytes):
                out.writeBuffer(&bytes)
            case .drop:
                break
            }
        }
        return .events(out)
    }
}

extension Gateway {
    /// Peeks until the first event the client should see, then commits: before
    /// that, a broken or failing stream is a failed attempt and another account
    /// may try; after it, failures end the stream with an error event.
    func startStream(_ response: UpstreamResponse, context: RelayContext) async -> AttemptResult {
        let observer = context.carrier?.streamObserver(
            provider: context.account.provider, requestID: context.request.requestID, clientWantsUsage: context.client.clientWantsUsage)
            ?? makeStreamObserver(for: context.client)
        var relay = StreamRelay(observer: observer)
        let reader = response.body
        var pending = ByteBuffer()
        while pending.readableBytes == 0 {
            let chunk: ByteBuffer?
            do {
                chunk = try await reader.next()
            } catch {
                return .failed(AttemptFailure(failureClass: .transient, detail: error.rawValue, timedOut: error == .idleTimeout))
            }
            guard let chunk else { return .failed(AttemptFailure(failureClass: .transient, detail: "stream_ended_before_first_event")) }
            do {
                switch try relay.absorb(chunk) {
                case .events(let out):
                    pending = out
                case .upstreamErrorFirst(let type):
                    let failureClass = FailureClass.classify(errorType: type)
                    guard failureClass != .callerFault else {
                        relay.committed = true  // the client's own mistake: let it see the error event
                        continue
                    }
                    return .failed(AttemptFailure(failureClass: failureClass, detail: "stream_error_\(type)"))
                }
            } catch {
                return .failed(AttemptFailure(failureClass: .transient, detail: "stream_event_too_large"))
            }
        }
        relay.committed = true
        let committed = relay
        let first = pending
        let status = response.status
        let producer: StreamProducer = { write in
            await self.stream(relay: committed, first: first, reader: reader, status: status, context: context, write: write)
        }
        return .answered(GatewayResponse(
            status: status,
            headers: [("content-type", "text/event-stream; charset=utf-8"), ("cache-control", "no-cache")],
            body: .stream(producer)))
    }

    /// Relays the committed stream, flushing each upstream chunk's events at once,
    /// and settles the request however the stream ends.
    func stream(relay: StreamRelay, first: ByteBuffer, reader: UpstreamReader, status: Int, context: RelayContext, write: BodyWrite) async {
        var relay = relay
        var firstByteMs: Int64?
        let dialect = context.client.dialect
        let requestID = context.request.requestID

        func send(_ bytes: ByteBuffer) async throws(ClientGone) {
            guard bytes.readableBytes > 0 else { return }
            do { try await write(bytes) } catch { throw ClientGone() }
            if firstByteMs == nil { firstByteMs = context.settlement.elapsedMs() }
        }
        func endWithError(_ error: GatewayError) async {
            try? await write(ErrorBody.streamEvent(error, dialect: dialect, requestID: requestID))
        }

        var outcome = "ok"
        var errorCode: String?
        do {
            try await send(first)
            while let chunk = try await reader.next() {
                guard case .events(let out) = try relay.absorb(chunk) else { continue }
                try await send(out)
            }
            try await send(relay.finish())
            if Task.isCancelled {
                // The client left (or shutdown ran out of time): the body ends
                // quietly on cancellation; the upstream did nothing wrong.
                outcome = "cancelled"
                errorCode = "cancelled"
            } else if !relay.observer.completed, relay.observer.upstreamErrorType == nil {
                // (An upstream that reported its error in the stream already told the client.)
                outcome = "upstream_error"
                errorCode = "stream_truncated"
                await endWithError(GatewayError(.upstreamBadResponse, message: "The upstream stream ended early."))
            }
        } catch is ClientGone {
            outcome = "client_disconnected"
        } catch let failure as TransportFailure where !Task.isCancelled {
            outcome = "upstream_error"
            errorCode = failure.rawValue
            await endWithError(GatewayError(failure == .idleTimeout ? .upstreamTimeout : .upstreamUnavailable))
        } catch {
            // Cancelled (shutdown ran out of time), or an event too large to relay.
            outcome = Task.isCancelled ? "cancelled" : "upstream_error"
            errorCode = Task.isCancelled ? "cancelled" : "stream_event_too_large"
            await endWithError(GatewayError(Task.isCancelled ? .shuttingDown : .upstreamBadResponse))
        }
        if let upstreamError = relay.observer.upstreamErrorType, outcome == "ok" {
            outcome = "upstream_error"
            errorCode = upstreamError
        }
        let usage = relay.observer.usage
        let tokens = usage?.total ?? 0
        rememberAnswer(relay.observer.answerID, context: context)
        switch outcome {
        case "ok": context.lease.finish(.served(tokens: tokens))
        case "upstream_error" where errorCode != "stream_event_too_large":
            let failureClass = relay.observer.upstreamErrorType.map(FailureClass.classify(errorType:)) ?? .transient
            context.lease.finish(
                failureClass == .callerFault
                    ? .notBlamed(tokens: tokens)
                    : .failed(failureClass, retryAfter: nil, detail: "stream ended: \(errorCode ?? "error")"))
        default: context.lease.finish(.notBlamed(tokens: tokens))
        }
        settleAnswered(
            context, status: status, usage: usage ?? .zero, complete: usage != nil && outcome == "ok",
            firstByteMs: firstByteMs, outcome: outcome, errorCode: errorCode)
    }
}

/// The client stopped reading.
struct ClientGone: Error {}
