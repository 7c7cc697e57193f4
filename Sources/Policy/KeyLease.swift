import SwitchboardCore
import Synchronization

/// A request's admission on its key: a concurrency slot, a window entry and
/// money held. Settled exactly once, by `settle` or when dropped (a client
/// gone), so no slot or hold can leak.
public final class KeyLease: Sendable {
    /// The key admitted.
    public let key: KeyEntry
    /// The key's user and group, whose money the request also holds.
    public let owner: Owner?
    /// What was held.
    public let demand: KeyDemand
    private let limiter: KeyLimiter
    private let done = Atomic<Bool>(false)
    private let settled = Mutex<(@Sendable (Money, Int64) -> Void)?>(nil)

    init(key: KeyEntry, owner: Owner?, demand: KeyDemand, limiter: KeyLimiter) {
        self.key = key
        self.owner = owner
        self.demand = demand
        self.limiter = limiter
    }

    /// Releases the slot and holds and charges the real cost; later calls do nothing.
    public func settle(cost: Money, tokens: Int64) {
        guard !done.exchange(true, ordering: .acquiringAndReleasing) else { return }
        limiter.settle(key, owner: owner, demand: demand, cost: cost, tokens: tokens)
        settled.withLock { $0.take() }?(cost, tokens)
    }

    /// Also runs `action` with the cost and tokens when the lease settles (a
    /// shared lease that must go back with it); at once when it already has.
    public func whenSettled(_ action: @escaping @Sendable (Money, Int64) -> Void) {
        settled.withLock { $0 = action }
        if done.load(ordering: .acquiring) { settled.withLock { $0.take() }?(.zero, 0) }
    }

    /// A lease dropped without `settle` is a bug in its owner: the slot and
    /// hold still go back (so none can leak), and the limiter counts it.
    deinit {
        guard !done.load(ordering: .acquiring) else { return }
        limiter.countDroppedLease()
        settle(cost: .zero, tokens: 0)
    }
}
