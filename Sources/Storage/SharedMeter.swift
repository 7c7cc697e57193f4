import Policy
import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One limit replicas share that is not a key's own row (its slots, balance
/// and request window) or a user's balance: a key's day, week, month, budget
/// period, lifetime tokens, token or cost window, model budgets; a user's
/// slots, subscription periods and model budgets. Each is a row in
/// `shared_meters` named for what it counts and over which period
/// (`k12.day.1764892800000`), so a new period is a new row.
///
/// A request holds `hold` on it while it runs and takes a slot when
/// `slotCap` is set; settling gives both back and adds what the request
/// really used (its cost, or its tokens) to the meter, and, for a window,
/// to the window's entries.
public struct SharedMeter: Sendable, Equatable {
    /// What the meter counts, so a settlement knows what to add.
    public enum Unit: String, Sendable {
        case money
        case tokens
        /// Each settled request counts one.
        case requests
    }

    /// Where a new meter row's count starts: what the ledger's rollups
    /// already hold for its owner and period (a limit set mid-period
    /// counts the period's spending before it).
    public enum Origin: Sendable, Equatable {
        case nothing
        /// A key's lifetime tokens, less what a usage reset took off.
        case keyTokens(keyID: Int64, less: Int64)
        /// A key's lifetime cost.
        case keyTotal(keyID: Int64)
        /// A key's cost since a time, less what a usage reset took off.
        case keyCost(keyID: Int64, since: Date, less: Money)
        /// A user's cost since a time.
        case userCost(user: String, since: Date)
        /// The cost of a key's requests for models matching a glob, since a time.
        case keyModelCost(keyID: Int64, pattern: String, since: Date)
        /// The cost of a user's requests for models matching a glob, since a time.
        case userModelCost(user: String, pattern: String, since: Date)
    }

    public var name: String
    /// The most `used + held + need` may reach (for a window: the entries
    /// inside it instead of `used`); nil for a meter that only counts slots.
    public var cap: Int64?
    /// What must still fit under `cap` for the request to pass.
    public var need: Int64
    /// What the request holds while it runs.
    public var hold: Int64
    /// The most requests in flight at once, when the meter counts slots.
    public var slotCap: Int?
    public var unit: Unit
    /// A sliding window's length in milliseconds; 0 for a meter that counts its whole period.
    public var windowMilliseconds: Int64
    /// When the row may go (its period is over); nil to keep it.
    public var expiresAt: Date?
    public var origin: Origin
    /// What the client hears when this meter refuses (a window's time is
    /// set from its oldest entry).
    public var refusal: KeyRefusal

    public init(
        name: String, cap: Int64?, need: Int64, hold: Int64, slotCap: Int? = nil, unit: Unit = .money, windowMilliseconds: Int64 = 0,
        expiresAt: Date? = nil, origin: Origin = .nothing, refusal: KeyRefusal
    ) {
        self.name = name
        self.cap = cap
        self.need = need
        self.hold = hold
        self.slotCap = slotCap
        self.unit = unit
        self.windowMilliseconds = windowMilliseconds
        self.expiresAt = expiresAt
        self.origin = origin
        self.refusal = refusal
    }

    /// The meters a settlement adds to, as admission named them.
    public struct Use: Sendable, Equatable {
        public var name: String
        public var unit: Unit
        public var windowMilliseconds: Int64
    }

    public var use: Use { Use(name: name, unit: unit, windowMilliseconds: windowMilliseconds) }

    /// Whether this meter lets the request through, given the row as read
    /// (`counted`: the window's entries for a window, else `used`).
    func passes(counted: Int64, held: Int64, inFlight: Int64) -> Bool {
        if let slotCap, inFlight >= Int64(slotCap) { return false }
        guard let cap else { return true }
        return counted.saturatingAdd(held).saturatingAdd(need) <= cap
    }
}

extension SQLStore {
    /// Where a meter's count starts, from the rollups (see `SharedMeter.Origin`).
    func meterOrigin(_ origin: SharedMeter.Origin) async throws -> Int64 {
        switch origin {
        case .nothing:
            return 0
        case .keyTokens(let keyID, let less):
            let row = try await query("SELECT tokens_hi, tokens_lo FROM key_totals WHERE key_id = ?", [.integer(Int(keyID))]).first
            return max(0, (row?.sum("tokens") ?? 0).saturatingSubtract(less))
        case .keyTotal(let keyID):
            let row = try await query("SELECT cost_hi, cost_lo FROM key_totals WHERE key_id = ?", [.integer(Int(keyID))]).first
            return row?.sum("cost") ?? 0
        case .keyCost(let keyID, let since, let less):
            return max(0, try await keyCost(keyID, from: since).picos.saturatingSubtract(less.picos))
        case .userCost(let user, let since):
            let row = try await query(
                "SELECT SUM(cost_hi) AS cost_hi, SUM(cost_lo) AS cost_lo FROM usage_hourly WHERE dimension = 'user' AND name = ? AND hour >= ?",
                [.text(user), .integer(Int(since.millisecondsSince1970))]
            ).first
            return row?.sum("cost") ?? 0
        case .keyModelCost(let keyID, let pattern, let since):
            return try await modelCost(SQLiteRollups.keyModelDimension.name, owner: String(keyID), pattern: pattern, since: since)
        case .userModelCost(let user, let pattern, let since):
            return try await modelCost(SQLiteRollups.userModelDimension.name, owner: user, pattern: pattern, since: since)
        }
    }

    /// What an owner's requests for models matching `pattern` cost since a time, from the `<owner>/<model>` rollups.
    private func modelCost(_ dimension: String, owner: String, pattern: String, since: Date) async throws -> Int64 {
        // The models are matched here, by the same glob the limiter uses ('0' sorts just after '/').
        let rows = try await query(
            """
            SELECT name, SUM(cost_hi) AS cost_hi, SUM(cost_lo) AS cost_lo FROM usage_hourly
            WHERE dimension = ? AND name >= ? AND name < ? AND hour >= ? GROUP BY name
            """, [.text(dimension), .text(owner + "/"), .text(owner + "0"), .integer(Int(since.millisecondsSince1970))])
        return rows.reduce(Int64(0)) { total, row in
            guard let name = row.text("name"), Glob.matches(pattern, String(name.dropFirst(owner.count + 1))) else { return total }
            return total.saturatingAdd(row.sum("cost"))
        }
    }
}
