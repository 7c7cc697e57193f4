import Dialects
import Logging
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

extension Exchange {
    /// Takes a request whose key and body are known through admission, the
    /// attempts and the answer. Every path ends in the machine's one settlement.
    func run(tiers listed: [RouteTier]) async -> GatewayResponse {
        let usable = Self.usable(listed, policy: key.policy)
        guard !usable.isEmpty else { return answer(decide { $0.refuse(GatewayError(.providerNotAllowed), outcome: .refused) }) }
        switch gateway.admitNow(key, client: client, request: request, tiers: usable, lane: lane) {
        case .refused(let error):
            return answer(decide { $0.refuse(error, outcome: .refused) })
        case .mustWait(let demand) where client.stream && Gateway.keepalive(request.dialect) != nil:
            return waitingStream(demand: demand, tiers: usable)
        case .mustWait(let demand):
            switch await gateway.admitAfterWaiting(key, demand: demand, request: request) {
            case .failure(let error):
                if Task.isCancelled { return answer(decide { $0.clientGone() }) }
                return answer(decide { $0.refuse(error, outcome: .refused) })
            case .success(let admitted):
                return await proceed(admitted, tiers: usable)
            }
        case .admitted(let admitted):
            switch await gateway.confirmShared(admitted, key: key, request: request) {
            case .failure(let error): return answer(decide { $0.refuse(error, outcome: .refused) })
            case .success(let admitted): return await proceed(admitted, tiers: usable)
            }
        }
    }

    /// The tiers with the accounts the key's policy allows, empty tiers left
    /// out; the list as it is (no copies) when nothing is left out, as for most keys.
    static func usable(_ listed: [RouteTier], policy: KeyPolicy) -> [RouteTier] {
        let allAllowed = listed.allSatisfy { tier in
            !tier.accounts.isEmpty && tier.accounts.allSatisfy { policy.allows(provider: $0.provider) }
        }
        if allAllowed { return listed }
        return listed.map { RouteTier(model: $0.model, accounts: $0.accounts.filter { policy.allows(provider: $0.provider) }) }
            .filter { !$0.accounts.isEmpty }
    }

    /// The key admitted the request: hold its lease, record it in the journal,
    /// drive the attempts while the record goes to disk, and start the answer
    /// only once it is there (the fsync costs no latency of its own).
    private func proceed(_ admitted: Gateway.Admitted, tiers: [RouteTier]) async -> GatewayResponse {
        let first = admit(admitted, tiers: tiers)
        let ticket = journalTicket(first, admitted)
        let outcome = await advance(first, headSent: false)
        if let ticket { await answerWhenWritten(ticket) }
        switch outcome {
        case .mustWaitForAccount(let account):
            return waitingForAccount(account)
        case .finished(let finish):
            return response(for: finish)
        case .stream(let stream):
            // The key's rate-limit headers go with a stream as with any answer.
            let headers = Self.streamHeaders + withHeld { $0.headers }
            return GatewayResponse(
                status: stream.status, headers: headers,
                body: .stream({ write in
                    await self.relayStream(stream, write: write)
                }))
        case .settledBefore:
            return gateway.errorResponse(GatewayError(.internalError), dialect: request.dialect, requestID: request.requestID)
        }
    }

    /// Writes the admitted request to the journal before anything is sent, so
    /// a crash cannot make the ledger forget it; a journal that cannot be
    /// written refuses the request (`ledger_unavailable`). Used where the
    /// answer has already begun (a queued stream), so nothing overlaps the write.
    private func journaled(_ step: RelayStep, _ admitted: Gateway.Admitted) async -> RelayStep {
        guard let ticket = journalTicket(step, admitted) else { return step }
        do {
            try await ticket.written()
            return step
        } catch {
            withHeld { $0.journaled = false }
            return decide { $0.refuse(GatewayError(.ledgerUnavailable, retryAfterSeconds: 5), outcome: .refused) }
        }
    }

    /// Queues the admitted request's journal record (before anything else
    /// about it can be written); nil without a journal or when the step sends
    /// nothing.
    private func journalTicket(_ step: RelayStep, _ admitted: Gateway.Admitted) -> LedgerJournal.Ticket? {
        guard let journal = gateway.ledger.journal, case .pick = step else { return nil }
        let owner = admitted.lease.owner
        let entry = LedgerJournal.Entry(
            requestID: request.requestID, createdAt: Date(), keyID: key.id, keyName: key.name, userName: owner?.user.name,
            dialect: request.operation.rawValue, model: client.model, stream: client.stream, hold: admitted.lease.demand.hold,
            holdTokens: admitted.lease.demand.tokens, promptBytes: client.body.readableBytes,
            multiplierPPM: owner?.group?.multiplierPPM ?? 1_000_000, clientAddress: origin.address, userAgent: origin.userAgent,
            session: session)
        withHeld { $0.journaled = true }
        return journal.begin(entry)
    }

