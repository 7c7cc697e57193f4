import NIOCore
import Policy
import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension SQLStore {
    /// Every user. One whose balance cannot be read comes back `unreadable`:
    /// its keys are refused, never run without the balance.
    public func listUsers() async throws -> [UserEntry] {
        try await query("SELECT * FROM users ORDER BY id").compactMap { row in
            guard let id = row.int("id"), let name = row.text("name") else { return nil }
            var user = UserEntry(id: id, name: name, group: row.text("group_name"), description: row.text("description"))
            do {
                user.balance = try row.integer("balance_picos").map(Money.init(picos:))
                user.addresses = AddressRules(allow: try Self.ranges(row.text("ip_allow")), deny: try Self.ranges(row.text("ip_deny")))
                user.limits = try Self.decoded(UserLimits.self, row.text("limits"), what: "its limits") ?? UserLimits()
                if let problem = user.limits.problem { throw StoreError(.corrupt, problem) }
                user.binding = try Self.decoded(AccountBinding.self, row.text("binding"), what: "its account binding")
            } catch {
                user.unreadable = "\(error)"
            }
            return user
        }
    }

    public func upsertUser(_ user: UserEntry, setBalance: Bool) async throws -> UserEntry {
        try await transaction {
            let rules: [SQLValue] = [
                Self.rangesText(user.addresses.allow).bind, Self.rangesText(user.addresses.deny).bind,
                (user.limits.isEmpty ? nil : try Self.encoded(user.limits)).bind,
                (user.binding?.isEmpty ?? true ? nil : try Self.encoded(user.binding)).bind,
            ]
            let existing = try await execute("SELECT id FROM users WHERE name = ?", [.text(user.name)])
            if let id = existing.first?.int("id") {
                if setBalance {
                    _ = try await execute(
                        "UPDATE users SET group_name = ?, balance_picos = ?, description = ?, ip_allow = ?, ip_deny = ?, limits = ?, binding = ? WHERE id = ?",
                        [user.group.bind, user.balance.bind, user.description.bind] + rules + [.integer(Int(id))])
                } else {
                    _ = try await execute(
                        "UPDATE users SET group_name = ?, description = ?, ip_allow = ?, ip_deny = ?, limits = ?, binding = ? WHERE id = ?",
                        [user.group.bind, user.description.bind] + rules + [.integer(Int(id))])
                }
            } else {
                _ = try await execute(
                    "INSERT INTO users (group_name, balance_picos, description, ip_allow, ip_deny, limits, binding, name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [user.group.bind, user.balance.bind, user.description.bind] + rules
                        + [.text(user.name), .integer(Int(Date().millisecondsSince1970))])
            }
        }
        guard let saved = try await listUsers().first(where: { $0.name == user.name }) else {
            throw StoreError(.notFound, "user \(user.name) vanished")
        }
        return saved
    }

    public func adjustUserBalance(name: String, by amount: Money) async throws -> Bool {
        try await transaction {
            let rows = try await execute("SELECT id, balance_picos FROM users WHERE name = ?", [.text(name)])
            guard let row = rows.first, let id = row.int("id") else { return false }
            // The whole transaction holds SQLite's write lock: read, check, write.
            let current = try row.integer("balance_picos") ?? 0
            guard case (let balance, false) = current.addingReportingOverflow(amount.picos) else {
                throw StoreError(.outOfRange, "the balance would pass what the gateway can hold")
            }
            _ = try await execute("UPDATE users SET balance_picos = ? WHERE id = ?", [.integer(Int(balance)), .integer(Int(id))])
            return true
        }
    }

    public func deleteUser(name: String) async throws -> Bool {
        try await deleteNamed(name, from: "users")
    }

    /// Every group. One whose multiplier or caps cannot be read (or are out of
    /// range) comes back `unreadable`: its users' keys are refused.
    public func listGroups() async throws -> [GroupEntry] {
        try await query("SELECT * FROM groups ORDER BY id").compactMap { row in
            guard let id = row.int("id"), let name = row.text("name") else { return nil }
            var group = GroupEntry(id: id, name: name)
            do {
                let ppm = try row.integer("multiplier_ppm") ?? 1_000_000
                guard (1...GroupEntry.maxMultiplierPPM).contains(ppm) else { throw StoreError(.corrupt, "multiplier out of range") }
                group.multiplierPPM = ppm
                group.daily = try row.integer("daily_picos").map(Money.init(picos:))
                group.weekly = try row.integer("weekly_picos").map(Money.init(picos:))
                group.monthly = try row.integer("monthly_picos").map(Money.init(picos:))
                group.modelMultipliers =
                    try Self.decoded([String: Int64].self, row.text("price_multiplier"), what: "its price multipliers", snakeCase: false) ?? [:]
                guard group.modelMultipliers.values.allSatisfy({ (1...GroupEntry.maxMultiplierPPM).contains($0) }) else {
                    throw StoreError(.corrupt, "a price multiplier out of range")
                }
                group.binding = try Self.decoded(AccountBinding.self, row.text("binding"), what: "its account binding")
            } catch {
                group.unreadable = "\(error)"
            }
            return group
        }
    }

    public func upsertGroup(_ group: GroupEntry) async throws -> GroupEntry {
        try await transaction {
            let binds: [SQLValue] = [
                .integer(Int(group.multiplierPPM)), group.daily.bind, group.weekly.bind, group.monthly.bind,
                (group.modelMultipliers.isEmpty ? nil : try Self.encoded(group.modelMultipliers, snakeCase: false)).bind,
                (group.binding?.isEmpty ?? true ? nil : try Self.encoded(group.binding)).bind,
            ]
            let existing = try await execute("SELECT id FROM groups WHERE name = ?", [.text(group.name)])
            if let id = existing.first?.int("id") {
                _ = try await execute(
                    "UPDATE groups SET multiplier_ppm = ?, daily_picos = ?, weekly_picos = ?, monthly_picos = ?, price_multiplier = ?, binding = ? WHERE id = ?",
                    binds + [.integer(Int(id))])
            } else {
                _ = try await execute(
                    """
                    INSERT INTO groups (multiplier_ppm, daily_picos, weekly_picos, monthly_picos, price_multiplier, binding, name, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """, binds + [.text(group.name), .integer(Int(Date().millisecondsSince1970))])
            }
        }
        guard let saved = try await listGroups().first(where: { $0.name == group.name }) else {
            throw StoreError(.notFound, "group \(group.name) vanished")
        }
        return saved
    }

    public func deleteGroup(name: String) async throws -> Bool {
        try await deleteNamed(name, from: "groups")
    }

    /// What each user spent so far and in the current day, week and month:
    /// from the totals and hourly rollups, which outlive the ledger's rows.
    public func userBaselines(now: Date) async throws -> [String: UserBaseline] {
        let starts = Periods.starts(of: now)
        let earliest = min(starts.day, starts.week, starts.month)
        let periods = try await query(
            """
            SELECT name, \(SQLiteRollups.costSince("day")), \(SQLiteRollups.costSince("week")), \(SQLiteRollups.costSince("month")) FROM usage_hourly
            WHERE dimension = 'user' AND name != '' AND hour >= ? GROUP BY name
            """,
            [starts.day, starts.day, starts.week, starts.week, starts.month, starts.month, earliest].map {
                .integer(Int($0.millisecondsSince1970))
            })
        var recent: [String: SQLRow] = [:]
        for row in periods { if let name = row.text("name") { recent[name] = row } }
        let models = try await modelPeriods(SQLiteRollups.userModelDimension.name, now: now)
        var baselines: [String: UserBaseline] = [:]
        for row in try await query("SELECT user_name, cost_hi AS spent_hi, cost_lo AS spent_lo FROM user_totals") {
            guard let name = row.text("user_name") else { continue }
            let period = recent[name]
            var baseline = UserBaseline(
                spent: Money(picos: row.sum("spent")), periodStarts: starts, day: Money(picos: period?.sum("day") ?? 0),
                week: Money(picos: period?.sum("week") ?? 0), month: Money(picos: period?.sum("month") ?? 0))
            baseline.models = models[name] ?? [:]
            baselines[name] = baseline
        }
        return baselines
    }

    /// Spending per owner and model (a `key_model` or `user_model` rollup) in
    /// the current day, week and month, by owner (key id or user name) and model.
    func modelPeriods(_ dimension: String, now: Date) async throws -> [String: [String: PeriodTotals]] {
        let starts = Periods.starts(of: now)
        let rows = try await query(
            """
            SELECT name, \(SQLiteRollups.costSince("day")), \(SQLiteRollups.costSince("week")), \(SQLiteRollups.costSince("month")) FROM usage_hourly
            WHERE dimension = ? AND hour >= ? GROUP BY name
            """,
            [starts.day, starts.day, starts.week, starts.week, starts.month, starts.month].map { .integer(Int($0.millisecondsSince1970)) }
                + [.text(dimension), .integer(Int(min(starts.week, starts.month).millisecondsSince1970))])
        var periods: [String: [String: PeriodTotals]] = [:]
        for row in rows {
            // `<owner>/<model>`: an owner (a key id, a user name) holds no slash; a model may.
            guard let name = row.text("name"), let slash = name.firstIndex(of: "/"), slash != name.startIndex else { continue }
            let model = String(name[name.index(after: slash)...])
            guard !model.isEmpty else { continue }
            periods[String(name[..<slash]), default: [:]][model] = PeriodTotals(
                starts: starts, day: Money(picos: row.sum("day")), week: Money(picos: row.sum("week")), month: Money(picos: row.sum("month")))
        }
        return periods
    }
}

