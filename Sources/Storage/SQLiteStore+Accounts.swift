import Foundation
import NIOCore
import SQLiteNIO
import SwitchboardCore

extension SQLiteStore {
    public func upsertAccount(_ account: AccountInput) async throws -> AccountRecord {
        let binds: [SQLiteData] = [
            .text(account.provider.rawValue), .text(account.baseURL), .text(account.secret.keyID),
            .blob(ByteBuffer(bytes: account.secret.combined)), .text(Self.encodeList(account.models)),
            .text(Self.encodeMap(account.modelMap)), .integer(account.priority), .integer(account.enabled ? 1 : 0),
            .text(account.notes), .text(account.source),
        ]
        return try await transaction {
            let existing = try await execute("SELECT id FROM accounts WHERE name = ?", [.text(account.name)])
            if let id = existing.first?.int("id") {
                _ = try await execute(
                    """
                    UPDATE accounts SET provider = ?, base_url = ?, secret_key_id = ?, secret_sealed = ?, models = ?,
                        model_map = ?, priority = ?, enabled = ?, notes = ?, source = ? WHERE id = ?
                    """, binds + [.integer(Int(id))])
                return try await accountRow(id: id)
            }
            _ = try await execute(
                """
                INSERT INTO accounts (provider, base_url, secret_key_id, secret_sealed, models, model_map, priority,
                    enabled, notes, source, name, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, binds + [.text(account.name), .integer(Int(Date().millisecondsSince1970))])
            return try await accountRow(id: Int64(try await connection.lastAutoincrementID()))
        }
    }

    public func listAccounts() async throws -> [AccountRecord] {
        try await query("SELECT * FROM accounts ORDER BY id").map(Self.accountRecord)
    }

    public func removeAccount(name: String) async throws -> Bool {
        try await transaction {
            let rows = try await execute("SELECT id FROM accounts WHERE name = ?", [.text(name)])
            guard let id = rows.first?.int("id") else { return false }
            _ = try await execute("DELETE FROM accounts WHERE id = ?", [.integer(Int(id))])
            return true
        }
    }

    private func accountRow(id: Int64) async throws -> AccountRecord {
        let rows = try await execute("SELECT * FROM accounts WHERE id = ?", [.integer(Int(id))])
        guard let row = rows.first else { throw StoreError(.notFound, "account \(id) vanished") }
        return try Self.accountRecord(row)
    }

    static func accountRecord(_ row: SQLiteRow) throws -> AccountRecord {
        guard let id = row.int("id"), let name = row.text("name"),
            let provider = row.text("provider").flatMap(Provider.init(rawValue:)),
            let baseURL = row.text("base_url"), let keyID = row.text("secret_key_id"),
            let sealed = row.column("secret_sealed")?.blob, let created = row.date("created_at")
        else { throw StoreError(.corrupt, "an account row is missing required columns") }
        return AccountRecord(
            id: id, name: name, provider: provider, baseURL: baseURL,
            secret: SealedSecret(keyID: keyID, combined: Data(sealed.readableBytesView)),
            models: decodeList(row.text("models") ?? "[]"), modelMap: decodeMap(row.text("model_map") ?? "{}"),
            priority: Int(row.int("priority") ?? 0), enabled: row.int("enabled") == 1, notes: row.text("notes") ?? "",
            source: row.text("source") ?? "", createdAt: created)
    }

    static func encodeList(_ list: [String]) -> String {
        String(decoding: (try? JSONEncoder().encode(list)) ?? Data("[]".utf8), as: UTF8.self)
    }

    static func encodeMap(_ map: [String: String]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: (try? encoder.encode(map)) ?? Data("{}".utf8), as: UTF8.self)
    }

    static func decodeList(_ text: String) -> [String] {
        (try? JSONDecoder().decode([String].self, from: Data(text.utf8))) ?? []
    }

    static func decodeMap(_ text: String) -> [String: String] {
        (try? JSONDecoder().decode([String: String].self, from: Data(text.utf8))) ?? [:]
    }
}
