import Synchronization

/// A request's admission on its key: a concurrency slot, a window entry and
/// money held. Settled exactly once, by `settle` or when dropped (a client
/// gone), so no slot or hold can leak.
public final class KeyLease: Sendable {
    /// The key admitted.
    public let key: KeyEntry
    /// What was held.
    public let demand: KeyDemand
    private let limiter: KeyLimiter
    private let done = Atomic<Bool>(false)

    init(key: KeyEntry, demand: KeyDemand, limiter: KeyLimiter) {
        self.key = key
        self.demand = demand
        self.limiter = limiter
    }

    /// Releases the slot and holds and charges the real cost; later calls do nothing.
    public func settle(cost: Int64, tokens: Int64) {
        guard !done.exchange(true, ordering: .acquiringAndReleasing) else { return }
        limiter.settle(key, demand: demand, cost: cost, tokens: tokens)
    }

    deinit { settle(cost: 0, tokens: 0) }
}
