import NIOCore
import Policy
import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension SQLStore {
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
                [
                    .text(key.hash), .text(key.prefix), .text(key.lastFour), .text(key.source), key.expiresAt.bind,
                    .text(try Self.encodePolicy(key.policy)), .text(key.hash), .text(key.hash), .integer(Int(id)),
                ])
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
            let policySQL =
                keepStoredBalance ? dialect.jsonSet("?", field: "balance_picos", to: dialect.jsonInteger("policy", field: "balance_picos")) : "?"
            _ = try await execute(
                "UPDATE keys SET policy = \(policySQL), enabled = ?, expires_at = ? WHERE id = ?",
                [.text(try Self.encodePolicy(policy)), .integer(enabled ? 1 : 0), expiresAt.bind, .integer(Int(id))])
            return try await keyRow(id: id)
        }
    }

    public func adjustKeyBalance(name: String, by amount: Money) async throws -> KeyRecord? {
        try await transaction {
            let rows = try await execute("SELECT id, policy FROM keys WHERE name = ?", [.text(name)])
            guard let row = rows.first, let id = row.int("id") else { return nil }
            // The whole transaction holds SQLite's write lock: read, check, write.
            let policy = try Self.decodePolicy(row.text("policy") ?? "{}")
            let current = policy.balance ?? .zero
            guard case (let balance, false) = current.picos.addingReportingOverflow(amount.picos) else {
                throw StoreError(.outOfRange, "the balance would pass what the gateway can hold")
            }
            _ = try await execute(
                "UPDATE keys SET policy = \(dialect.jsonSet("policy", field: "balance_picos", to: "?")) WHERE id = ?",
                [.integer(Int(balance)), .integer(Int(id))])
            return try await keyRow(id: id)
        }
    }

    public func deleteKey(name: String) async throws -> Bool {
        try await deleteNamed(name, from: "keys")
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
        let inserted = try await execute(
            """
            INSERT INTO keys (name, hash, prefix, last_four, enabled, source, created_at, expires_at, policy)
            VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?) RETURNING id
            """,
            [
                .text(key.name), .text(key.hash), .text(key.prefix), .text(key.lastFour), .text(key.source),
                .integer(Int(Date().millisecondsSince1970)), key.expiresAt.bind, .text(try Self.encodePolicy(key.policy)),
            ])
        guard let id = inserted.first?.int("id") else { throw StoreError(.notFound, "the new key has no id") }
        return try await keyRow(id: id)
    }

    private func keyRow(id: Int64) async throws -> KeyRecord {
        let rows = try await execute("SELECT * FROM keys WHERE id = ?", [.integer(Int(id))])
        guard let row = rows.first else { throw StoreError(.notFound, "key \(id) vanished") }
        return try Self.keyRecord(row)
    }

    /// A key as stored. A record whose policy or times cannot be read (or
    /// that sets limits no request could meet) comes back with `unreadable`
    /// set: the gateway refuses that key rather than run it without limits.
    static func keyRecord(_ row: SQLRow) throws -> KeyRecord {
        guard let id = row.int("id"), let name = row.text("name"), let hash = row.text("hash")
        else { throw StoreError(.corrupt, "a key row is missing required columns") }
        var record = KeyRecord(
            id: id, name: name, hash: hash, prefix: row.text("prefix") ?? "", lastFour: row.text("last_four") ?? "",
            enabled: row.int("enabled") == 1, source: row.text("source") ?? "", createdAt: row.date("created_at") ?? Date(timeIntervalSince1970: 0),
            lastUsedAt: row.date("last_used_at"), expiresAt: nil, revokedAt: row.date("revoked_at"))
        do {
            record.expiresAt = try row.strictDate("expires_at")
            record.policy = try decodePolicy(row.text("policy") ?? "{}")
            if let problem = record.policy.problem { throw StoreError(.corrupt, "its policy is unusable: \(problem)") }
        } catch {
            record.policy = KeyPolicy()
            record.unreadable = "\(error)"
        }
        return record
    }

    static func encodePolicy(_ policy: KeyPolicy) throws -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(policy), as: UTF8.self)
    }

    static func decodePolicy(_ text: String) throws -> KeyPolicy {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try decoder.decode(KeyPolicy.self, from: Data(text.utf8))
        } catch {
            throw StoreError(.corrupt, "its policy cannot be read")
        }
    }

    /// A mean latency from SQL as whole milliseconds, within range.
    static func wholeMilliseconds(_ value: Double?) -> Int64 {
        guard let value, value.isFinite, value >= 0 else { return 0 }
        return value >= 9.2e18 ? .max : Int64(value.rounded())
    }

    /// What each key spent and used so far, and spent today: from the totals
    /// and hourly rollups the ledger's trigger keeps, which outlive its rows.
    public func keyBaselines(now: Date) async throws -> [Int64: KeyBaseline] {
        let starts = Periods.starts(of: now)
        let totals = try await query("SELECT key_id, cost_hi AS spent_hi, cost_lo AS spent_lo, tokens_hi, tokens_lo FROM key_totals")
        let periods = try await query(
            """
            SELECT name, \(SQLiteRollups.costSince("day")), \(SQLiteRollups.costSince("week")), \(SQLiteRollups.costSince("month")) FROM usage_hourly
            WHERE dimension = '\(SQLiteRollups.keyIDDimension.name)' AND hour >= ? GROUP BY name
            """,
            [starts.day, starts.day, starts.week, starts.week, starts.month, starts.month, min(starts.week, starts.month)].map {
                .integer(Int($0.millisecondsSince1970))
            })
        var recent: [Int64: SQLRow] = [:]
        for row in periods {
            if let id = row.text("name").flatMap({ Int64($0) }) { recent[id] = row }
        }
        let models = try await modelPeriods(SQLiteRollups.keyModelDimension.name, now: now)
        let hourStart = Date(timeIntervalSince1970: (now.timeIntervalSince1970 / 3600).rounded(.down) * 3600)
        var baselines: [Int64: KeyBaseline] = [:]
        for row in totals {
            guard let id = row.int("key_id") else { continue }
            let period = recent[id]
            var baseline = KeyBaseline(
                spent: Money(picos: row.sum("spent")), tokens: row.sum("tokens"), today: Money(picos: period?.sum("day") ?? 0), day: starts.day,
                week: Money(picos: period?.sum("week") ?? 0), month: Money(picos: period?.sum("month") ?? 0))
            baseline.hourStart = hourStart
            baseline.models = models[String(id)] ?? [:]
            baselines[id] = baseline
        }
        // What needs the key's policy: the current hour and budget period, and a usage reset's offsets.
        for row in try await query("SELECT id, policy FROM keys WHERE revoked_at IS NULL") {
            guard let id = row.int("id"), var baseline = baselines[id], let text = row.text("policy"),
                let policy = try? Self.decodePolicy(text)
            else { continue }
            baseline.hour = try await keyCost(id, from: hourStart)
            if let period = policy.budgetPeriod(at: now) { baseline.budget = (period.start, try await keyCost(id, from: period.start)) }
            if let reset = policy.usageReset {
                baseline.resetAt = reset.atMilliseconds
                baseline.tokens = reset.tokens(fromTotal: baseline.tokens)
                baseline.today = reset.day(baseline.today, dayStart: starts.day)
            }
            baselines[id] = baseline
        }
        return baselines
    }

    /// What a key spent from an hour's start on, from the hourly rollups.
    func keyCost(_ id: Int64, from start: Date) async throws -> Money {
        let rows = try await query(
            "SELECT SUM(cost_hi) AS cost_hi, SUM(cost_lo) AS cost_lo FROM usage_hourly WHERE dimension = ? AND name = ? AND hour >= ?",
            [.text(SQLiteRollups.keyIDDimension.name), .text(String(id)), .integer(Int(start.millisecondsSince1970))])
        return Money(picos: rows.first?.sum("cost") ?? 0)
    }
}
