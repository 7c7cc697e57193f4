import Foundation
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
                UPDATE keys SET hash = ?, prefix = ?, last_four = ?, source = ?, expires_at = ?,
                    enabled = CASE WHEN hash = ? THEN enabled ELSE 1 END,
                    revoked_at = CASE WHEN hash = ? THEN revoked_at ELSE NULL END
                WHERE id = ?
                """,
                [.text(key.hash), .text(key.prefix), .text(key.lastFour), .text(key.source), key.expiresAt.sqlite,
                 .text(key.hash), .text(key.hash), .integer(Int(id))])
            return try await keyRow(id: id)
        }
    }

    public func listKeys() async throws -> [KeyRecord] {
        try await query("SELECT * FROM keys ORDER BY id").map(Self.keyRecord)
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
            INSERT INTO keys (name, hash, prefix, last_four, enabled, source, created_at, expires_at)
            VALUES (?, ?, ?, ?, 1, ?, ?, ?)
            """,
            [.text(key.name), .text(key.hash), .text(key.prefix), .text(key.lastFour), .text(key.source),
             .integer(Int(Date().millisecondsSince1970)), key.expiresAt.sqlite])
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
            lastUsedAt: row.date("last_used_at"), expiresAt: row.date("expires_at"), revokedAt: row.date("revoked_at"))
    }
}
