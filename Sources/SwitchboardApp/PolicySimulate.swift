import Engine
import Foundation
import Policy
import Storage
import SwitchboardCore

extension Admin {
    /// The most ledger rows one simulation replays.
    public static let maxSimulatedRows = 2_000_000

    /// Replays the ledger's rows from `since` against `proposal`: its keys,
    /// users and groups (replacing the stored ones of the same name; the rest as
    /// stored) and its prices. Reads only.
    public func simulate(_ proposal: Configuration, since: Date, until: Date = Date()) async throws -> PolicySimulation.Report {
        let store = context.store
        var users = Dictionary(try await store.listUsers().map { ($0.name, $0) }) { a, _ in a }
        var nextUserID = Int64.min
        for user in proposal.users {
            // A user new in the proposal gets an id of its own (the limiter keeps users by id).
            let id = users[user.name]?.id ?? nextUserID
            nextUserID += 1
            users[user.name] = with(user) { $0.id = id }
        }
        var groups = Dictionary(try await store.listGroups().map { ($0.name, $0) }) { a, _ in a }
        for group in proposal.groups { groups[group.name] = group }
        var keys: [String: KeyEntry] = [:]
        for key in try await store.listKeys() {
            let refusal = key.unreadable ?? SnapshotLoader.ownerProblem(key.policy, users: users, groups: groups)
            keys[key.name] = KeyEntry(
                id: key.id, name: key.name, enabled: key.enabled && key.revokedAt == nil && refusal == nil, expiresAt: key.expiresAt,
                policy: key.policy)
        }
        var nextID = Int64.min
        for declared in proposal.keys {
            var entry = keys[declared.name] ?? KeyEntry(id: nextID, name: declared.name, enabled: true, expiresAt: nil)
            nextID += 1
            // A budget period the proposal keeps runs on its stored schedule; a new one as if set when the replay starts.
            var policy = declared.policy
            policy.budgetAnchorHour = nil
            policy.anchorBudget(previous: keys[declared.name]?.policy, now: since)
            entry.policy = policy
            entry.expiresAt = declared.expiresAt ?? entry.expiresAt
            entry.enabled = entry.enabled && SnapshotLoader.ownerProblem(declared.policy, users: users, groups: groups) == nil
            keys[declared.name] = entry
        }
        var rows: [LedgerRow] = []
        var query = LedgerQuery()
        query.from = since
        query.to = until
        query.limit = LedgerQuery.maxLimit
        while rows.count < Self.maxSimulatedRows {
            let page = try await store.ledgerPage(query)
            rows += page.rows
            guard let next = page.next else { break }
            query.cursor = next
        }
        let simulation = PolicySimulation(keys: keys, users: users, groups: groups, prices: try proposal.priceTable())
        return simulation.run(rows)
    }
}

/// `value` changed by `change`.
private func with<T>(_ value: T, _ change: (inout T) -> Void) -> T {
    var copy = value
    change(&copy)
    return copy
}
