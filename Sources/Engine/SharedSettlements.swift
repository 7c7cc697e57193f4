import Logging
import Policy
import ServiceLifecycle
import Storage
import SwitchboardCore
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Applies shared lease settlements (`SharedKeyLimits.settle`) in the order
/// requests finished, off the request path, and keeps this replica's leases
/// alive: renewed every third of `lease_ttl`, and the leases of replicas that
/// died swept as they expire. A settlement the database refuses for now is
/// retried until it lands (its slot and hold stay taken meanwhile: the safe
/// side); at shutdown what is left is tried once more, then left to expire.
public final class SharedSettlements: Service, Sendable {
    let limits: SharedKeyLimits
    let logger: Logger
    /// Settlements not applied yet, in the order requests finished.
    private let pending = Mutex<[SharedKeyLimits.Settlement]>([])
    /// Per key, settlements queued or being applied: a slot this replica freed that the database does not know of yet.
    private let unsettled = Mutex<[Int64: Int]>([:])
    /// A nudge for the runner: something was queued.
    private let signal: AsyncStream<Void>
    private let nudge: AsyncStream<Void>.Continuation

    /// Where this replica's open requests are told (filed every second), and
    /// the ledger and prices a dead replica's are recorded with.
    let orphans: (mirror: OpenRequestMirror?, ledger: any GatewayStore, prices: PriceTable)?

    init(limits: SharedKeyLimits, logger: Logger, orphans: (mirror: OpenRequestMirror?, ledger: any GatewayStore, prices: PriceTable)? = nil) {
        self.limits = limits
        self.logger = logger
        self.orphans = orphans
        (signal, nudge) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues a settlement.
    func enqueue(requestID: String, keyID: Int64?, userID: Int64? = nil, cost: Money, tokens: Int64 = 0, meters: [SharedMeter.Use] = []) {
        let settlement = SharedKeyLimits.Settlement(requestID: requestID, keyID: keyID, userID: userID, cost: cost, tokens: tokens, meters: meters)
        if let keyID { unsettled.withLock { $0[keyID, default: 0] += 1 } }
        pending.withLock { $0.append(settlement) }
        nudge.yield()
    }

    public func run() async throws {
        let every = limits.leaseTTL / 3
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await runPeriodically(every: every, immediately: true) { [self] in
                    do {
                        try await limits.renew(now: Date())
                        try await recordOrphans(now: Date())
                        let swept = try await limits.sweep(now: Date())
                        if swept > 0 { logger.notice("expired shared leases released", metadata: ["leases": "\(swept)"]) }
                    } catch {
                        logger.warning("shared leases could not be renewed", metadata: ["error": "\(error)"])
                    }
                }
            }
            if let mirror = orphans?.mirror {
                group.addTask { [self] in
                    await runPeriodically(every: .seconds(1), immediately: false) { [self] in await fileOpenRequests(mirror) }
                    // What closed before the stop is withdrawn, once.
                    await fileOpenRequests(mirror)
                }
            }
            group.addTask { [self] in
                await cancelWhenGracefulShutdownIgnoringErrors {
                    for await _ in self.signal { try await self.applyPending(retrying: true) }
                }
                // What finished before the stop still goes back, once.
                try? await self.applyPending(retrying: false)
            }
        }
    }

    /// Whether a settlement of `keyID` from this replica is still on its way to the database.
    func isSettling(_ keyID: Int64) -> Bool { unsettled.withLock { $0[keyID] != nil } }

    /// Files what this replica opened since the last time and withdraws what it closed.
    private func fileOpenRequests(_ mirror: OpenRequestMirror) async {
        let (file, withdraw) = mirror.changes()
        guard !file.isEmpty || !withdraw.isEmpty else { return }
        do {
            try await limits.file(file, withdraw: withdraw, now: Date())
        } catch {
            mirror.restore(file: file, withdraw: withdraw)
            logger.warning("open requests could not be filed for the other replicas", metadata: ["error": "\(error)"])
        }
    }

    /// Records the requests a dead replica left open as `interrupted` rows
    /// (charged as a restarted replica charges its journal's: the hold, or
    /// an estimate of what was delivered), each once whichever replicas
    /// sweep; the sweep then charges their leases what those rows say.
    private func recordOrphans(now: Date) async throws {
        guard let (_, ledger, prices) = orphans else { return }
        let (entries, unreadable) = try await limits.orphans(now: now)
        if unreadable > 0 {
            logger.error("open requests of a dead replica could not be read and are not recorded", metadata: ["count": "\(unreadable)"])
        }
        guard !entries.isEmpty else { return }
        let rows = entries.map { JournalRecovery.row(LedgerJournal.Interrupted(entry: $0, progress: nil), prices: prices) }
        try await ledger.appendLedger(rows)
        try await limits.forget(entries.map(\.requestID))
        logger.warning("requests a dead replica left open were recorded as interrupted", metadata: ["count": "\(rows.count)"])
    }

    /// Applies what is queued, a batch per statement, until nothing is; with
    /// `retrying`, a batch the database cannot take now is tried again each second.
    private func applyPending(retrying: Bool) async throws {
        while true {
            let batch = pending.withLock { queue -> [SharedKeyLimits.Settlement] in
                let taken = Array(queue.prefix(SharedKeyLimits.settlementsPerStatement))
                queue.removeFirst(taken.count)
                return taken
            }
            guard !batch.isEmpty else { return }
            while true {
                do {
                    try await limits.settle(batch)
                    unsettled.withLock { unsettled in
                        for case let key? in batch.map(\.keyID) {
                            unsettled[key, default: 1] -= 1
                            if unsettled[key] == 0 { unsettled[key] = nil }
                        }
                    }
                    break
                } catch {
                    guard retrying else { throw error }
                    logger.warning("shared settlements wait for the database", metadata: ["error": "\(error)"])
                    try await LoopTimer.sleep(for: .seconds(1))
                }
            }
        }
    }
}
