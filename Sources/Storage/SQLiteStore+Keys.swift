import Foundation
import Policy
import SQLiteNIO

extension SQLiteStore {
    public func insertKey(_ key: KeyInput) async throws -> KeyRecord {
        try await transaction {
            let existing = try await execute("SELECT id FROM keys WHERE name = ?", [.text(key.name)])
            guard existing.isEmpty else { throw StoreError(.duplicateName, "a key named '\(key.name)' already exists") }
            return try await insertKeyRow(key)
        }
    }

    public func upsertKey(_ key: KeyInput) async throws -> KeyRecord {
        try await transaction {
            let existing = try await execute("SELECT id FROM keys WHERE name = ?", [.text(key.name)])
            guard let id = existing.first?.int("id") else { return try await insertKeyRow(key) }
            _ = try await execute(
                """
                UPDATE keys SET hash = ?, prefix = ?, last_four = ?, source = ?, expires_at = ?, policy = ?,
                    enabled = CASE WHEN hash = ? THEN enabled ELSE 1 END,
                    revoked_at = CASE WHEN hash = ? THEN revoked_at ELSE NULL END
                WHERE id = ?
                """,
                [.text(key.hash), .text(key.prefix), .text(key.lastFour), .text(key.source), key.expiresAt.sqlite,
                 .text(Self.encodePolicy(key.policy)), .text(key.hash), .text(key.hash), .integer(Int(id))])
            return try await keyRow(id: id)
        }
    }

    public func listKeys() async throws -> [KeyRecord] {
        try await query("SELECT * FROM keys ORDER BY id").map(Self.keyRecord)
    }

    public func updateKey(
        name: String, policy: KeyPolicy, enabled: Bool, expiresAt: Date?, keepStoredBalance: Bool
    ) async throws -> KeyRecord? {
        try await transaction {
            let rows = try await execute("SELECT id FROM keys WHERE name = ?", [.text(name)])
            guard let id = rows.first?.int("id") else { return nil }
            // Keeping the stored balance inside the UPDATE means a concurrent top-up is never overwritten.
            let policySQL = keepStoredBalance ? "json_set(?, '$.balance_picos', json_extract(policy, '$.balance_picos'))" : "?"
            _ = try await execute(
                "UPDATE keys SET policy = \(policySQL), enabled = ?, expires_at = ? WHERE id = ?",
                [.text(Self.encodePolicy(policy)), .integer(enabled ? 1 : 0), expiresAt.sqlite, .integer(Int(id))])
            return try await keyRow(id: id)
        }
    }

    public func adjustKeyBalance(name: String, by picos: Int64) async throws -> KeyRecord? {
        try await transaction {
            let rows = try await execute("SELECT id FROM keys WHERE name = ?", [.text(name)])
            guard let id = rows.first?.int("id") else { return nil }
            _ = try await execute(
                """
                UPDATE keys SET policy = json_set(policy, '$.balance_picos',
                    COALESCE(json_extract(policy, '$.balance_picos'), 0) + ?) WHERE id = ?
                """, [.integer(Int(picos)), .integer(Int(id))])
            return try await keyRow(id: id)
        }
    }

    public func deleteKey(name: String) async throws -> Bool {
        try await deleteNamed(name, from: "keys")
    }

    public func dailyStats(of subject: LedgerSubject, since: Date) async throws -> [KeyDayStats] {
        let (filter, bind): (String, SQLiteData)
        switch subject {
        case .key(let id): (filter, bind) = ("key_id = ?", .integer(Int(id)))
        case .user(let name): (filter, bind) = ("user_name = ?", .text(name))
        case .group(let name): (filter, bind) = ("user_name IN (SELECT name FROM users WHERE group_name = ?)", .text(name))
        }
        return try await query(
            """
            SELECT date(created_at / 1000, 'unixepoch') AS day, COUNT(*) AS requests,
                SUM(input_uncached + cache_read + cache_write_5m + cache_write_1h + output) AS tokens,
                SUM(cost_picos) AS cost, AVG(latency_ms) AS latency
            FROM ledger WHERE \(filter) AND created_at >= ? GROUP BY day ORDER BY day
            """, [bind, .integer(Int(since.millisecondsSince1970))]
        ).map { row in
            KeyDayStats(
                day: row.text("day") ?? "", requests: row.int("requests") ?? 0, tokens: row.int("tokens") ?? 0,
                costPicos: row.int("cost") ?? 0, meanLatencyMs: Int64((row.column("latency")?.double ?? 0).rounded()))
        }
    }

