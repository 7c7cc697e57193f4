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

/// One key as admins see it: never the key, its settings with the config
/// file's names, and its usage.
public struct KeyView: Sendable, Encodable {
    public var name: String
    /// The key's start and last four characters.
    public var key: String
    /// `active`, `disabled`, `expired` or `revoked`.
    public var state: String
    public var source: String
    public var createdAt: Date
    public var lastUsedAt: Date?
    public var expiresAt: Date?
    public var description: String?
    public var tags: [String]?
    public var user: String?
    public var onExpiry: String?
    public var activateOnFirstUseDays: Int?
    public var providers: [Provider]?
    public var models: [String]?
    public var clients: [String]?
    public var ipAllow: [String]?
    public var ipDeny: [String]?
    public var rateLimit: Rate?
    public var concurrency: Int?
    public var maxWaiting: Int?
    public var tokenLimit: Int64?
    public var dailyCostUsd: String?
    public var weeklyCostUsd: String?
    public var monthlyCostUsd: String?
    public var balanceUsd: String?
    /// Cost per budget period (`budget_usd`), the period (`budget_duration`, as `30d`) and when it next resets.
    public var budgetUsd: String?
    public var budgetDuration: String?
    public var modelBudgets: [String: ModelBudgetView]?
    /// When `reset_usage` last ran, and on what.
    public var usageResetAt: Date?
    public var usageReset: [String]?
    /// The pools and accounts it routes to, and whether shared accounts follow them.
    public var pools: [String]?
    public var accounts: [String]?
    public var fallbackToShared: Bool?
    public var usage: Usage

    public struct Rate: Sendable, Encodable {
        public var windowMinutes: Int
        public var requests: Int?
        public var tokens: Int64?
        public var costUsd: String?
    }

    /// Money as exact decimal strings: a balance is never rounded through a float.
    public struct Usage: Sendable, Encodable {
        public var inFlight: Int?
        public var windowRequests: Int?
        public var windowTokens: Int64?
        public var windowCostUsd: String?
        public var windowResetSeconds: Int?
        public var todayCostUsd: String
        /// This ISO week's and this month's cost (UTC).
        public var weekCostUsd: String
        public var monthCostUsd: String
        public var totalCostUsd: String
        public var totalTokens: Int64
        public var heldUsd: String?
        public var balanceRemainingUsd: String?
        /// What the budget period has spent, and when it ends (live in the server).
        public var budgetSpentUsd: String?
        public var budgetResetsAt: Date?
        /// Each model's cost today, this week and this month (live in the server).
        public var models: [String: ModelSpendView]?
    }
}

/// A model budget as admins see it and set it.
public struct ModelBudgetView: Sendable, Encodable, Equatable {
    public var dailyUsd: String?
    public var weeklyUsd: String?
    public var monthlyUsd: String?

    static func map(_ budgets: [ModelBudget]?) -> [String: ModelBudgetView]? {
        budgets.map { list in
            Dictionary(
                list.map {
                    (
                        $0.pattern,
                        ModelBudgetView(dailyUsd: $0.daily?.dollarsString, weeklyUsd: $0.weekly?.dollarsString, monthlyUsd: $0.monthly?.dollarsString)
                    )
                }
            ) { a, _ in a }
        }
    }
}

/// One model's cost in the current periods.
public struct ModelSpendView: Sendable, Encodable, Equatable {
    public var todayUsd: String
    public var weekUsd: String
    public var monthUsd: String

    static func map(_ models: [String: PeriodTotals]) -> [String: ModelSpendView]? {
        models.isEmpty
            ? nil
            : models.mapValues { ModelSpendView(todayUsd: $0.day.dollarsString, weekUsd: $0.week.dollarsString, monthUsd: $0.month.dollarsString) }
    }
}

/// Admin operations on keys, shared by the admin API (in the server: live usage,
/// changes at once) and the CLI (usage from the ledger; the server follows
/// within a second).
public struct KeyAdmin: Sendable {
    let store: any GatewayStore
    let hasher: KeyHasher
    let gateway: Gateway?
    let refresher: SnapshotRefresher?

