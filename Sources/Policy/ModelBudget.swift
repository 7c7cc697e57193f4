import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Money caps per UTC day, ISO week and calendar month for the requests whose
/// model matches a glob (`claude-opus-*`), on a key or a user
/// (`model_budgets: {"claude-opus-*": {daily_usd: 10}}`).
public struct ModelBudget: Sendable, Equatable, Codable {
    public var pattern: String
    public var daily: Money?
    public var weekly: Money?
    public var monthly: Money?

    enum CodingKeys: String, CodingKey {
        case pattern
        case daily = "dailyPicos"
        case weekly = "weeklyPicos"
        case monthly = "monthlyPicos"
    }

    public init(pattern: String, daily: Money? = nil, weekly: Money? = nil, monthly: Money? = nil) {
        self.pattern = pattern
        self.daily = daily
        self.weekly = weekly
        self.monthly = monthly
    }

    /// Why stored model budgets cannot be enforced as written, or nil.
    static func problem(_ budgets: [ModelBudget]?) -> String? {
        for budget in budgets ?? [] where [budget.daily, budget.weekly, budget.monthly].contains(where: { ($0 ?? .zero) < .zero }) {
            return "model_budgets.\(budget.pattern) is negative"
        }
        return nil
    }

    /// The caps with the name of the period each one covers.
    var caps: [(period: String, cap: Money, spent: KeyPath<PeriodSpend, Money>)] {
        [("daily", daily, \PeriodSpend.day), ("weekly", weekly, \PeriodSpend.week), ("monthly", monthly, \PeriodSpend.month)]
            .compactMap { period, cap, spent in cap.map { (period, $0, spent) } }
    }
}

/// Which model budget refused a request: whose (`key` or `user`), the glob, the period.
public struct ModelBudgetRefusal: Sendable, Equatable {
    public var owner: String
    public var pattern: String
    public var period: String

    public init(owner: String, pattern: String, period: String) {
        self.owner = owner
        self.pattern = pattern
        self.period = period
    }
}

/// Spending per model (as the client named it) in the current day, week and
/// month, with what requests in flight hold: what model budgets are checked
/// against. Kept for every model a key or user uses, budget or not, so a budget
/// set on a live key counts the period's spending from its start.
struct ModelSpending: Sendable {
    struct Entry: Sendable {
        var periods: PeriodSpend
        var held: Money = .zero

        /// Nothing in any current period and nothing held: nothing left to count.
        var isIdle: Bool { held == .zero && periods.day == .zero && periods.week == .zero && periods.month == .zero }
    }

    var models: [String: Entry] = [:]

    /// Starts from what each model spent before (the first use brings each up to date).
    init(_ baseline: [String: PeriodTotals] = [:]) {
        for (model, totals) in baseline {
            models[model] = Entry(periods: PeriodSpend(starts: totals.starts, day: totals.day, week: totals.week, month: totals.month))
        }
    }

    /// The first budget among `budgets` whose cap the models it covers cannot
    /// meet with `hold` more, or nil.
    mutating func refusal(_ budgets: [ModelBudget]?, model: String, hold: Money, now: Date, owner: String) -> ModelBudgetRefusal? {
        guard let budgets, !model.isEmpty else { return nil }
        for budget in budgets where Glob.matches(budget.pattern, model) {
            var held = Money.zero
            var spent = PeriodSpend.empty(now)
            for name in Array(models.keys) where Glob.matches(budget.pattern, name) {
                models[name]!.periods.advance(now)
                let entry = models[name]!
                // Nothing in any current period and nothing held: the entry has nothing left to count.
                if entry.isIdle {
                    models[name] = nil
                    continue
                }
                held += entry.held
                spent.day += entry.periods.day
                spent.week += entry.periods.week
                spent.month += entry.periods.month
            }
            for cap in budget.caps where spent[keyPath: cap.spent] + held + hold > cap.cap {
                return ModelBudgetRefusal(owner: owner, pattern: budget.pattern, period: cap.period)
            }
        }
        return nil
    }

    mutating func hold(_ amount: Money, model: String, now: Date) {
        guard !model.isEmpty else { return }
        if models.count > Self.pruneAbove, models[model] == nil { prune(now) }
        models[model, default: Entry(periods: .empty(now))].held += amount
    }

    mutating func settle(_ cost: Money, releasing hold: Money, model: String, now: Date) {
        guard !model.isEmpty else { return }
        var entry = models[model] ?? Entry(periods: .empty(now))
        entry.held = max(.zero, entry.held - hold)
        entry.periods.add(cost, now: now)
        models[model] = entry
    }

    /// Entries kept before idle ones are dropped: a key that tries many model names does not grow without bound.
    static let pruneAbove = 64

    /// Drops models with nothing in any current period and nothing held.
    mutating func prune(_ now: Date) {
        for name in Array(models.keys) {
            models[name]!.periods.advance(now)
            let entry = models[name]!
            if entry.isIdle { models[name] = nil }
        }
    }

    /// Each model's spending in the current periods, for reports.
    mutating func current(now: Date) -> [String: PeriodTotals] {
        var totals: [String: PeriodTotals] = [:]
        for name in Array(models.keys) {
            models[name]!.periods.advance(now)
            let p = models[name]!.periods
            totals[name] = PeriodTotals(starts: p.starts, day: p.day, week: p.week, month: p.month)
        }
        return totals
    }
}

/// Money spent in the UTC day, ISO week and month that start at `starts`.
public struct PeriodTotals: Sendable, Equatable {
    public var starts: (day: Date, week: Date, month: Date)
    public var day: Money
    public var week: Money
    public var month: Money

    public init(starts: (day: Date, week: Date, month: Date), day: Money, week: Money, month: Money) {
        self.starts = starts
        self.day = day
        self.week = week
        self.month = month
    }

    public static func == (a: PeriodTotals, b: PeriodTotals) -> Bool {
        a.starts.day == b.starts.day && a.day == b.day && a.week == b.week && a.month == b.month
    }
}
