import NIOCore
import Policy
import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension SQLStore {
    public func upsertAccount(_ account: AccountInput) async throws -> AccountRecord {
        let binds: [SQLValue] = [
            .text(account.provider.rawValue), .text(account.baseURL), .text(account.secret.keyID),
            .blob(ByteBuffer(bytes: account.secret.combined)), .text(Self.encodeList(account.models)),
            .text(Self.encodeMap(account.modelMap)), .integer(account.priority), .integer(account.enabled ? 1 : 0),
            .text(account.notes), .text(account.source), account.limits.maxRPM.bind, account.limits.maxTPM.bind,
            account.limits.maxConcurrency.bind, .integer(account.limits.maxWaiting),
            .integer(
                Int(
                    account.limits.waitTimeout.components.seconds * 1000
                        + account.limits.waitTimeout.components.attoseconds / 1_000_000_000_000_000)),
            .integer(account.interceptWarmup ? 1 : 0), account.defaultInstructions.map { .text($0) } ?? .null, .integer(account.weight),
            .text(Self.encodeMap(account.headers)), .text(Self.encodeMap(account.bodyOverrides)), .text(try Self.encoded(account.options)),
            account.proxySecret.map { .text($0.keyID) } ?? .null, account.proxySecret.map { .blob(ByteBuffer(bytes: $0.combined)) } ?? .null,
        ]
        return try await transaction {
            let existing = try await execute("SELECT id FROM accounts WHERE name = ?", [.text(account.name)])
            if let id = existing.first?.int("id") {
                _ = try await execute(
                    """
                    UPDATE accounts SET provider = ?, base_url = ?, secret_key_id = ?, secret_sealed = ?, models = ?,
                        model_map = ?, priority = ?, enabled = ?, notes = ?, source = ?, max_rpm = ?, max_tpm = ?,
                        max_concurrency = ?, max_waiting = ?, wait_timeout_ms = ?, intercept_warmup = ?,
                        default_instructions = ?, weight = ?, headers = ?, body_overrides = ?, options = ?, proxy_key_id = ?, proxy_sealed = ?
                        WHERE id = ?
                    """, binds + [.integer(Int(id))])
                return try await accountRow(id: id)
            }
            let inserted = try await execute(
                """
                INSERT INTO accounts (provider, base_url, secret_key_id, secret_sealed, models, model_map, priority,
                    enabled, notes, source, max_rpm, max_tpm, max_concurrency, max_waiting, wait_timeout_ms, intercept_warmup,
                    default_instructions, weight, headers, body_overrides, options, proxy_key_id, proxy_sealed, name, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id
                """, binds + [.text(account.name), .integer(Int(Date().millisecondsSince1970))])
            guard let id = inserted.first?.int("id") else { throw StoreError(.notFound, "the new account has no id") }
            return try await accountRow(id: id)
        }
    }

    public func listAccounts() async throws -> [AccountRecord] {
        try await query("SELECT * FROM accounts ORDER BY id").map(Self.accountRecord)
    }

    public func removeAccount(name: String) async throws -> Bool {
        try await deleteNamed(name, from: "accounts")
    }

    public func setAccountEnabled(name: String, enabled: Bool) async throws -> AccountRecord? {
        try await transaction {
            let rows = try await execute("SELECT id FROM accounts WHERE name = ?", [.text(name)])
            guard let id = rows.first?.int("id") else { return nil }
            // Enabling bumps the generation: a running server clears the account's
            // cooldown and health mark when it sees the new value.
            _ = try await execute(
                "UPDATE accounts SET enabled = ?, generation = generation + ? WHERE id = ?",
                [.integer(enabled ? 1 : 0), .integer(enabled ? 1 : 0), .integer(Int(id))])
            return try await accountRow(id: id)
        }
    }

    public func saveAccountStatus(_ statuses: [AccountStatus], at: Date) async throws {
        guard !statuses.isEmpty else { return }
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .millisecondsSince1970
        try await transaction {
            for status in statuses {
                let text = String(decoding: try encoder.encode(status), as: UTF8.self)
                _ = try await execute(
                    """
                    INSERT INTO account_status (account_id, status, updated_at) VALUES (?, ?, ?)
                    ON CONFLICT (account_id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at
                    """, [.integer(Int(status.id)), .text(text), .integer(Int(at.millisecondsSince1970))])
            }
            // Accounts deleted since leave no state behind.
            _ = try await execute("DELETE FROM account_status WHERE account_id NOT IN (SELECT id FROM accounts)")
        }
    }

    public func accountStatuses() async throws -> [(status: AccountStatus, updatedAt: Date)] {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return try await query("SELECT * FROM account_status ORDER BY account_id").compactMap { row in
            guard let text = row.text("status"), let at = row.date("updated_at"),
                let status = try? decoder.decode(AccountStatus.self, from: Data(text.utf8))
            else { return nil }
            return (status, at)
        }
    }

    public func replaceSecrets(_ secrets: [Int64: SealedSecret], proxySecrets: [Int64: SealedSecret], settings: [String: String]) async throws {
        try await transaction {
            for (id, secret) in proxySecrets.sorted(by: { $0.key < $1.key }) {
                _ = try await execute(
                    "UPDATE accounts SET proxy_key_id = ?, proxy_sealed = ? WHERE id = ?",
                    [.text(secret.keyID), .blob(ByteBuffer(bytes: secret.combined)), .integer(Int(id))])
            }
            for (name, value) in settings.sorted(by: { $0.key < $1.key }) {
                _ = try await execute("UPDATE settings SET value = ? WHERE name = ?", [.text(value), .text(name)])
            }
            for (id, secret) in secrets.sorted(by: { $0.key < $1.key }) {
                _ = try await execute(
                    "UPDATE accounts SET secret_key_id = ?, secret_sealed = ? WHERE id = ?",
                    [.text(secret.keyID), .blob(ByteBuffer(bytes: secret.combined)), .integer(Int(id))])
            }
        }
    }

    private func accountRow(id: Int64) async throws -> AccountRecord {
        let rows = try await execute("SELECT * FROM accounts WHERE id = ?", [.integer(Int(id))])
        guard let row = rows.first else { throw StoreError(.notFound, "account \(id) vanished") }
        return try Self.accountRecord(row)
    }

    /// An account as stored. One whose caps, model list or map cannot be read
    /// comes back `unreadable`: it is never chosen, rather than run uncapped or
    /// sending the client's model names unmapped.
    static func accountRecord(_ row: SQLRow) throws -> AccountRecord {
        guard let id = row.int("id"), let name = row.text("name"),
            let provider = row.text("provider").flatMap(Provider.init(rawValue:)),
            let baseURL = row.text("base_url"), let keyID = row.text("secret_key_id"),
            let sealed = row.column("secret_sealed")?.blob
        else { throw StoreError(.corrupt, "an account row is missing required columns") }
        var record = AccountRecord(
            id: id, name: name, provider: provider, baseURL: baseURL,
            secret: SealedSecret(keyID: keyID, combined: Data(sealed.readableBytesView)),
            models: [], modelMap: [:], priority: 0, enabled: row.int("enabled") == 1, notes: row.text("notes") ?? "",
            source: row.text("source") ?? "", createdAt: row.date("created_at") ?? Date(timeIntervalSince1970: 0),
            limits: AccountLimits(), generation: row.int("generation") ?? 0, interceptWarmup: row.int("intercept_warmup") == 1,
            defaultInstructions: row.text("default_instructions"))
        do {
            record.models = try decodeList(row.text("models") ?? "[]")
            record.modelMap = try decodeMap(row.text("model_map") ?? "{}")
            record.priority = try bounded(row.integer("priority") ?? 0)
            let weight = try row.integer("weight") ?? 1
            guard AccountEntry.weights.contains(weight) else { throw StoreError(.corrupt, "weight out of range") }
            record.weight = Int(weight)
            record.headers = try decodeMap(row.text("headers") ?? "{}")
            record.bodyOverrides = try decodeMap(row.text("body_overrides") ?? "{}")
            record.options = try Self.decoded(AccountOptions.self, row.text("options"), what: "its options") ?? AccountOptions()
            if let keyID = row.text("proxy_key_id"), let sealed = row.column("proxy_sealed")?.blob {
                record.proxySecret = SealedSecret(keyID: keyID, combined: Data(sealed.readableBytesView))
            }
            record.limits = AccountLimits(
                maxRPM: try row.integer("max_rpm").map(bounded), maxTPM: try row.integer("max_tpm").map(bounded),
                maxConcurrency: try row.integer("max_concurrency").map(bounded), maxWaiting: try bounded(row.integer("max_waiting") ?? 0),
                waitTimeout: .milliseconds(try row.integer("wait_timeout_ms") ?? 30000))
        } catch {
            record.unreadable = "\(error)"
        }
        return record
    }

    /// A stored count as an `Int` within ±2³¹ (every cap and priority is far below).
    private static func bounded(_ value: Int64) throws(StoreError) -> Int {
        guard value.magnitude <= UInt64(Int32.max) else { throw StoreError(.corrupt, "a count is out of range") }
        return Int(value)
    }

    static func encodeList(_ list: [String]) -> String {
        String(decoding: (try? JSONEncoder().encode(list)) ?? Data("[]".utf8), as: UTF8.self)
    }

    static func encodeMap(_ map: [String: String]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: (try? encoder.encode(map)) ?? Data("{}".utf8), as: UTF8.self)
    }

    static func decodeList(_ text: String) throws -> [String] {
        do { return try JSONDecoder().decode([String].self, from: Data(text.utf8)) } catch {
            throw StoreError(.corrupt, "its model list cannot be read")
        }
    }

    static func decodeMap(_ text: String) throws -> [String: String] {
        do { return try JSONDecoder().decode([String: String].self, from: Data(text.utf8)) } catch {
            throw StoreError(.corrupt, "its model map cannot be read")
        }
    }
}