    public init(store: any GatewayStore, hasher: KeyHasher, gateway: Gateway? = nil, refresher: SnapshotRefresher? = nil) {
        self.store = store
        self.hasher = hasher
        self.gateway = gateway
        self.refresher = refresher
    }

    /// Every key with its usage.
    public func list() async throws -> [KeyView] {
        let records = try await store.listKeys()
        let baselines = try await store.keyBaselines(now: Date())
        return records.map { view($0, baseline: baselines[$0.id]) }
    }

    /// One key.
    public func get(_ name: String) async throws -> KeyView {
        guard let found = try await list().first(where: { $0.name == name }) else { throw AdminError(.notFound, "no key named \(name)") }
        return found
    }

    /// Creates a key from settings; returns it with the only copy of the key.
    public func create(name: String, settings json: [String: JSONValue], source: String) async throws -> (KeyView, String) {
        try await trail.audited("key.create", name, read: { try? await get(name) }) {
            if let problem = RecordName.problem(name) { throw AdminError(.invalid, problem) }
            if try await store.listKeys().contains(where: { $0.name == name }) { throw AdminError(.conflict, "a key named \(name) exists") }
            let change = try KeySettings.apply(json, to: KeyPolicy())
            let plaintext = change.key ?? KeyGenerator.make()
            guard plaintext.count >= KeyGenerator.minimumLength else {
                throw AdminError(.invalid, "a key must be at least \(KeyGenerator.minimumLength) characters")
            }
            _ = try await store.insertKey(
                KeyInput(
                    name: name, hash: hasher.hash(plaintext), prefix: KeyGenerator.displayPrefix(of: plaintext),
                    lastFour: KeyGenerator.lastFour(of: plaintext), source: source, expiresAt: change.expiresAt ?? change.expiry(from: Date()),
                    policy: change.policy))
            if change.enabled == false { _ = try await update(name, settings: ["enabled": .bool(false)]) }
            await refresher?.refreshIfChanged()
            return (try await get(name), plaintext)
        }
    }

    /// Changes the given settings; the rest stay.
    public func update(_ name: String, settings json: [String: JSONValue]) async throws -> KeyView {
        try await trail.audited(Self.updateAction(json), name, read: { try? await get(name) }) {
            guard let record = try await store.listKeys().first(where: { $0.name == name }) else {
                throw AdminError(.notFound, "no key named \(name)")
            }
            if json["key"] != nil { throw AdminError(.invalid, "a key's secret cannot be changed; create a new key") }
            if let unreadable = record.unreadable {
                throw AdminError(.conflict, "the key's stored settings cannot be read (\(unreadable)); delete it and create it again")
            }
            let change = try KeySettings.apply(json, to: record.policy)
            guard record.revokedAt == nil || change.enabled != true else { throw AdminError(.invalid, "a revoked key cannot be enabled") }
            _ = try await store.updateKey(
                name: name, policy: change.policy, enabled: change.enabled ?? record.enabled,
                expiresAt: change.expiresAt ?? change.expiry(from: Date()) ?? record.expiresAt, keepStoredBalance: json["balance_usd"] == nil)
            await refresher?.refreshIfChanged()
            return try await get(name)
        }
    }

    /// Adds to (positive) or takes from (negative) a key's balance. A deduction
    /// larger than what remains is refused.
    public func adjustBalance(_ name: String, by amount: Money) async throws -> KeyView {
        try await trail.audited(amount > .zero ? "key.topup" : "key.deduct", name, read: { try? await get(name) }) {
            guard let record = try await store.listKeys().first(where: { $0.name == name }) else {
                throw AdminError(.notFound, "no key named \(name)")
            }
            if let unreadable = record.unreadable {
                throw AdminError(.conflict, "the key's stored settings cannot be read (\(unreadable)); delete it and create it again")
            }
            try await BalanceChange.apply(amount, remaining: { try await remaining(record) }) {
                _ = try await store.adjustKeyBalance(name: name, by: amount)
            }
            await refresher?.refreshIfChanged()
            return try await get(name)
        }
    }

