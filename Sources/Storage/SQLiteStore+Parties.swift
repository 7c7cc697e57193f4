import Foundation
import Policy
import SQLiteNIO

extension SQLiteStore {
    public func listUsers() async throws -> [UserEntry] {
        try await query("SELECT * FROM users ORDER BY id").compactMap { row in
            guard let id = row.int("id"), let name = row.text("name") else { return nil }
            return UserEntry(
                id: id, name: name, group: row.text("group_name"), balancePicos: row.int("balance_picos"),
                description: row.text("description"))
        }
    }

    public func upsertUser(_ user: UserEntry, setBalance: Bool) async throws -> UserEntry {
        try await transaction {
            let binds: [SQLiteData] = [user.group.sqlite, user.balancePicos.sqlite, user.description.sqlite]
            let existing = try await execute("SELECT id FROM users WHERE name = ?", [.text(user.name)])
            if let id = existing.first?.int("id") {
                if setBalance {
                    _ = try await execute(
                        "UPDATE users SET group_name = ?, balance_picos = ?, description = ? WHERE id = ?", binds + [.integer(Int(id))])
                } else {
                    _ = try await execute(
                        "UPDATE users SET group_name = ?, description = ? WHERE id = ?",
                        [user.group.sqlite, user.description.sqlite, .integer(Int(id))])
                }
            } else {
                _ = try await execute(
                    "INSERT INTO users (group_name, balance_picos, description, name, created_at) VALUES (?, ?, ?, ?, ?)",
                    binds + [.text(user.name), .integer(Int(Date().millisecondsSince1970))])
            }
        }
        guard let saved = try await listUsers().first(where: { $0.name == user.name }) else {
            throw StoreError(.notFound, "user \(user.name) vanished")
        }
        return saved
    }

    public func adjustUserBalance(name: String, by picos: Int64) async throws -> Bool {
        try await transaction {
            let rows = try await execute("SELECT id FROM users WHERE name = ?", [.text(name)])
            guard let id = rows.first?.int("id") else { return false }
            _ = try await execute(
                "UPDATE users SET balance_picos = COALESCE(balance_picos, 0) + ? WHERE id = ?", [.integer(Int(picos)), .integer(Int(id))])
            return true
        }
    }

    public func deleteUser(name: String) async throws -> Bool {
        try await deleteNamed(name, from: "users")
    }

    public func listGroups() async throws -> [GroupEntry] {
        try await query("SELECT * FROM groups ORDER BY id").compactMap { row in
            guard let id = row.int("id"), let name = row.text("name") else { return nil }
            return GroupEntry(
                id: id, name: name, multiplierPPM: row.int("multiplier_ppm") ?? 1_000_000, dailyPicos: row.int("daily_picos"),
                weeklyPicos: row.int("weekly_picos"), monthlyPicos: row.int("monthly_picos"))
        }
    }

    public func upsertGroup(_ group: GroupEntry) async throws -> GroupEntry {
        try await transaction {
            let binds: [SQLiteData] = [
                .integer(Int(group.multiplierPPM)), group.dailyPicos.sqlite, group.weeklyPicos.sqlite, group.monthlyPicos.sqlite,
            ]
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
        let rows = try await query(
            """
            SELECT user_name, SUM(cost_picos) AS spent,
                SUM(CASE WHEN created_at >= ? THEN cost_picos ELSE 0 END) AS day,
                SUM(CASE WHEN created_at >= ? THEN cost_picos ELSE 0 END) AS week,
                SUM(CASE WHEN created_at >= ? THEN cost_picos ELSE 0 END) AS month
            FROM ledger WHERE user_name IS NOT NULL GROUP BY user_name
            """,
            [starts.day, starts.week, starts.month].map { .integer(Int($0.millisecondsSince1970)) })
        var baselines: [String: UserBaseline] = [:]
        for row in rows {
            guard let name = row.text("user_name") else { continue }
            baselines[name] = UserBaseline(
                spentPicos: row.int("spent") ?? 0, periodStarts: starts, dayPicos: row.int("day") ?? 0,
                weekPicos: row.int("week") ?? 0, monthPicos: row.int("month") ?? 0)
        }
        return baselines
    }
}
