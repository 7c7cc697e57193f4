import AsyncHTTPClient
import Logging
import Policy
import ServiceLifecycle
import Storage
import SwitchboardCore
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Watches the gateway every `alerts.interval` (on its clock) and posts what
/// `AlertRules` raises to the configured webhooks: accounts unhealthy,
/// disabled or recovered, cooldown storms, key and user budgets at 80% and
/// 100%, the ledger failing and recovering, and each UTC day's spend.
/// Deliveries run beside the looks, so a slow webhook never delays one.
public struct AlertMonitor: Service {
    let gateway: Gateway
    let store: any GatewayStore
    let settings: AlertSettings
    let logger: Logger

    public init(gateway: Gateway, store: any GatewayStore, settings: AlertSettings, logger: Logger) {
        self.gateway = gateway
        self.store = store
        self.settings = settings
        self.logger = logger
    }

    public func run() async throws {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let sender = AlertSender(settings: settings, client: client, clock: gateway.clock, counters: gateway.alertCounters, logger: logger)
        let (queue, queued) = AsyncStream.makeStream(of: Alert.self, bufferingPolicy: .bufferingNewest(1000))
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await alert in queue { await sender.send(alert) }
            }
            try? await cancelWhenGracefulShutdown {
                var rules = AlertRules(stormAccounts: settings.stormAccounts)
                while !Task.isCancelled {
                    for alert in await look(&rules) { queued.yield(alert) }
                    try await gateway.clock.sleep(for: settings.interval)
                }
            }
            queued.finish()
        }
        try? await client.shutdown()
    }

    /// One look: what the rules raise, and the day's summary when a day ended.
    func look(_ rules: inout AlertRules) async -> [Alert] {
        let (alerts, summaryDay) = rules.evaluate(observe())
        guard let summaryDay, let start = WireDate.rfc3339(summaryDay + "T00:00:00Z") else { return alerts }
        do {
            let buckets = try await store.activity(from: start, to: start.addingTimeInterval(86_400), bucketSeconds: 86_400)
            let requests = buckets.reduce(Int64(0)) { $0 + $1.requests }
            let errors = buckets.reduce(Int64(0)) { $0 + $1.errors }
            let cost = buckets.reduce(Money.zero) { $0 + $1.cost }
            return alerts + [
                Alert(
                    event: .dailySpend, subject: "gateway",
                    message: "\(summaryDay): \(requests) requests, $\(cost.dollarsString) spent, \(errors) errors.",
                    details: ["day": summaryDay, "requests": String(requests), "errors": String(errors), "cost_usd": cost.dollarsString])
            ]
        } catch {
            logger.warning("the daily spend summary could not be read", metadata: ["error": "\(error)"])
            return alerts
        }
    }

    /// Each model budget's caps with what the models its glob matches spent in the period
    /// (`model_budget:claude-opus-*:daily`).
    static func modelBudgets(_ budgets: [ModelBudget]?, spent: [String: PeriodTotals], subject: String) -> [AlertObservation.Budget] {
        (budgets ?? []).flatMap { budget -> [AlertObservation.Budget] in
            let matching = spent.filter { Glob.matches(budget.pattern, $0.key) }.values
            return [
                ("daily", budget.daily, matching.reduce(Money.zero) { $0 + $1.day }),
                ("weekly", budget.weekly, matching.reduce(Money.zero) { $0 + $1.week }),
                ("monthly", budget.monthly, matching.reduce(Money.zero) { $0 + $1.month }),
            ].compactMap { period, cap, used in
                cap.map { AlertObservation.Budget(subject: subject, kind: "model_budget:\(budget.pattern):\(period)", used: used, limit: $0) }
            }
        }
    }

    /// What the gateway's live state says now.
    func observe() -> AlertObservation {
        let snapshot = gateway.snapshots.snapshot
        let entries = snapshot.accounts.accounts
        let statuses = gateway.pool.status(of: entries)
        let accounts = zip(entries, statuses).map { entry, status in
            AlertObservation.Account(name: entry.name, state: status.state, reason: status.reason, models: entry.models)
        }
        var budgets: [AlertObservation.Budget] = []
        for key in snapshot.keys.entries where key.enabled {
            let usage = gateway.limiter.usage(of: key)
            if let balance = key.policy.balance, let remaining = usage.balanceRemaining {
                budgets.append(.init(subject: "key:\(key.name)", kind: "balance", used: balance - max(.zero, remaining), limit: balance))
            }
            for (kind, limit, used) in [
                ("daily_cost", key.policy.dailyCost, usage.today), ("weekly_cost", key.policy.weeklyCost, usage.week),
                ("monthly_cost", key.policy.monthlyCost, usage.month),
            ] {
                if let limit { budgets.append(.init(subject: "key:\(key.name)", kind: kind, used: used, limit: limit)) }
            }
            if let budget = key.policy.budget, let spent = usage.budgetSpent {
                budgets.append(.init(subject: "key:\(key.name)", kind: "budget", used: spent, limit: budget))
            }
            budgets += Self.modelBudgets(key.policy.modelBudgets, spent: usage.models, subject: "key:\(key.name)")
        }
        for user in snapshot.users.values {
            budgets += Self.modelBudgets(user.limits.modelBudgets, spent: gateway.limiter.models(of: user), subject: "user:\(user.name)")
            guard let balance = user.balance, let remaining = gateway.limiter.remaining(of: Owner(user: user, group: nil)) else { continue }
            budgets.append(.init(subject: "user:\(user.name)", kind: "balance", used: balance - max(.zero, remaining), limit: balance))
        }
        return AlertObservation(now: gateway.clock.now(), accounts: accounts, budgets: budgets, ledgerProblem: gateway.ledger.unavailable)
    }
}