    /// Deletes a key; its ledger rows stay, under its name.
    public func delete(_ name: String) async throws {
        try await trail.audited("key.delete", name, read: { try? await get(name) }) {
            guard try await store.deleteKey(name: name) else { throw AdminError(.notFound, "no key named \(name)") }
            await refresher?.refreshIfChanged()
        }
    }

    /// Starts a key's usage again (`reset_usage`): its rate window, today's cost
    /// and its lifetime tokens, or the parts named. In the server the live
    /// counters are read and zeroed in one step; the CLI reads them from the
    /// ledger, and the server applies the reset when it sees it (within a second).
    public func resetUsage(_ name: String, parts: Set<UsagePart>) async throws -> KeyView {
        try await trail.audited("key.reset_usage", name, read: { try? await get(name) }) {
            guard let record = try await store.listKeys().first(where: { $0.name == name }) else {
                throw AdminError(.notFound, "no key named \(name)")
            }
            if let unreadable = record.unreadable {
                throw AdminError(.conflict, "the key's stored settings cannot be read (\(unreadable)); delete it and create it again")
            }
            guard !parts.isEmpty else { throw AdminError(.invalid, "name at least one of window, daily, tokens") }
            let reset: UsageReset
            if let gateway, let entry = gateway.keyEntry(id: record.id) {
                reset = gateway.limiter.resetUsage(entry, parts: parts)
            } else {
                let now = Date()
                let baseline = try await store.keyBaselines(now: now)[record.id]
                reset = UsageReset.next(
                    after: record.policy.usageReset, parts: parts, at: now, tokens: baseline?.tokens ?? 0, day: baseline?.today ?? .zero,
                    dayStart: Periods.dayStart(of: now))
            }
            var policy = record.policy
            policy.usageReset = reset
            _ = try await store.updateKey(
                name: name, policy: policy, enabled: record.enabled, expiresAt: record.expiresAt, keepStoredBalance: true)
            await refresher?.refreshIfChanged()
            return try await get(name)
        }
    }

    /// The parts a `reset_usage` body names (`{"parts": ["daily"]}`); all of them when it names none.
    public static func resetParts(_ json: [String: JSONValue]) throws(AdminError) -> Set<UsagePart> {
        if let unknown = json.keys.sorted().first(where: { $0 != "parts" }) { throw AdminError(.invalid, "unknown field \(unknown); known: parts") }
        guard let value = json["parts"], value != .null else { return Set(UsagePart.allCases) }
        var parts: Set<UsagePart> = []
        for name in try SettingValue.list(value, "parts") ?? [] {
            guard let part = UsagePart(rawValue: name) else { throw AdminError(.invalid, "parts: \(name) is not window, daily or tokens") }
            parts.insert(part)
        }
        return parts
    }

    /// What the balance still covers: live in the server (holds included), from the ledger elsewhere.
    private func remaining(_ record: KeyRecord) async throws -> Money {
        let balance = record.policy.balance ?? .zero
        if let gateway, let entry = gateway.keyEntry(id: record.id) {
            return gateway.limiter.usage(of: entry).balanceRemaining ?? balance
        }
        let spent = try await store.keyBaselines(now: Date())[record.id]?.spent ?? .zero
        return balance - spent
    }

