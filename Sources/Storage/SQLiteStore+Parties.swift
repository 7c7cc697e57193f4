import Foundation
import Policy
import SQLiteNIO
import SwitchboardCore

extension SQLiteStore {
    /// Every user. One whose balance cannot be read comes back `unreadable`:
    /// its keys are refused, never run without the balance.
    public func listUsers() async throws -> [UserEntry] {
        try await query("SELECT * FROM users ORDER BY id").compactMap { row in
            guard let id = row.int("id"), let name = row.text("name") else { return nil }
            var user = UserEntry(id: id, name: name, group: row.text("group_name"), description: row.text("description"))
            do {
                user.balance = try row.integer("balance_picos").map(Money.init(picos:))
                user.addresses = AddressRules(allow: try Self.ranges(row.text("ip_allow")), deny: try Self.ranges(row.text("ip_deny")))
            } catch {
                user.unreadable = "\(error)"
            }
            return user
        }
    }

    public func upsertUser(_ user: UserEntry, setBalance: Bool) async throws -> UserEntry {
        try await transaction {
            let rules: [SQLiteData] = [Self.rangesText(user.addresses.allow).sqlite, Self.rangesText(user.addresses.deny).sqlite]
            let existing = try await execute("SELECT id FROM users WHERE name = ?", [.text(user.name)])
            if let id = existing.first?.int("id") {
                if setBalance {
                    _ = try await execute(
                        "UPDATE users SET group_name = ?, balance_picos = ?, description = ?, ip_allow = ?, ip_deny = ? WHERE id = ?",
                        [user.group.sqlite, user.balance.sqlite, user.description.sqlite] + rules + [.integer(Int(id))])
                } else {
                    _ = try await execute(
                        "UPDATE users SET group_name = ?, description = ?, ip_allow = ?, ip_deny = ? WHERE id = ?",
                        [user.group.sqlite, user.description.sqlite] + rules + [.integer(Int(id))])
                }
            } else {
                _ = try await execute(
                    "INSERT INTO users (group_name, balance_picos, description, ip_allow, ip_deny, name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [user.group.sqlite, user.balance.sqlite, user.description.sqlite] + rules
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
            } catch {
                group.unreadable = "\(error)"
            }
            return group
        }
    }

    public func upsertGroup(_ group: GroupEntry) async throws -> GroupEntry {
        try await transaction {
            let binds: [SQLiteData] = [.integer(Int(group.multiplierPPM)), group.daily.sqlite, group.weekly.sqlite, group.monthly.sqlite]
            let existing = try await execute("SELECT id FROM groups WHERE name = ?", [.text(group.name)])
            if let id = existing.first?.int("id") {
                _ = try await execute(
                    "UPDATE groups SET multiplier_ppm = ?, daily_picos = ?, weekly_picos = ?, monthly_picos = ? WHERE id = ?",
                    binds + [.integer(Int(id))])
            } else {
                _ = try await execute(
                    """
                    INSERT INTO groups (multiplier_ppm, daily_picos, weekly_picos, monthly_picos, name, created_at)
                    VALUES (?, ?, ?, ?, ?, ?)
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

    public func userBaselines(now: Date) async throws -> [String: UserBaseline] {
        let starts = Periods.starts(of: now)
        func since(_ name: String) -> String { SafeSum.sql("CASE WHEN created_at >= ? THEN cost_picos ELSE 0 END", as: name) }
        let rows = try await query(
            """
            SELECT user_name, \(SafeSum.sql("cost_picos", as: "spent")), \(since("day")), \(since("week")), \(since("month"))
            FROM ledger WHERE user_name IS NOT NULL GROUP BY user_name
            """,
            [starts.day, starts.day, starts.week, starts.week, starts.month, starts.month].map { .integer(Int($0.millisecondsSince1970)) })
        var baselines: [String: UserBaseline] = [:]
        for row in rows {
            guard let name = row.text("user_name") else { continue }
            baselines[name] = UserBaseline(
                spent: Money(picos: row.sum("spent")), periodStarts: starts, day: Money(picos: row.sum("day")),
                week: Money(picos: row.sum("week")), month: Money(picos: row.sum("month")))
        }
        return baselines
    }
}

extension Optional where Wrapped == Money {
    var sqlite: SQLiteData { self.map { .integer(Int($0.picos)) } ?? .null }
}

extension SQLiteStore {
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
