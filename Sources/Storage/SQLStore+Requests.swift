import NIOCore
import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension SQLStore {
    /// A page of ledger rows, newest first. Each filter maps to an indexed
    /// column where one exists (a key or account is looked up by name first,
    /// then its rows by id), so a page costs one index range, not a scan.
    public func ledgerPage(_ query: LedgerQuery) async throws -> LedgerPage {
        var (conditions, binds) = try await ledgerFilter(query)
        if let cursor = query.cursor {
            // The first term lets the time index bound the range; the second breaks ties.
            conditions.append("created_at <= ? AND (created_at < ? OR \(dialect.insertionOrder) < ?)")
            binds += [.integer(Int(cursor.createdAtMs)), .integer(Int(cursor.createdAtMs)), .integer(Int(cursor.sequence))]
        }
        let limit = min(max(query.limit, 1), LedgerQuery.maxLimit)
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let found = try await self.query(
            "SELECT \(dialect.insertionOrder) AS sequence, * FROM ledger \(filter) ORDER BY created_at DESC, \(dialect.insertionOrder) DESC LIMIT ?",
            binds + [.integer(limit + 1)])
        let rows = try found.prefix(limit).map(Self.ledgerRow)
        var next: LedgerCursor?
        if found.count > limit, let last = found.prefix(limit).last, let time = last.int("created_at"), let sequence = last.int("sequence") {
            next = LedgerCursor(createdAtMs: time, sequence: sequence)
        }
        return LedgerPage(rows: rows, next: next)
    }

    /// The conditions (joined by AND) and values that select a query's rows, cursor aside.
    private func ledgerFilter(_ query: LedgerQuery) async throws -> ([String], [SQLValue]) {
        var conditions: [String] = []
        var binds: [SQLValue] = []
        func add(_ condition: String, _ values: SQLValue...) {
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
        if let session = query.session { add("session = ?", .text(session)) }
        if let status = query.status {
            add("status BETWEEN ? AND ?", .integer(status.range.lowerBound), .integer(status.range.upperBound))
        }
        return (conditions, binds)
    }

    /// The names in a JSON list of strings; none for anything else.
    static func names(fromJSONList text: String?) -> [String] {
        guard let text, let data = text.data(using: .utf8), let names = try? JSONDecoder().decode([String].self, from: data) else { return [] }
        return names
    }

    /// A key's sessions among a query's rows (a session's digest names it within
    /// its key), the most recently active first, each
    /// added up (`limit` of them; the cursor does not apply). Sums are read in
    /// billions and the rest, so no session's total can overflow.
    public func sessionUsage(_ query: LedgerQuery) async throws -> [SessionUsage] {
        let (conditions, binds) = try await ledgerFilter(query)
        let columns = [
            ("input", "input_uncached"), ("cache_read", "cache_read"), ("cache_write_5m", "cache_write_5m"),
            ("cache_write_1h", "cache_write_1h"), ("output", "output"), ("cost", "cost_picos"), ("saved", "cache_saved_picos"),
        ].map { "SUM(\($0.1) / \(SafeSum.unit)) AS \($0.0)_hi, SUM(\($0.1) % \(SafeSum.unit)) AS \($0.0)_lo" }
        let limit = min(max(query.limit, 1), LedgerQuery.maxLimit)
        // `+key_id` in SQLite: grouping in the key index's order would read every row ever kept; the filters' indexes bound the range instead.
        let rows = try await self.query(
            """
            SELECT session, key_id, MIN(created_at) AS first_at, MAX(created_at) AS last_at, COUNT(*) AS requests,
                SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS errors, MAX(key_name) AS key_name, MAX(user_name) AS user_name,
                \(dialect.jsonArrayOfDistinct("account_name")) AS accounts, \(columns.joined(separator: ", "))
            FROM ledger WHERE \((["session IS NOT NULL"] + conditions).joined(separator: " AND "))
            GROUP BY \(dialect.unindexed("key_id")), session ORDER BY last_at DESC LIMIT ?
            """, binds + [.integer(limit)])
        return rows.compactMap { row in
            guard let session = row.text("session"), let first = row.date("first_at"), let last = row.date("last_at") else { return nil }
            return SessionUsage(
                session: session, keyID: row.int("key_id"), keyName: row.text("key_name"), userName: row.text("user_name"),
                // A JSON list: a name may hold the comma a plain list would be joined with.
                accounts: Self.names(fromJSONList: row.text("accounts")).prefix(SessionUsage.maxAccounts).map { $0 },
                firstAt: first, lastAt: last, requests: row.int("requests") ?? 0, errors: row.int("errors") ?? 0,
                tokens: TokenUsage(
                    inputUncached: row.sum("input"), cacheRead: row.sum("cache_read"), cacheWrite5m: row.sum("cache_write_5m"),
                    cacheWrite1h: row.sum("cache_write_1h"), output: row.sum("output")),
                cost: Money(picos: row.sum("cost")), cacheSaved: Money(picos: row.sum("saved")))
        }
    }

    /// The row of one request, if there is one.
    public func ledgerRow(requestID: String) async throws -> LedgerRow? {
        try await query("SELECT * FROM ledger WHERE request_id = ?", [.text(requestID)]).first.map(Self.ledgerRow)
    }
}
