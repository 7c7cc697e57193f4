import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// An alert to send: a fixed event name, what it is about, and a sentence.
public struct Alert: Sendable, Equatable {
    /// One of `AlertEvent`'s raw values.
    public var event: AlertEvent
    /// What it is about: `account:NAME`, `model:NAME`, `key:NAME`, `user:NAME`, `ledger`, `gateway`.
    public var subject: String
    public var message: String
    /// Facts for machines (strings, never a secret).
    public var details: [String: String]

    public init(event: AlertEvent, subject: String, message: String, details: [String: String] = [:]) {
        self.event = event
        self.subject = subject
        self.message = message
        self.details = details
    }
}

/// The events a webhook may subscribe to.
public enum AlertEvent: String, Sendable, CaseIterable, Hashable {
    case accountUnhealthy = "account.unhealthy"
    case accountDisabled = "account.disabled"
    case accountRecovered = "account.recovered"
    case cooldownStorm = "cooldown.storm"
    case budget80 = "budget.80"
    case budget100 = "budget.100"
    case ledgerFailing = "ledger.failing"
    case ledgerRecovered = "ledger.recovered"
    case dailySpend = "spend.daily"
}

/// What the monitor saw at one look.
public struct AlertObservation: Sendable {
    public struct Account: Sendable {
        public var name: String
        /// `ready`, `disabled`, `unhealthy`, `cooling_down`, …
        public var state: String
        public var reason: String?
        public var models: [String]

        public init(name: String, state: String, reason: String?, models: [String]) {
            self.name = name
            self.state = state
            self.reason = reason
            self.models = models
        }
    }

    /// A money budget and how much of it is used.
    public struct Budget: Sendable {
        /// `key:NAME` or `user:NAME`.
        public var subject: String
        /// `balance` or `daily_cost`.
        public var kind: String
        public var used: Money
        public var limit: Money

        public init(subject: String, kind: String, used: Money, limit: Money) {
            self.subject = subject
            self.kind = kind
            self.used = used
            self.limit = limit
        }
    }

    public var now: Date
    public var accounts: [Account]
    public var budgets: [Budget]
    /// Why the ledger cannot be written, when it cannot.
    public var ledgerProblem: String?

    public init(now: Date, accounts: [Account], budgets: [Budget], ledgerProblem: String?) {
        self.now = now
        self.accounts = accounts
        self.budgets = budgets
        self.ledgerProblem = ledgerProblem
    }
}

/// Decides which alerts an observation raises, once per condition: a
/// condition that fired stays quiet until it clears (and an account that
/// recovers says so). Pure: the monitor feeds it and sends what it returns.
public struct AlertRules: Sendable {
    /// How many accounts of one model cooling at once make a storm.
    let stormAccounts: Int
    /// Conditions firing now, by key (`account.unhealthy:NAME`, …).
    private(set) var active: Set<String> = []
    /// The UTC day of the last look, for the daily summary.
    private(set) var day: String?

    public init(stormAccounts: Int) { self.stormAccounts = max(2, stormAccounts) }

    /// The alerts `observation` raises, and whether a new UTC day began (the
    /// previous day's summary is then due; the first look only notes the day).
    public mutating func evaluate(_ observation: AlertObservation) -> (alerts: [Alert], summaryDue: String?) {
        var alerts: [Alert] = []
        func raise(_ key: String, _ alert: Alert) {
            if active.insert(key).inserted { alerts.append(alert) }
        }
        for account in observation.accounts.sorted(by: { $0.name < $1.name }) {
            let subject = "account:\(account.name)"
            let unhealthy = "\(AlertEvent.accountUnhealthy.rawValue):\(account.name)"
            let disabled = "\(AlertEvent.accountDisabled.rawValue):\(account.name)"
            switch account.state {
            case "unhealthy":
                raise(
                    unhealthy,
                    Alert(
                        event: .accountUnhealthy, subject: subject,
                        message: "Account \(account.name) is unhealthy: \(account.reason ?? "the upstream refused it").",
                        details: ["account": account.name, "reason": account.reason ?? ""]))
            case "disabled":
                raise(
                    disabled,
                    Alert(
                        event: .accountDisabled, subject: subject, message: "Account \(account.name) is disabled.", details: ["account": account.name]
                    ))
            case "ready":
                if active.remove(unhealthy) != nil || active.remove(disabled) != nil {
                    active.remove(disabled)
                    alerts.append(
                        Alert(
                            event: .accountRecovered, subject: subject, message: "Account \(account.name) is ready again.",
                            details: ["account": account.name]))
                }
            default:
                break
            }
        }
        var cooling: [String: [String]] = [:]
        for account in observation.accounts where account.state == "cooling_down" {
            for model in account.models { cooling[model, default: []].append(account.name) }
        }
        let models = Set(observation.accounts.flatMap(\.models)).sorted()
        for model in models {
            let key = "\(AlertEvent.cooldownStorm.rawValue):\(model)"
            let names = (cooling[model] ?? []).sorted()
            if names.count >= stormAccounts {
                raise(
                    key,
                    Alert(
                        event: .cooldownStorm, subject: "model:\(model)",
                        message: "\(names.count) accounts serving \(model) are cooling down at once.",
                        details: ["model": model, "accounts": names.joined(separator: ",")]))
            } else {
                active.remove(key)
            }
        }
        for budget in observation.budgets.sorted(by: { ($0.subject, $0.kind) < ($1.subject, $1.kind) }) where budget.limit > .zero {
            let key = "\(budget.subject):\(budget.kind)"
            let hundredths = budget.used.picos >= budget.limit.picos ? 100 : Int(Double(budget.used.picos) / Double(budget.limit.picos) * 100)
            let details = [
                "subject": budget.subject, "budget": budget.kind, "used_usd": budget.used.dollarsString, "limit_usd": budget.limit.dollarsString,
            ]
            if hundredths >= 100 {
                raise(
                    "\(AlertEvent.budget100.rawValue):\(key)",
                    Alert(
                        event: .budget100, subject: budget.subject,
                        message: "\(budget.subject) has used all of its \(budget.kind) ($\(budget.limit.dollarsString)).",
                        details: details))
            } else {
                active.remove("\(AlertEvent.budget100.rawValue):\(key)")
            }
            if hundredths >= 80 {
                raise(
                    "\(AlertEvent.budget80.rawValue):\(key)",
                    Alert(
                        event: .budget80, subject: budget.subject,
                        message:
                            "\(budget.subject) has used \(hundredths)% of its \(budget.kind) ($\(budget.used.dollarsString) of $\(budget.limit.dollarsString)).",
                        details: details))
            } else {
                active.remove("\(AlertEvent.budget80.rawValue):\(key)")
            }
        }
        let ledger = AlertEvent.ledgerFailing.rawValue
        if let problem = observation.ledgerProblem {
            raise(
                ledger,
                Alert(event: .ledgerFailing, subject: "ledger", message: "The ledger cannot be written: \(problem)", details: ["reason": problem]))
        } else if active.remove(ledger) != nil {
            alerts.append(Alert(event: .ledgerRecovered, subject: "ledger", message: "The ledger is being written again."))
        }
        let today = WireDate.utcDay(observation.now)
        defer { day = today }
        return (alerts, day.flatMap { $0 == today ? nil : $0 })
    }

}