extension Optional where Wrapped == Money {
    var bind: SQLValue { self.map { .integer(Int($0.picos)) } ?? .null }
}

extension SQLStore {
    /// A JSON document as stored (keys snake-cased, unless they are data such as model globs).
    static func encoded(_ value: some Encodable, snakeCase: Bool = true) throws -> String {
        let encoder = JSONEncoder()
        if snakeCase { encoder.keyEncodingStrategy = .convertToSnakeCase }
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// A stored JSON document, nil for none; one that cannot be read fails closed.
    static func decoded<T: Decodable>(_ type: T.Type, _ text: String?, what: String, snakeCase: Bool = true) throws -> T? {
        guard let text else { return nil }
        let decoder = JSONDecoder()
        if snakeCase { decoder.keyDecodingStrategy = .convertFromSnakeCase }
        do {
            return try decoder.decode(type, from: Data(text.utf8))
        } catch {
            throw StoreError(.corrupt, "\(what) cannot be read")
        }
    }

    /// Address ranges as stored: a JSON list of their texts; nil for none.
    static func rangesText(_ ranges: [CIDR]?) -> String? {
        guard let ranges else { return nil }
        return "[" + ranges.map { jsonStringLiteral($0.description) }.joined(separator: ",") + "]"
    }

    /// Stored address ranges; one that cannot be read makes the record unreadable (its keys are refused).
    static func ranges(_ text: String?) throws -> [CIDR]? {
        guard let text else { return nil }
        guard let texts = try? JSONDecoder().decode([String].self, from: Data(text.utf8)) else {
            throw StoreError(.corrupt, "stored address ranges are not a list")
        }
        return try texts.map { text in
            guard let range = CIDR(text) else { throw StoreError(.corrupt, "a stored address range cannot be read") }
            return range
        }
    }
}
