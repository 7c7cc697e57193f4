import Engine
import Policy
import Storage
import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Policy dry-runs: recorded requests replayed against proposed keys, users,
/// groups and prices (`switchboard policy simulate`, `POST /admin/policy/simulate`).
public struct PolicyAdmin: Sendable {
    let store: any GatewayStore
    /// The prices in force, which a proposal's `prices` override.
    let prices: PriceTable

    public init(store: any GatewayStore, prices: PriceTable) {
        self.store = store
        self.prices = prices
    }

    /// What is proposed: keys (by name, with their policy), users, groups, prices.
    public struct Proposal: Sendable {
        public var keys: [(name: String, policy: KeyPolicy, expiresAt: Date?)]
        public var users: [UserEntry]
        public var groups: [GroupEntry]
        public var prices: PriceTable

        public init(keys: [(name: String, policy: KeyPolicy, expiresAt: Date?)], users: [UserEntry], groups: [GroupEntry], prices: PriceTable) {
            self.keys = keys
            self.users = users
            self.groups = groups
            self.prices = prices
        }
    }

    /// The most ledger rows one simulation replays.
    public static let maxRows = 2_000_000

    /// A proposal as the admin API takes it: the config file's `keys`, `users`
    /// and `groups` as JSON lists (their settings named as in the file), and
    /// `prices` overrides in the price table's format.
    public func proposal(_ json: [String: JSONValue]) throws(AdminError) -> Proposal {
        if let unknown = json.keys.sorted().first(where: { !["since", "keys", "users", "groups", "prices"].contains($0) }) {
            throw AdminError(.invalid, "unknown field \(unknown); known: since, keys, users, groups, prices")
        }
        func list(_ name: String) throws(AdminError) -> [[String: JSONValue]] {
            guard let value = json[name], value != .null else { return [] }
            guard case .array(let items) = value else { throw AdminError(.invalid, "\(name) must be a list") }
            var objects: [[String: JSONValue]] = []
            for (index, item) in items.enumerated() {
                guard case .object(let object) = item, case .string(let name)? = object["name"], !name.isEmpty else {
                    throw AdminError(.invalid, "\(name)[\(index)] must be an object with a name")
                }
                objects.append(object)
            }
            return objects
        }
        func placed<T>(_ path: String, _ body: () throws(AdminError) -> T) throws(AdminError) -> T {
            do { return try body() } catch { throw AdminError(.invalid, "\(path): \(error.description)") }
        }
        var proposal = Proposal(keys: [], users: [], groups: [], prices: prices)
        for (index, object) in try list("keys").enumerated() {
            var settings = object
            settings["key"] = nil  // a proposal needs no secret
            let change = try placed("keys[\(index)]") { () throws(AdminError) in try KeySettings.apply(settings, to: KeyPolicy()) }
            if case .string(let name)? = object["name"] { proposal.keys.append((name, change.policy, change.expiresAt ?? nil)) }
        }
        for (index, object) in try list("users").enumerated() {
            guard case .string(let name)? = object["name"] else { continue }
            proposal.users.append(
                try placed("users[\(index)]") { () throws(AdminError) in try UserSettings.apply(object, to: UserEntry(id: 0, name: name)) })
        }
        for (index, object) in try list("groups").enumerated() {
            guard case .string(let name)? = object["name"] else { continue }
            proposal.groups.append(
                try placed("groups[\(index)]") { () throws(AdminError) in try GroupSettings.apply(object, to: GroupEntry(id: 0, name: name)) })
        }
        if let value = json["prices"], value != .null {
            guard case .object = value, let data = try? JSONEncoder().encode(value), let overrides = try? PriceTable(json: data) else {
                throw AdminError(.invalid, "prices must map model names to price fields, such as {\"gpt-4o\": {\"input_cost_per_token\": 2.5e-06}}")
            }
            proposal.prices = prices.overriding(with: overrides)
        }
        return proposal
    }

    /// Replays the ledger's rows from `since` against `proposal` (its keys, users
    /// and groups replace the stored ones of the same name; the rest as stored).
    /// Reads only.
    public func simulate(_ proposal: Proposal, since: Date, until: Date = Date()) async throws -> PolicySimulation.Report {
        var users = Dictionary(try await store.listUsers().map { ($0.name, $0) }) { a, _ in a }
        var nextUserID = Int64.min
        for var user in proposal.users {
            // A user new in the proposal gets an id of its own (the limiter keeps users by id).
            user.id = users[user.name]?.id ?? nextUserID
            nextUserID += 1
            users[user.name] = user
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
        var nextKeyID = Int64.min
        for declared in proposal.keys {
            var entry = keys[declared.name] ?? KeyEntry(id: nextKeyID, name: declared.name, enabled: true, expiresAt: nil)
            nextKeyID += 1
            // A budget period the proposal keeps runs on its stored schedule; a new one as if set when the replay starts.
            var policy = declared.policy
            policy.budgetAnchorHour = nil
            policy.anchorBudget(previous: keys[declared.name]?.policy, now: since)
            entry.policy = policy
            entry.expiresAt = declared.expiresAt ?? entry.expiresAt
            entry.enabled = entry.enabled && SnapshotLoader.ownerProblem(policy, users: users, groups: groups) == nil
            keys[declared.name] = entry
        }
        var rows: [LedgerRow] = []
        var query = LedgerQuery()
        query.from = since
        query.to = until
        query.limit = LedgerQuery.maxLimit
        while rows.count < Self.maxRows {
            let page = try await store.ledgerPage(query)
            rows += page.rows
            guard let next = page.next else { break }
            query.cursor = next
        }
        return PolicySimulation(keys: keys, users: users, groups: groups, prices: proposal.prices).run(rows)
    }
}
