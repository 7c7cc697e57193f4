import Policy
import SwitchboardCore
import Synchronization

/// Everything a request decides on, frozen: keys and accounts. A new snapshot
/// replaces the old one as a whole; readers never see half an update.
public final class Snapshot: Sendable {
    /// Keys by hash.
    public let keys: KeyDirectory
    /// Accounts by model.
    public let accounts: AccountDirectory
    /// The store revision this snapshot was built from.
    public let revision: Int64
    /// Users by name.
    public let users: [String: UserEntry]
    /// Groups by name.
    public let groups: [String: GroupEntry]
    /// Model aliases by name (`models:`).
    public let aliases: [String: ModelAlias]
    /// Sessions and keys quarantined after a ban signal, not released.
    public let quarantines: [Quarantine]
    /// Failovers allowed within each capped provider's accounts (`providers:`).
    public let providerFailovers: [Provider: Int]
    /// Users by id, for the limiter's queues.
    let usersByID: [Int64: UserEntry]

    /// Creates a snapshot.
    public init(
        keys: KeyDirectory, accounts: AccountDirectory, revision: Int64, users: [String: UserEntry] = [:],
        groups: [String: GroupEntry] = [:], aliases: [String: ModelAlias] = [:], quarantines: [Quarantine] = [],
        providerFailovers: [Provider: Int] = [:]
    ) {
        self.aliases = aliases
        self.providerFailovers = providerFailovers
        self.quarantines = quarantines
        self.keys = keys
        self.accounts = accounts
        self.revision = revision
        self.users = users
        self.groups = groups
        usersByID = Dictionary(users.values.map { ($0.id, $0) }) { a, _ in a }
    }

    /// A user and its group as this snapshot has them, by the user's id.
    public func owner(userID: Int64) -> Owner? {
        guard let user = usersByID[userID] else { return nil }
        return Owner(user: user, group: user.group.flatMap { groups[$0] })
    }

    /// Whether some account's secret names a master key this process has not
    /// found (yet): the refresher keeps retrying until it appears.
    public var awaitsMasterKey: Bool { accounts.accounts.contains { $0.unusableReason?.contains("sealed with master key") == true } }

    /// Whose money a key's requests also spend: its user and the user's group.
    public func owner(of key: KeyEntry) -> Owner? {
        guard let name = key.policy.user, let user = users[name] else { return nil }
        return Owner(user: user, group: user.group.flatMap { groups[$0] })
    }

    /// An empty snapshot, before the first load.
    public static let empty = Snapshot(keys: KeyDirectory(), accounts: AccountDirectory(), revision: -1)
}

/// Holds the current snapshot; the hot path does one locked load of a reference.
public final class SnapshotHolder: Sendable {
    private let current: Mutex<Snapshot>
    private let storeFailure = Mutex<String?>(nil)

    /// Why the store did not answer the last time the refresher asked it, or
    /// nil while it answers (readiness reports it).
    public var storeUnavailable: String? { storeFailure.withLock { $0 } }

    /// Records whether the store answered.
    public func noteStore(failure: String?) { storeFailure.withLock { $0 = failure } }

    /// Holds the given snapshot.
    public init(_ snapshot: Snapshot = .empty) { current = Mutex(snapshot) }

    /// The snapshot in force.
    public var snapshot: Snapshot { current.withLock { $0 } }

    /// Replaces the snapshot.
    public func replace(with snapshot: Snapshot) { current.withLock { $0 = snapshot } }
}