    private func view(_ record: KeyRecord, baseline: KeyBaseline?) -> KeyView {
        let policy = record.policy
        func usd(_ amount: Money?) -> String? { amount?.dollarsString }
        let usage: KeyView.Usage
        if let gateway, let entry = gateway.keyEntry(id: record.id) {
            let live = gateway.limiter.usage(of: entry)
            usage = KeyView.Usage(
                inFlight: live.inFlight, windowRequests: live.windowRequests, windowTokens: live.windowTokens,
                windowCostUsd: usd(live.windowCost), windowResetSeconds: live.windowResetSeconds,
                todayCostUsd: live.today.dollarsString, weekCostUsd: live.week.dollarsString, monthCostUsd: live.month.dollarsString,
                totalCostUsd: live.spent.dollarsString, totalTokens: live.tokens,
                heldUsd: usd(live.held), balanceRemainingUsd: usd(live.balanceRemaining), budgetSpentUsd: usd(live.budgetSpent),
                budgetResetsAt: live.budgetResetsAt, models: ModelSpendView.map(live.models))
        } else {
            let spent = baseline?.spent ?? .zero
            usage = KeyView.Usage(
                inFlight: nil, windowRequests: nil, windowTokens: nil, windowCostUsd: nil, windowResetSeconds: nil,
                todayCostUsd: (baseline?.today ?? .zero).dollarsString, weekCostUsd: (baseline?.week ?? .zero).dollarsString,
                monthCostUsd: (baseline?.month ?? .zero).dollarsString, totalCostUsd: spent.dollarsString, totalTokens: baseline?.tokens ?? 0,
                heldUsd: nil, balanceRemainingUsd: usd(policy.balance.map { $0 - spent }),
                budgetSpentUsd: policy.budget == nil ? nil : usd(baseline?.budget?.spent ?? (policy.budgetDurationHours == nil ? spent : .zero)),
                budgetResetsAt: policy.budgetPeriod(at: Date())?.end, models: ModelSpendView.map(baseline?.models ?? [:]))
        }
        return KeyView(
            name: record.name, key: KeyGenerator.display(prefix: record.prefix, lastFour: record.lastFour), state: record.state(now: Date()),
            source: record.source,
            createdAt: record.createdAt, lastUsedAt: record.lastUsedAt, expiresAt: record.expiresAt,
            description: policy.description, tags: policy.tags, user: policy.user, onExpiry: policy.onExpiry,
            activateOnFirstUseDays: policy.activateOnFirstUseDays,
            providers: policy.providers, models: policy.models, clients: policy.clients,
            ipAllow: policy.ipAllow?.map(\.description), ipDeny: policy.ipDeny?.map(\.description),
            rateLimit: policy.rateLimit.map {
                KeyView.Rate(windowMinutes: $0.windowMinutes, requests: $0.requests, tokens: $0.tokens, costUsd: usd($0.cost))
            },
            concurrency: policy.concurrency, maxWaiting: policy.maxWaiting, tokenLimit: policy.tokenLimit,
            dailyCostUsd: usd(policy.dailyCost), weeklyCostUsd: usd(policy.weeklyCost), monthlyCostUsd: usd(policy.monthlyCost),
            balanceUsd: usd(policy.balance), budgetUsd: usd(policy.budget), budgetDuration: policy.budgetDurationHours.map(Self.hoursText),
            modelBudgets: ModelBudgetView.map(policy.modelBudgets),
            usageResetAt: policy.usageReset.map { Date(timeIntervalSince1970: Double($0.atMilliseconds) / 1000) },
            usageReset: policy.usageReset?.parts.map(\.rawValue), pools: policy.binding?.pools, accounts: policy.binding?.accounts,
            fallbackToShared: policy.binding?.fallbackToShared, usage: usage)
    }

    /// Whole hours as the settings write them: `30d` when whole days, else `36h`.
    static func hoursText(_ hours: Int) -> String { hours % 24 == 0 ? "\(hours / 24)d" : "\(hours)h" }
}

/// A top-up or deduction of a key's or user's balance, as admins make them.
enum BalanceChange {
    /// Refuses a deduction larger than what remains, writes the change, and
    /// says so when a top-up would pass what the gateway holds.
    static func apply(_ amount: Money, remaining: () async throws -> Money, write: () async throws -> Void) async throws {
        if amount < .zero {
            let left = try await remaining()
            guard Money.zero - amount <= left else {
                throw AdminError(.invalid, "the deduction (\(Money.zero - amount)) is larger than what remains (\(left))")
            }
        }
        do {
            try await write()
        } catch let error as StoreError where error.code == .outOfRange {
            throw AdminError(.invalid, "the top-up would take the balance past \(Money.max); it was not applied")
        }
    }
}

extension KeyAdmin {
    var trail: AuditTrail { AuditTrail(store: store, logger: Logger(label: "switchboard")) }

    /// `key.enable` or `key.disable` for a change of state alone, `key.update` otherwise.
    static func updateAction(_ json: [String: JSONValue]) -> String {
        guard json.count == 1, case .bool(let enabled)? = json["enabled"] else { return "key.update" }
        return enabled ? "key.enable" : "key.disable"
    }
}
