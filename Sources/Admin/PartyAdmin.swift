import Engine
import Logging
import Policy
import Storage
import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A user as admins see it.
public struct UserView: Sendable, Encodable {
    public var name: String
    public var group: String?
    public var description: String?
    public var balanceUsd: String?
    public var ipAllow: [String]?
    public var ipDeny: [String]?
    /// Requests in flight at once across the user's keys, its queue, and its model budgets.
    public var concurrency: Int?
    public var maxWaiting: Int?
    public var modelBudgets: [String: ModelBudgetView]?
    /// What the tightest of the user's budgets still covers (live in the server,
    /// from the ledger elsewhere); nil when nothing is limited.
    public var remainingUsd: String?
    public var spentUsd: String
    /// The pools and accounts its keys route to (unless a key has its own).
    public var pools: [String]?
    public var accounts: [String]?
    public var fallbackToShared: Bool?
}

/// A group as admins see it.
public struct GroupView: Sendable, Encodable {
    public var name: String
    /// The price multiplier as an exact decimal (`1.5`).
    public var multiplier: String
    /// Multipliers for models matching a glob, instead of `multiplier` (`{"claude-opus-*": "1.5"}`).
    public var priceMultiplier: [String: String]?
    public var subscription: Subscription?
    /// The pools and accounts its users' keys route to (unless a user or key has its own).
    public var pools: [String]?
    public var accounts: [String]?
    public var fallbackToShared: Bool?

    public struct Subscription: Sendable, Encodable {
        public var dailyUsd: String?
        public var weeklyUsd: String?
        public var monthlyUsd: String?
    }
}

/// Admin operations on users and groups, shared by the admin API and the CLI.
public struct PartyAdmin: Sendable {
    let store: any GatewayStore
    let gateway: Gateway?
    let refresher: SnapshotRefresher?

    public init(store: any GatewayStore, gateway: Gateway? = nil, refresher: SnapshotRefresher? = nil) {
        self.store = store
        self.gateway = gateway
        self.refresher = refresher
    }

    // MARK: users

    public func users() async throws -> [UserView] {
        let groups = Dictionary(try await store.listGroups().map { ($0.name, $0) }) { a, _ in a }
        let baselines = try await store.userBaselines(now: Date())
        return try await store.listUsers().map { user in
            let owner = Owner(user: user, group: user.group.flatMap { groups[$0] })
            let spent = baselines[user.name]?.spent ?? .zero
            let remaining =
                gateway.map { $0.limiter.remaining(of: owner) }
                ?? UserBaseline.remaining(baselines[user.name], owner: owner, now: Date())
            return UserView(
                name: user.name, group: user.group, description: user.description,
                balanceUsd: user.balance?.dollarsString, ipAllow: user.addresses.allow?.map(\.description),
                ipDeny: user.addresses.deny?.map(\.description), concurrency: user.limits.concurrency, maxWaiting: user.limits.maxWaiting,
                modelBudgets: ModelBudgetView.map(user.limits.modelBudgets), remainingUsd: remaining?.dollarsString, spentUsd: spent.dollarsString,
                pools: user.binding?.pools, accounts: user.binding?.accounts, fallbackToShared: user.binding?.fallbackToShared)
        }
    }

    public func createUser(_ json: [String: JSONValue]) async throws -> UserView {
        try await trail.audited("user.create", Self.name(json), read: { await user(Self.name(json)) }) {
            guard case .string(let name)? = json["name"], !name.isEmpty else { throw AdminError(.invalid, "name is required") }
            if let problem = RecordName.problem(name) { throw AdminError(.invalid, problem) }
            if try await store.listUsers().contains(where: { $0.name == name }) { throw AdminError(.conflict, "a user named \(name) exists") }
            return try await saveUser(try await applyUser(json, to: UserEntry(id: 0, name: name)), setBalance: true)
        }
    }

    public func updateUser(_ name: String, _ json: [String: JSONValue]) async throws -> UserView {
        try await trail.audited("user.update", name, read: { await user(name) }) {
            guard let user = try await store.listUsers().first(where: { $0.name == name }) else {
                throw AdminError(.notFound, "no user named \(name)")
            }
            if json["balance_usd"] != nil { throw AdminError(.invalid, "change a balance with topup or deduct, so every change is deliberate") }
            return try await saveUser(try await applyUser(json, to: user), setBalance: false)
        }
    }

    /// Adds to (positive) or takes from (negative) a user's balance; a deduction
    /// larger than what remains is refused.
    public func adjustUserBalance(_ name: String, by amount: Money) async throws -> UserView {
        try await trail.audited(amount > .zero ? "user.topup" : "user.deduct", name, read: { await user(name) }) {
            guard let user = try await store.listUsers().first(where: { $0.name == name }) else {
                throw AdminError(.notFound, "no user named \(name)")
            }
            if let unreadable = user.unreadable {
                throw AdminError(.conflict, "the user's stored balance cannot be read (\(unreadable))")
            }
            try await BalanceChange.apply(
                amount,
                remaining: {
                    try await users().first { $0.name == name }?.remainingUsd.flatMap { Money(dollars: $0) } ?? (user.balance ?? .zero)
                }
            ) {
                _ = try await store.adjustUserBalance(name: name, by: amount)
            }
            await refresher?.refreshIfChanged()
            guard let view = try await users().first(where: { $0.name == name }) else { throw AdminError(.notFound, "no user named \(name)") }
            return view
        }
    }

