import Foundation
import Logging
import ServiceLifecycle
import Storage
import SwitchboardCore

/// Applies shared lease settlements (`SharedKeyLimits.settle`) in the order
/// requests finished, off the request path, and keeps this replica's leases
/// alive: renewed every third of `lease_ttl`, and the leases of replicas that
/// died swept as they expire. A settlement the database refuses for now is
/// retried until it lands (its slot and hold stay taken meanwhile: the safe
/// side); at shutdown what is left is tried once more, then left to expire.
public final class SharedSettlements: Service, Sendable {
    struct Settlement: Sendable {
        let requestID: String
        let keyID: Int64
        let cost: Money
    }

    let limits: SharedKeyLimits
    let logger: Logger
    private let stream: AsyncStream<Settlement>
    private let continuation: AsyncStream<Settlement>.Continuation

    init(limits: SharedKeyLimits, logger: Logger) {
        self.limits = limits
        self.logger = logger
        (stream, continuation) = AsyncStream.makeStream(of: Settlement.self)
    }

    /// Queues a settlement.
    func enqueue(requestID: String, keyID: Int64, cost: Money) {
        continuation.yield(Settlement(requestID: requestID, keyID: keyID, cost: cost))
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
                await cancelWhenGracefulShutdownIgnoringErrors { try await self.applyAll() }
                self.continuation.finish()
                // What finished before the stop still goes back, once each.
                for await settlement in self.stream { try? await self.apply(settlement) }
            }
        }
    }

    private func applyAll() async throws {
        for await settlement in stream {
            while true {
                do {
                    try await apply(settlement)
                    break
                } catch {
                    logger.warning("a shared settlement waits for the database", metadata: ["error": "\(error)"])
                    try await Task.sleep(for: .seconds(1))
                }
            }
        }
    }

    private func apply(_ settlement: Settlement) async throws {
        try await limits.settle(requestID: settlement.requestID, keyID: settlement.keyID, cost: settlement.cost)
    }
}

/// Runs `body` until graceful shutdown cancels it; its cancellation is the normal end.
func cancelWhenGracefulShutdownIgnoringErrors(_ body: @escaping @Sendable () async throws -> Void) async {
    try? await cancelWhenGracefulShutdown { try await body() }
}