    public func revokeKey(name: String, at date: Date) async throws -> Bool {
        try await transaction {
            let rows = try await execute("SELECT id FROM keys WHERE name = ?", [.text(name)])
            guard let id = rows.first?.int("id") else { return false }
            _ = try await execute(
                "UPDATE keys SET enabled = 0, revoked_at = COALESCE(revoked_at, ?) WHERE id = ?",
                [.integer(Int(date.millisecondsSince1970)), .integer(Int(id))])
            return true
        }
    }

    private func insertKeyRow(_ key: KeyInput) async throws -> KeyRecord {
        _ = try await execute(
            """
            INSERT INTO keys (name, hash, prefix, last_four, enabled, source, created_at, expires_at, policy)
            VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?)
            """,
            [.text(key.name), .text(key.hash), .text(key.prefix), .text(key.lastFour), .text(key.source),
             .integer(Int(Date().millisecondsSince1970)), key.expiresAt.sqlite, .text(Self.encodePolicy(key.policy))])
        let id = Int64(try await connection.lastAutoincrementID())
        return try await keyRow(id: id)
    }

    private func keyRow(id: Int64) async throws -> KeyRecord {
        let rows = try await execute("SELECT * FROM keys WHERE id = ?", [.integer(Int(id))])
        guard let row = rows.first else { throw StoreError(.notFound, "key \(id) vanished") }
        return try Self.keyRecord(row)
    }

    static func keyRecord(_ row: SQLiteRow) throws -> KeyRecord {
        guard let id = row.int("id"), let name = row.text("name"), let hash = row.text("hash"),
            let created = row.date("created_at")
        else { throw StoreError(.corrupt, "a key row is missing required columns") }
        return KeyRecord(
            id: id, name: name, hash: hash, prefix: row.text("prefix") ?? "", lastFour: row.text("last_four") ?? "",
            enabled: row.int("enabled") == 1, source: row.text("source") ?? "", createdAt: created,
            lastUsedAt: row.date("last_used_at"), expiresAt: row.date("expires_at"), revokedAt: row.date("revoked_at"),
            policy: decodePolicy(row.text("policy") ?? "{}"))
    }

    static func encodePolicy(_ policy: KeyPolicy) -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = .sortedKeys
        return String(decoding: (try? encoder.encode(policy)) ?? Data("{}".utf8), as: UTF8.self)
    }

    static func decodePolicy(_ text: String) -> KeyPolicy {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return (try? decoder.decode(KeyPolicy.self, from: Data(text.utf8))) ?? KeyPolicy()
    }

    public func keyBaselines(now: Date) async throws -> [Int64: KeyBaseline] {
        let dayStart = Periods.dayStart(of: now)
        let rows = try await query(
            """
            SELECT key_id, SUM(cost_picos) AS spent,
                SUM(input_uncached + cache_read + cache_write_5m + cache_write_1h + output) AS tokens,
                SUM(CASE WHEN created_at >= ? THEN cost_picos ELSE 0 END) AS today
            FROM ledger WHERE key_id IS NOT NULL GROUP BY key_id
            """, [.integer(Int(dayStart.millisecondsSince1970))])
        var baselines: [Int64: KeyBaseline] = [:]
        for row in rows {
            guard let id = row.int("key_id") else { continue }
            baselines[id] = KeyBaseline(
                spentPicos: row.int("spent") ?? 0, tokens: row.int("tokens") ?? 0, todayPicos: row.int("today") ?? 0, day: dayStart)
        }
        return baselines
    }
}