    public func deleteUser(_ name: String) async throws {
        try await trail.audited("user.delete", name, read: { await user(name) }) {
            // A key whose user vanished would be refused (its owner's budget cannot be
            // found): say so now instead.
            if let key = try await store.listKeys().first(where: { $0.policy.user == name }) {
                throw AdminError(.conflict, "key \(key.name) still belongs to user \(name); move or delete it first")
            }
            guard try await store.deleteUser(name: name) else { throw AdminError(.notFound, "no user named \(name)") }
            await refresher?.refreshIfChanged()
        }
    }

    private func applyUser(_ json: [String: JSONValue], to user: UserEntry) async throws -> UserEntry {
        let changed = try UserSettings.apply(json, to: user)
        if let group = changed.group, changed.group != user.group, try await !store.listGroups().contains(where: { $0.name == group }) {
            throw AdminError(.invalid, "no group named \(group)")
        }
        return changed
    }

    private func saveUser(_ user: UserEntry, setBalance: Bool) async throws -> UserView {
        _ = try await store.upsertUser(user, setBalance: setBalance)
        await refresher?.refreshIfChanged()
        guard let view = try await users().first(where: { $0.name == user.name }) else { throw AdminError(.notFound, "no user named \(user.name)") }
        return view
    }

    // MARK: groups

    public func groups() async throws -> [GroupView] { try await store.listGroups().map(Self.view) }

    public func createGroup(_ json: [String: JSONValue]) async throws -> GroupView {
        try await trail.audited("group.create", Self.name(json), read: { await group(Self.name(json)) }) {
            guard case .string(let name)? = json["name"], !name.isEmpty else { throw AdminError(.invalid, "name is required") }
            if let problem = RecordName.problem(name) { throw AdminError(.invalid, problem) }
            if try await store.listGroups().contains(where: { $0.name == name }) { throw AdminError(.conflict, "a group named \(name) exists") }
            return try await saveGroup(try Self.applyGroup(json, to: GroupEntry(id: 0, name: name)))
        }
    }

    public func updateGroup(_ name: String, _ json: [String: JSONValue]) async throws -> GroupView {
        try await trail.audited("group.update", name, read: { await group(name) }) {
            guard let group = try await store.listGroups().first(where: { $0.name == name }) else {
                throw AdminError(.notFound, "no group named \(name)")
            }
            return try await saveGroup(try Self.applyGroup(json, to: group))
        }
    }

    public func deleteGroup(_ name: String) async throws {
        try await trail.audited("group.delete", name, read: { await group(name) }) {
            if try await store.listUsers().contains(where: { $0.group == name }) {
                throw AdminError(.conflict, "users still belong to group \(name); move them first")
            }
            guard try await store.deleteGroup(name: name) else { throw AdminError(.notFound, "no group named \(name)") }
            await refresher?.refreshIfChanged()
        }
    }

    static func applyGroup(_ json: [String: JSONValue], to group: GroupEntry) throws(AdminError) -> GroupEntry {
        try GroupSettings.apply(json, to: group)
    }

    private func saveGroup(_ group: GroupEntry) async throws -> GroupView {
        let saved = try await store.upsertGroup(group)
        await refresher?.refreshIfChanged()
        return Self.view(saved)
    }

    /// A multiplier as an exact decimal (`1.5`).
    static func multiplierText(_ ppm: Int64) -> String { Money(picos: ppm.saturatingMultiply(1_000_000)).dollarsString }

    static func view(_ group: GroupEntry) -> GroupView {
        return GroupView(
            name: group.name, multiplier: Self.multiplierText(group.multiplierPPM),
            priceMultiplier: group.modelMultipliers.isEmpty ? nil : group.modelMultipliers.mapValues(Self.multiplierText),
            subscription: group.hasSubscription
                ? .init(dailyUsd: group.daily?.dollarsString, weeklyUsd: group.weekly?.dollarsString, monthlyUsd: group.monthly?.dollarsString)
                : nil, pools: group.binding?.pools, accounts: group.binding?.accounts, fallbackToShared: group.binding?.fallbackToShared)
    }
}

extension PartyAdmin {
    var trail: AuditTrail { AuditTrail(store: store, logger: Logger(label: "switchboard")) }

    /// The name a create asks for (checked by the create itself).
    static func name(_ json: [String: JSONValue]) -> String {
        if case .string(let name)? = json["name"] { return name }
        return ""
    }

    func user(_ name: String) async -> UserView? { try? await users().first { $0.name == name } }
    func group(_ name: String) async -> GroupView? { try? await groups().first { $0.name == name } }
}
