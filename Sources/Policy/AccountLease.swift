import SwitchboardCore
import Synchronization

/// What one attempt on an account came to, as far as the account is concerned.
public enum AttemptOutcome: Sendable, Equatable {
    /// The tokens the attempt counts against the account's window.
    public var tokens: Int64 {
        switch self {
        case .served(let tokens), .notBlamed(let tokens): return tokens
        case .failed: return 0
        }
    }

    /// The account answered; these tokens count against its window.
    case served(tokens: Int64)
    /// The attempt ended for reasons that are not the account's (the client's own
    /// bad request, the client leaving); its tokens still count.
    case notBlamed(tokens: Int64)
    /// The account failed; `retryAfter` is the wait the upstream named, if any.
    case failed(FailureClass, retryAfter: Duration?, detail: String)
}

/// A slot on an account, held for one attempt. It goes back exactly once: by
/// `finish`, or when the lease is dropped (a client gone mid-stream), so no slot
/// can leak.
public final class AccountLease: Sendable {
    /// The account the slot is on.
    public let account: AccountEntry
    /// What the slot is for: its failures cool that lane only.
    public let lane: AccountLane
    /// Why this account was the one.
    public let choice: AccountChoice
    private let pool: AccountPool
    private let done = Atomic<Bool>(false)
    private let finished = Mutex<(@Sendable (AttemptOutcome) -> Void)?>(nil)

    init(account: AccountEntry, lane: AccountLane, choice: AccountChoice, pool: AccountPool) {
        self.account = account
        self.lane = lane
        self.choice = choice
        self.pool = pool
    }

    /// Returns the slot with the attempt's outcome; later calls do nothing.
    public func finish(_ outcome: AttemptOutcome) {
        guard !done.exchange(true, ordering: .acquiringAndReleasing) else { return }
        pool.finish(account, outcome, lane: lane)
        finished.withLock { $0.take() }?(outcome)
    }

    /// Also runs `action` with the outcome when the slot goes back (a shared
    /// slot that must go back with it); at once when it already has.
    public func whenFinished(_ action: @escaping @Sendable (AttemptOutcome) -> Void) {
        finished.withLock { $0 = action }
        if done.load(ordering: .acquiring) { finished.withLock { $0.take() }?(.notBlamed(tokens: 0)) }
    }

    /// A lease dropped without `finish` is a bug in its owner: the slot still
    /// goes back (so none can leak), and the pool counts it for tests to see.
    deinit {
        guard !done.load(ordering: .acquiring) else { return }
        pool.countDroppedLease()
        finish(.notBlamed(tokens: 0))
    }
}

/// Why the pool gave a request the account it did, as the ledger records it.
public enum AccountChoice: String, Sendable {
    /// The request's session was already on it.
    case session
    /// It ranked first among the usable ones: priority, then load, then least recently used.
    case ranked
    /// Every candidate was full, and a slot on it came free while the request waited.
    case waited
    /// A new session whose prompt starts as a recent one did went where that one's cache is warm.
    case prefix
}
