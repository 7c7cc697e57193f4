import Foundation
import NIOCore

extension SQLStore {
    public func appendAudit(_ entry: AuditEntry) async throws {
        _ = try await transaction {
            try await execute(
                "INSERT INTO audit_log (created_at, who, source, address, action, target, before, after) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    .integer(Int(entry.createdAt.millisecondsSince1970)), .text(entry.who), .text(entry.source), entry.address.bind,
                    .text(entry.action), .text(entry.target), entry.before.bind, entry.after.bind,
                ])
        }
    }

    public func auditPage(_ query: AuditQuery) async throws -> AuditPage {
        var conditions: [String] = []
        var binds: [SQLValue] = []
        if let from = query.from {
            conditions.append("created_at >= ?")
            binds.append(.integer(Int(from.millisecondsSince1970)))
        }
        if let to = query.to {
            conditions.append("created_at < ?")
            binds.append(.integer(Int(to.millisecondsSince1970)))
        }
        if let action = query.action {
            // A kind (`key`) matches its every action; `key.update` just that one.
            conditions.append(action.contains(".") ? "action = ?" : "action LIKE ? ESCAPE '\\'")
            binds.append(.text(action.contains(".") ? action : Self.likePrefix(action) + ".%"))
        }
        if let target = query.target {
            conditions.append("target = ?")
            binds.append(.text(target))
        }
        if let source = query.source {
            conditions.append("source = ?")
            binds.append(.text(source))
        }
        if let before = query.before {
            conditions.append("id < ?")
            binds.append(.integer(Int(before)))
        }
        let limit = min(max(query.limit, 1), 1000)
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let rows = try await self.query("SELECT * FROM audit_log \(filter) ORDER BY id DESC LIMIT ?", binds + [.integer(limit + 1)])
        let entries = rows.prefix(limit).map { row in
            AuditEntry(
                id: row.int("id") ?? 0, createdAt: Date(millisecondsSince1970: row.int("created_at") ?? 0), who: row.text("who") ?? "",
                source: row.text("source") ?? "", address: row.text("address"), action: row.text("action") ?? "",
                target: row.text("target") ?? "", before: row.text("before"), after: row.text("after"))
        }
        return AuditPage(entries: Array(entries), next: rows.count > limit ? entries.last?.id : nil)
    }

    public func deleteAudit(before cutoff: Date, limit: Int) async throws -> Int {
        try await deleteOldest(from: "audit_log", before: cutoff, limit: limit)
    }

    public func deleteMinuteRollups(before cutoff: Date, limit: Int) async throws -> Int {
        try await transaction {
            try await execute(
                """
                DELETE FROM usage_minutely WHERE (dimension, name, minute) IN
                    (SELECT dimension, name, minute FROM usage_minutely WHERE minute < ? ORDER BY minute LIMIT ?)
                RETURNING 1 AS n
                """, [.integer(Int(cutoff.millisecondsSince1970)), .integer(limit)]
            ).count
        }
    }

    /// Text for a `LIKE … ESCAPE '\'` prefix: its wildcards matched as themselves.
    static func likePrefix(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
    }
}
