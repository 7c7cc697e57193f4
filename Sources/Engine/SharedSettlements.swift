import Foundation
import Logging
import ServiceLifecycle
import Storage
import SwitchboardCore
import Synchronization

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
    /// A nudge for the runner: something was queued.
    private let signal: AsyncStream<Void>
    private let nudge: AsyncStream<Void>.Continuation

    init(limits: SharedKeyLimits, logger: Logger) {
        self.limits = limits
        self.logger = logger
        (signal, nudge) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues a settlement.
    func enqueue(requestID: String, keyID: Int64?, userID: Int64? = nil, cost: Money, tokens: Int64 = 0, meters: [SharedMeter.Use] = []) {
        let settlement = SharedKeyLimits.Settlement(requestID: requestID, keyID: keyID, userID: userID, cost: cost, tokens: tokens, meters: meters)
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
                        let swept = try await limits.sweep(now: Date())
                        if swept > 0 { logger.notice("expired shared leases released", metadata: ["leases": "\(swept)"]) }
                    } catch {
                        logger.warning("shared leases could not be renewed", metadata: ["error": "\(error)"])
                    }
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
                    break
                } catch {
                    guard retrying else { throw error }
                    logger.warning("shared settlements wait for the database", metadata: ["error": "\(error)"])
                    try await Task.sleep(for: .seconds(1))
                }
            }
        }
    }
}
