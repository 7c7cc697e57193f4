import NIOCore
import Policy

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension SQLStore {
    public func addQuarantine(_ quarantine: Quarantine) async throws -> Int64 {
        try await transaction {
            let inserted = try await execute(
                """
                INSERT INTO quarantines (scope, session, key_id, key_name, account, signal, request_id, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id
                """,
                [
                    .text(quarantine.scope.rawValue), quarantine.session.map { .text($0) } ?? .null, .integer(Int(quarantine.keyID)),
                    .text(quarantine.keyName), .text(quarantine.account), .text(quarantine.signal), .text(quarantine.requestID),
                    .integer(Int(quarantine.createdAt.millisecondsSince1970)),
                ])
            guard let id = inserted.first?.int("id") else { throw StoreError(.notFound, "the new quarantine has no id") }
            return id
        }
    }

    public func activeQuarantines() async throws -> [Quarantine] {
        try await query("SELECT * FROM quarantines WHERE released_at IS NULL ORDER BY id").map { row in
            guard let id = row.int("id"), let keyID = row.int("key_id"), let keyName = row.text("key_name"),
                let account = row.text("account"), let signal = row.text("signal"), let requestID = row.text("request_id")
            else { throw StoreError(.corrupt, "a quarantine row is missing required columns") }
            // An unreadable scope quarantines the whole key: the wider reach, never none.
            let scope = row.text("scope").flatMap(Quarantine.Scope.init(rawValue:)) ?? .key
            return Quarantine(
                id: id, scope: scope, session: row.text("session"), keyID: keyID, keyName: keyName, account: account, signal: signal,
                requestID: requestID, createdAt: row.date("created_at") ?? Date(timeIntervalSince1970: 0))
        }
    }

    public func releaseQuarantine(id: Int64, at: Date) async throws -> Bool {
        try await transaction {
            let rows = try await execute("SELECT id FROM quarantines WHERE id = ? AND released_at IS NULL", [.integer(Int(id))])
            guard !rows.isEmpty else { return false }
            _ = try await execute(
                "UPDATE quarantines SET released_at = ? WHERE id = ?", [.integer(Int(at.millisecondsSince1970)), .integer(Int(id))])
            return true
        }
    }
}
