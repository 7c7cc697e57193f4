import Foundation
import SQLiteNIO
import SwitchboardCore

extension SQLiteStore {
    /// A page of ledger rows, newest first. Each filter maps to an indexed
    /// column where one exists (a key or account is looked up by name first,
    /// then its rows by id), so a page costs one index range, not a scan.
    public func ledgerPage(_ query: LedgerQuery) async throws -> LedgerPage {
        var conditions: [String] = []
        var binds: [SQLiteData] = []
        func add(_ condition: String, _ values: SQLiteData...) {
            conditions.append(condition)
            binds.append(contentsOf: values)
        }
        if let id = query.requestID { add("request_id = ?", .text(id)) }
        if let from = query.from { add("created_at >= ?", .integer(Int(from.millisecondsSince1970))) }
        if let to = query.to { add("created_at < ?", .integer(Int(to.millisecondsSince1970))) }
        if let name = query.keyName {
            if let id = try await self.query("SELECT id FROM keys WHERE name = ?", [.text(name)]).first?.int("id") {
                add("key_id = ?", .integer(Int(id)))
            } else {
                add("key_name = ?", .text(name))
            }
        }
        if let name = query.accountName {
            if let id = try await self.query("SELECT id FROM accounts WHERE name = ?", [.text(name)]).first?.int("id") {
                add("account_id = ?", .integer(Int(id)))
            } else {
                add("account_name = ?", .text(name))
            }
        }
        if let user = query.userName { add("user_name = ?", .text(user)) }
        if let model = query.model { add("model = ?", .text(model)) }
        if let dialect = query.dialect { add("dialect = ?", .text(dialect)) }
        if let outcome = query.outcome { add("outcome = ?", .text(outcome.rawValue)) }
        if let status = query.status {
            add("status BETWEEN ? AND ?", .integer(status.range.lowerBound), .integer(status.range.upperBound))
        }
        if let cursor = query.cursor {
            // The first term lets the time index bound the range; the second breaks ties.
            add(
                "created_at <= ? AND (created_at < ? OR rowid < ?)", .integer(Int(cursor.createdAtMs)),
                .integer(Int(cursor.createdAtMs)), .integer(Int(cursor.sequence)))
        }
        let limit = min(max(query.limit, 1), LedgerQuery.maxLimit)
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let found = try await self.query(
            "SELECT rowid AS sequence, * FROM ledger \(filter) ORDER BY created_at DESC, rowid DESC LIMIT ?",
            binds + [.integer(limit + 1)])
        let rows = try found.prefix(limit).map(Self.ledgerRow)
        var next: LedgerCursor?
        if found.count > limit, let last = found.prefix(limit).last, let time = last.int("created_at"), let sequence = last.int("sequence") {
            next = LedgerCursor(createdAtMs: time, sequence: sequence)
        }
        return LedgerPage(rows: rows, next: next)
    }

    /// The row of one request, if there is one.
    public func ledgerRow(requestID: String) async throws -> LedgerRow? {
        try await query("SELECT * FROM ledger WHERE request_id = ?", [.text(requestID)]).first.map(Self.ledgerRow)
    }
}
