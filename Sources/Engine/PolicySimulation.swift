import Policy
import Storage
import SwitchboardCore
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Replays recorded requests (their ledger rows: key, user, model, tokens, the
/// time each started and how long it ran) against proposed keys, users, groups
/// and prices, through the same limiter the gateway admits with, and reports
/// per key what would have been refused and why, what the admitted requests
/// would have cost, and the peak concurrency. Nothing is sent or written.
///
/// Each admitted request holds exactly what it would cost (hindsight, not the
/// gateway's estimate), so a refusal means the budget truly could not cover it.
/// Budgets count from the replay's start. A request the proposal would queue for
/// a slot is counted as `queued` and admitted without one (the replay does not
/// move later requests to where the queue would have put them).
public struct PolicySimulation: Sendable {
    /// The proposal: keys by name, users and groups by name, prices.
    public var keys: [String: KeyEntry]
    public var users: [String: UserEntry]
    public var groups: [String: GroupEntry]
    public var prices: PriceTable

    public init(keys: [String: KeyEntry], users: [String: UserEntry], groups: [String: GroupEntry], prices: PriceTable) {
        self.keys = keys
        self.users = users
        self.groups = groups
        self.prices = prices
    }

    /// One key's outcome.
    public struct KeyReport: Sendable, Equatable, Encodable {
        public var key: String
        public var requests = 0
        public var admitted = 0
        public var queued = 0
        /// Refusals by reason (`daily_cost`, `rate_limited:requests`, `model_budget:claude-opus-*:daily`, `model_not_allowed`, …).
        public var refused: [String: Int] = [:]
        /// What the recorded requests were charged, all of them.
        public var recordedCostUsd = "0"
        /// What the admitted ones would cost under the proposal's prices and multipliers.
        public var simulatedCostUsd = "0"
        public var peakConcurrency = 0
    }

    /// The whole report, keys by name.
    public struct Report: Sendable, Equatable, Encodable {
        public var from: Date?
        public var to: Date?
        public var requests = 0
        public var refused = 0
        public var recordedCostUsd = "0"
        public var simulatedCostUsd = "0"
        public var keys: [KeyReport] = []
        /// Rows of keys the proposal does not know (deleted since): not replayed.
        public var unknownKeyRows = 0
    }

    /// Replays `rows` (in any order).
    public func run(_ rows: [LedgerRow]) -> Report {
        struct Event {
            var time: Date
            var ends: Bool
            var index: Int
        }
        let rows = rows.filter { $0.keyName != nil }
        var events: [Event] = []
        events.reserveCapacity(rows.count * 2)
        for (index, row) in rows.enumerated() {
            events.append(Event(time: row.createdAt, ends: false, index: index))
            events.append(Event(time: row.createdAt.addingTimeInterval(Double(max(0, row.latencyMs)) / 1000), ends: true, index: index))
        }
        // In time order; at one instant, ends first (they free what starts need).
        events.sort { ($0.time, $0.ends ? 0 : 1, $0.index) < ($1.time, $1.ends ? 0 : 1, $1.index) }
        let clock = ReplayClock(start: events.first?.time ?? Date())
        let byID = Dictionary(keys.values.map { ($0.id, $0) }) { a, _ in a }
        let limiter = KeyLimiter(clock: clock, currentKey: { byID[$0] })
        var reports: [String: KeyReport] = [:]
        var recorded: [String: Money] = [:]
        var simulated: [String: Money] = [:]
        var inFlight: [String: Int] = [:]
        var leases: [Int: (KeyLease, Money)] = [:]
        var report = Report(from: rows.map(\.createdAt).min(), to: rows.map(\.createdAt).max())
        for event in events {
            clock.set(event.time)
            let row = rows[event.index]
            let name = row.keyName ?? ""
            if event.ends {
                guard let (lease, cost) = leases.removeValue(forKey: event.index) else { continue }
                lease.settle(cost: cost, tokens: row.usage.total)
                inFlight[name, default: 1] -= 1
                continue
            }
            guard let key = keys[name] else {
                report.unknownKeyRows += 1
                continue
            }
            var entry = reports[name] ?? KeyReport(key: name)
            entry.requests += 1
            recorded[name, default: .zero] += row.cost
            let owner = key.policy.user.flatMap { users[$0] }.map { Owner(user: $0, group: $0.group.flatMap { groups[$0] }) }?.pricing(
                row.model ?? "")
            let cost = self.cost(of: row, owner: owner)
            if let reason = refusalBeforeAdmission(row, key: key, owner: owner) {
                entry.refused[reason, default: 0] += 1
                reports[name] = entry
                continue
            }
            let demand = KeyDemand(hold: cost, tokens: row.usage.total, model: row.model ?? "")
            var admission = limiter.decide(key, owner: owner, demand: demand)
            if limiter.mayQueue(key, owner: owner, after: admission) {
                entry.queued += 1
                var unslotted = key
                unslotted.policy.concurrency = nil
                var free = owner
                free?.user.limits.concurrency = nil
                admission = limiter.decide(unslotted, owner: free, demand: demand)
            }
            switch admission {
            case .admitted(let lease):
                entry.admitted += 1
                leases[event.index] = (lease, cost)
                simulated[name, default: .zero] += cost
                inFlight[name, default: 0] += 1
                entry.peakConcurrency = max(entry.peakConcurrency, inFlight[name] ?? 0)
            case .refused(let refusal):
                entry.refused[Self.reason(refusal), default: 0] += 1
            }
            reports[name] = entry
        }
        for (index, (lease, cost)) in leases { lease.settle(cost: cost, tokens: rows[index].usage.total) }
        report.keys = reports.values.sorted { $0.key < $1.key }.map { entry in
            var entry = entry
            entry.recordedCostUsd = (recorded[entry.key] ?? .zero).dollarsString
            entry.simulatedCostUsd = (simulated[entry.key] ?? .zero).dollarsString
            return entry
        }
        report.requests = report.keys.reduce(0) { $0 + $1.requests }
        report.refused = report.keys.reduce(0) { $0 + $1.refused.values.reduce(0, +) }
        report.recordedCostUsd = recorded.values.reduce(Money.zero, +).dollarsString
        report.simulatedCostUsd = simulated.values.reduce(Money.zero, +).dollarsString
        return report
    }

    /// What the row's usage costs under the proposal: its prices (the account's
    /// model name first, as the gateway prices it) and the owner's multiplier.
    func cost(of row: LedgerRow, owner: Owner?) -> Money {
        var list = row.upstreamCost
        if let provider = row.provider.flatMap(Provider.init(rawValue:)),
            let price = row.upstreamModel.flatMap({ prices.price(for: $0, provider: provider) })
                ?? row.model.flatMap({ prices.price(for: $0, provider: provider) })
        {
            list = price.cost(row.usage)
        }
        return owner?.group?.charge(list) ?? list
    }

    /// The checks before the limiter, in the gateway's order: enabled, address, client, model.
    func refusalBeforeAdmission(_ row: LedgerRow, key: KeyEntry, owner: Owner?) -> String? {
        if !key.enabled { return "disabled" }
        if let expires = key.expiresAt, expires <= row.createdAt { return "expired" }
        let address = row.clientAddress.flatMap(IPAddress.init)
        if !key.policy.addressRules.admits(address) || !(owner?.user.addresses.admits(address) ?? true) { return "ip_not_allowed" }
        if !key.policy.allows(userAgent: row.userAgent) { return "client_not_allowed" }
        if let model = row.model, !key.policy.allows(model: model) { return "model_not_allowed" }
        if let provider = row.provider.flatMap(Provider.init(rawValue:)), !key.policy.allows(provider: provider) { return "provider_not_allowed" }
        return nil
    }

    static func reason(_ refusal: KeyRefusal) -> String {
        switch refusal {
        case .rateLimited(_, let what): return "rate_limited:\(what)"
        case .concurrency: return "concurrency"
        case .userConcurrency: return "user_concurrency"
        case .quotaExhausted(let which): return which
        case .modelBudget(let budget): return "model_budget:\(budget.owner):\(budget.pattern):\(budget.period)"
        }
    }
}

/// A clock the replay sets to each event's time.
final class ReplayClock: GatewayClock {
    private let current: Mutex<Date>

    init(start: Date) { current = Mutex(start) }

    func set(_ date: Date) { current.withLock { $0 = date } }
    func now() -> Date { current.withLock { $0 } }
    func sleep(for duration: Duration) async throws { throw CancellationError() }
}
