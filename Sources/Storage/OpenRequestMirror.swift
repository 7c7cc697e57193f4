import Synchronization

/// The requests this process has open, as the other replicas may need them:
/// with replicas on PostgreSQL, each files what its journal holds open
/// (`shared_open_requests`) about once a second, and withdraws each once its
/// row is in the database. A replica that dies and never comes back cannot
/// replay its journal; the replica that sweeps its expired leases records
/// what it left filed as `interrupted` rows instead.
///
/// A request opened and closed between two filings is never filed.
public final class OpenRequestMirror: Sendable {
    struct State {
        /// Opened, not filed yet.
        var fresh: [String: LedgerJournal.Entry] = [:]
        /// Filed, still open.
        var filed: Set<String> = []
        /// Filed and closed since: to withdraw.
        var gone: [String] = []
    }

    private let state = Mutex(State())

    public init() {}

    func opened(_ entry: LedgerJournal.Entry) {
        state.withLock { $0.fresh[entry.requestID] = entry }
    }

    func closed(_ requestIDs: [String]) {
        state.withLock { state in
            for id in requestIDs where state.fresh.removeValue(forKey: id) == nil {
                if state.filed.remove(id) != nil { state.gone.append(id) }
            }
        }
    }

    /// What to file and what to withdraw now; counted as done (`restore` undoes it when the database refused).
    public func changes() -> (file: [LedgerJournal.Entry], withdraw: [String]) {
        state.withLock { state in
            let file = Array(state.fresh.values)
            state.filed.formUnion(state.fresh.keys)
            state.fresh = [:]
            defer { state.gone = [] }
            return (file, state.gone)
        }
    }

    /// Puts back changes the database did not take: filed again next time, unless closed meanwhile.
    public func restore(file: [LedgerJournal.Entry], withdraw: [String]) {
        state.withLock { state in
            for entry in file where state.filed.remove(entry.requestID) != nil { state.fresh[entry.requestID] = entry }
            state.gone += withdraw
        }
    }
}

extension OpenRequestMirror {
    /// A mirror when `store` is shared by replicas (PostgreSQL); nil for one process.
    public static func shared(by store: any GatewayStore) -> OpenRequestMirror? {
        guard let store = store as? SQLStore, store.dialect == .postgres else { return nil }
        return OpenRequestMirror()
    }
}
