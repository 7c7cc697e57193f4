import Dialects
import NIOCore
import Policy
import Storage
import SwitchboardCore
import Upstream

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The client stopped reading.
struct ClientGone: Error {}

extension Exchange {
    /// Reads until the first event the client should see: before it, a broken
    /// or failing stream is a failed attempt and another account may try; after
    /// it, the stream is the answer.
    func peekStream(_ response: UpstreamResponse, account: AccountEntry) async -> RelayStep {
        let carrier = withHeld { $0.carrier }
        let observer =
            carrier?.streamObserver(
                provider: account.provider, requestID: request.requestID, clientWantsUsage: client.clientWantsUsage)
            ?? makeStreamObserver(for: client)
        let upstreamDialect = carrier == nil ? client.dialect : Translator.upstreamDialect(of: account.provider)
        var relay = StreamRelay(observer: observer, upstreamDialect: upstreamDialect)
        let reader = response.body
        var pending = ByteBuffer()
        var text: Int64 = 0
        while pending.readableBytes == 0 {
            let chunk: ByteBuffer?
            do {
                chunk = try await reader.next()
            } catch {
                return failed(AttemptFailure(failureClass: .transient, detail: error.rawValue, timedOut: error == .idleTimeout))
            }
            guard let chunk else {
                // After the client's own error, the stream is its answer however short.
                if relay.committed { break }
                return failed(AttemptFailure(failureClass: .transient, detail: "stream_ended_before_first_event"))
            }
            do {
                switch try relay.absorb(chunk) {
                case .events(let out, let textBytes):
                    pending = out
                    text = textBytes
                case .upstreamErrorFirst(let type, let out, let textBytes):
                    let failureClass = FailureClass.classify(errorType: type)
                    guard failureClass == .callerFault else {
                        return failed(AttemptFailure(failureClass: failureClass, detail: "stream_error_\(type.prefix(64))"))
                    }
                    // The client's own mistake: another account would refuse it too, so it sees the error event.
                    relay.committed = true
                    pending = out
                    text = textBytes
                }
            } catch {
                return failed(AttemptFailure(failureClass: .transient, detail: "stream_event_too_large"))
            }
        }
        relay.committed = true
        if let id = relay.observer.answerID { gateway.rememberAnswer(id, account: account, keyID: key.id) }
        noteProgress(account: account, deliveredBytes: 0, deliveredTextBytes: 0)
        withHeld { $0.stream = PendingStream(relay: relay, first: pending, firstTextBytes: text, reader: reader, status: response.status) }
        return decide { $0.streamCommitted(status: response.status) }
    }

    /// Relays a committed stream to the client, flushing each upstream chunk's
    /// events at once, and settles however it ends: finished, cut, broken, the
    /// client gone (then drained for the usage, within bounds), or shutdown.
    func relayStream(_ stream: PendingStream, write: BodyWrite) async {
        var relay = stream.relay
        var delivered: Int64 = 0
        var deliveredText: Int64 = 0
        var firstByteMs: Int64?
        var noted: Int64 = 0
        let account = withHeld { $0.accountLease?.account }
        let captureBytes = capture?.maxBytes
        var captured: ByteBuffer? = captureBytes == nil ? nil : ByteBuffer()
        var capturedCut = false
        func send(_ bytes: ByteBuffer, text: Int64) async throws(ClientGone) {
            guard bytes.readableBytes > 0 else { return }
            do { try await write(bytes) } catch { throw ClientGone() }
            if let limit = captureBytes, captured != nil {
                let room = max(0, limit - captured!.readableBytes)
                if bytes.readableBytes > room { capturedCut = true }
                captured!.writeImmutableBuffer(bytes.getSlice(at: bytes.readerIndex, length: min(room, bytes.readableBytes))!)
            }
            delivered = delivered.saturatingAdd(Int64(bytes.readableBytes))
            deliveredText = deliveredText.saturatingAdd(text)
            if firstByteMs == nil { firstByteMs = request.receivedAt.duration(to: .now).wholeMilliseconds }
            // Every few KiB of text, the journal learns how far the answer got (for a crash's estimate).
            if let account, deliveredText - noted >= Self.progressEvery {
                noted = deliveredText
                noteProgress(account: account, deliveredBytes: delivered, deliveredTextBytes: deliveredText)
            }
        }
        let end: StreamEnd
        do {
            try await send(stream.first, text: stream.firstTextBytes)
            while let chunk = try await stream.reader.next() {
                guard case .events(let out, let text) = try relay.absorb(chunk) else { continue }
                try await send(out, text: text)
            }
            let (last, text) = relay.finish()
            try await send(last, text: text)
            if Task.isCancelled {
                end = .shutdown  // the body ends quietly on cancellation; the upstream did nothing wrong
            } else if relay.observer.completed {
                end = .completed
            } else {
                end = relay.observer.upstreamErrorType == nil ? .endedEarly : .upstreamError
            }
        } catch is ClientGone {
            end = .clientGone
        } catch let failure as TransportFailure where !Task.isCancelled {
            end = .broke(failure)
        } catch is SSEParser.EventTooLarge {
            end = .eventTooLarge
        } catch {
            end = .shutdown
        }
        upstreamEnded(failure: end.failure)
        var step = decide { $0.streamEnded(end, progress: relay.progress(deliveredBytes: delivered, deliveredTextBytes: deliveredText)) }
        if case .drain = step {
            let drained = await drain(relay, reader: stream.reader)
            step = decide { $0.drainEnded(drained.progress(deliveredBytes: delivered, deliveredTextBytes: deliveredText)) }
        }
        guard case .finish(var finish) = step else { return }
        finish.row.firstByteMs = firstByteMs
        if let captured { withHeld { ($0.capturedStream, $0.capturedStreamCut) = (captured, capturedCut) } }
        settle(finish)
        if let bytes = streamBytes(for: finish) { try? await write(bytes) }
    }

    /// Text bytes between two progress notes in the journal.
    static let progressEvery: Int64 = 2048

    /// Tells the journal how far this request's answer got.
    func noteProgress(account: AccountEntry, deliveredBytes: Int64, deliveredTextBytes: Int64) {
        guard withHeld({ $0.journaled }), let journal = gateway.ledger.journal else { return }
        journal.progress(
            request.requestID,
            LedgerJournal.Progress(
                accountID: account.id, accountName: account.name, provider: account.provider.rawValue,
                upstreamModel: account.upstreamModel(for: client.model), deliveredBytes: deliveredBytes, deliveredTextBytes: deliveredTextBytes))
    }

    /// After the client left: keeps reading the upstream, sending nothing, until
    /// its usage arrives, `drain_bytes` were read or `drain_timeout` passed.
    private func drain(_ relay: StreamRelay, reader: UpstreamReader) async -> StreamRelay {
        let limit = gateway.configuration.drainBytes
        let reading: @Sendable () async -> StreamRelay? = {
            var relay = relay
            var read = 0
            while !relay.observer.completed, read < limit, !Task.isCancelled {
                guard let chunk = try? await reader.next() else { break }
                read += chunk.readableBytes
                guard (try? relay.absorb(chunk)) != nil else { break }
            }
            return relay
        }
        return await gateway.clock.withTimeout(gateway.configuration.drainTimeout, reading) ?? relay
    }
}