    /// Waits until the request's journal record is on disk. One that cannot
    /// be written (the disk failed during this very request: later requests
    /// are refused, as `ledger.unavailable` says) does not take back an answer
    /// the upstream already gave: its ledger row still goes to the database.
    private func answerWhenWritten(_ ticket: LedgerJournal.Ticket) async {
        do {
            try await ticket.written()
        } catch {
            withHeld { $0.journaled = false }
            gateway.logger.error(
                "an answer went out without its journal record", metadata: ["request_id": "\(request.requestID)", "reason": "\(error)"])
        }
    }

    /// Ties the key's lease to this exchange and tells the machine.
    private func admit(_ admitted: Gateway.Admitted, tiers: [RouteTier]) -> RelayStep {
        holdKey(admitted.lease, tiers: tiers, headers: admitted.headers)
        let owner = admitted.lease.owner
        return decide { $0.admitted(group: owner?.group, userName: owner?.user.name) }
    }

    /// The response for a step that settles at once (a refusal).
    func answer(_ step: RelayStep) -> GatewayResponse {
        guard case .finish(let finish) = step else {
            return gateway.errorResponse(GatewayError(.internalError), dialect: request.dialect, requestID: request.requestID)
        }
        settle(finish)
        return response(for: finish)
    }

    /// A streaming request that must queue for one of its key's slots: the
    /// answer starts at once (200, SSE) and carries keepalives in the dialect's
    /// own form, on the gateway's clock, while the request waits, so the client
    /// does not time out. Once admitted, the upstream stream follows in the same
    /// response; a refusal or an upstream failure becomes the stream's error event.
    private func waitingStream(demand: KeyDemand, tiers: [RouteTier]) -> GatewayResponse {
        keptAlive { write in
            let (decision, clientLeft) = await self.keepingAlive(write) {
                await self.gateway.admitAfterWaiting(self.key, demand: demand, request: self.request)
            }
            switch decision {
            case .success(let admitted) where clientLeft:
                // The machine settles the request, and gives back an admission that came too late.
                _ = self.admit(admitted, tiers: tiers)
                return self.decide { $0.clientGone() }
            case _ where clientLeft:
                return self.decide { $0.clientGone() }
            case .failure(let error):
                return self.decide { $0.refuse(error, outcome: .refused) }
            case .success(let admitted):
                return await self.journaled(self.admit(admitted, tiers: tiers), admitted)
            }
        }
    }

    /// A streaming request that must queue for a slot on a full account: as
    /// for a key's slot, the answer starts at once and keepalives hold the
    /// client while it waits.
    func waitingForAccount(_ account: AccountEntry) -> GatewayResponse {
        keptAlive { write in
            let (step, clientLeft) = await self.keepingAlive(write) { await self.waitForAccount(account) }
            // The wait, cancelled by the departure, may already have settled the request as the client's.
            if clientLeft, case .finish = step { return step }
            return clientLeft ? self.decide { $0.clientGone() } : step
        }
    }

    /// A stream answer begun before the request has an upstream: `waiting`
    /// writes keepalives until it has the next step, then the request goes on
    /// in the same response (its errors as the stream's error event).
    private func keptAlive(_ waiting: @escaping @Sendable (BodyWrite) async -> RelayStep) -> GatewayResponse {
        _ = decide { machine in
            machine.headWasSent()
            return .none
        }
        let producer: StreamProducer = { write in
            let step = await waiting(write)
            switch await self.advance(step, headSent: true) {
            case .finished(let finish):
                if let bytes = self.streamBytes(for: finish) { try? await write(bytes) }
            case .stream(let stream):
                await self.relayStream(stream, write: write)
            case .settledBefore, .mustWaitForAccount:
                break
            }
        }
        return GatewayResponse(status: 200, headers: Self.streamHeaders, body: .stream(producer))
    }

    /// Runs `work` while writing the dialect's keepalive every interval of the
    /// gateway's clock; if a write fails (the client left), `work` is
    /// cancelled and its result comes back with `clientLeft`.
    private func keepingAlive<T: Sendable>(
        _ write: BodyWrite, _ work: @escaping @Sendable () async -> T
    ) async -> (T, clientLeft: Bool) {
        let keepalive = ByteBuffer(string: Gateway.keepalive(request.dialect) ?? "")
        let interval = gateway.configuration.keepaliveInterval
        let clock = gateway.clock
        return await withTaskGroup(of: KeepaliveHeard<T>?.self) { group in
            group.addTask { .done(await work()) }
            group.addTask { (try? await clock.sleep(for: interval)) == nil ? nil : .tick }
            var clientLeft = false
            while let heard = await group.next() {
                switch heard {
                case .tick? where !clientLeft:
                    do {
                        try await write(keepalive)
                        group.addTask { (try? await clock.sleep(for: interval)) == nil ? nil : .tick }
                    } catch {
                        clientLeft = true  // stop waiting; what the work still returns is settled by the caller
                        group.cancelAll()
                    }
                case .done(let result)?:
                    group.cancelAll()
                    return (result, clientLeft)
                default:
                    continue
                }
            }
            preconditionFailure("the work's task always reports")
        }
    }
}

/// What a wait with keepalives hears next: time for a keepalive, or the work's result.
private enum KeepaliveHeard<T: Sendable>: Sendable {
    case tick
    case done(T)
}
