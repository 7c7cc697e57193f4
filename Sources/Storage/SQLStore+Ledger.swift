import NIOCore
import Policy
import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension SQLStore {
    static let ledgerColumns = [
        "request_id", "created_at", "key_id", "key_name", "account_id", "account_name", "provider", "dialect",
        "model", "upstream_model", "status", "outcome", "error_code", "stream", "input_uncached", "cache_read",
        "cache_write_5m", "cache_write_1h", "output", "reasoning", "cost_picos", "priced", "usage_incomplete",
        "latency_ms", "first_byte_ms", "attempts", "route", "user_name", "usage_source", "delivered_bytes", "upstream_cost_picos",
        "client_address", "user_agent", "selection", "upstream_ms", "list_input_picos", "list_cache_read_picos",
        "list_cache_write_5m_picos", "list_cache_write_1h_picos", "list_output_picos", "cache_saved_picos", "session",
    ]

    public func appendLedger(_ rows: [LedgerRow]) async throws {
        do {
            try await database.onLedgerLane { try await self.insertLedger(rows) }
        } catch {
            throw database.storeError(error) ?? error
        }
    }

    private func insertLedger(_ rows: [LedgerRow]) async throws {
        guard !rows.isEmpty else { return }
        let placeholders = "(" + Array(repeating: "?", count: Self.ledgerColumns.count).joined(separator: ",") + ")"
        try await transaction {
            let perStatement = dialect.rowsPerStatement(columns: Self.ledgerColumns.count)
            var start = 0
            var inserted = Set<String>()
            while start < rows.count {
                let chunk = rows[start..<min(rows.count, start + perStatement)]
                let sql =
                    "INSERT INTO ledger (\(Self.ledgerColumns.joined(separator: ","))) VALUES "
                    + Array(repeating: placeholders, count: chunk.count).joined(separator: ",")
                    + " ON CONFLICT (request_id) DO NOTHING RETURNING request_id"
                for row in try await execute(sql, chunk.flatMap(Self.binds)) {
                    if let id = row.text("request_id") { inserted.insert(id) }
                }
                start += chunk.count
            }
            // The rows the insert took, each once (of two with one id in the batch, the first went in).
            var rollups = LedgerRollups()
            let taken = rows.filter { inserted.remove($0.requestID) != nil }
            BackgroundThread.inPieces(taken) { piece in
                for row in piece { rollups.add(row) }
            }
            for (sql, binds) in rollups.statements(dialect) { _ = try await execute(sql, binds) }
            for row in rows {
                guard let capture = row.capture else { continue }
                _ = try await execute(
                    "INSERT INTO captures (request_id, created_at, key_id, sealed) VALUES (?, ?, ?, ?) ON CONFLICT (request_id) DO NOTHING",
                    [
                        .text(row.requestID), .integer(Int(row.createdAt.millisecondsSince1970)), .text(capture.keyID),
                        .blob(ByteBuffer(bytes: capture.combined)),
                    ])
            }
            var lastUse: [Int64: Int64] = [:]
            var firstUse: [Int64: Int64] = [:]
            for row in rows {
                guard let key = row.keyID else { continue }
                let time = row.createdAt.millisecondsSince1970
                lastUse[key] = max(lastUse[key] ?? 0, time)
                firstUse[key] = min(firstUse[key] ?? .max, time)
            }
            for (key, time) in lastUse {
                _ = try await execute(
                    "UPDATE keys SET last_used_at = \(dialect.greatest("COALESCE(last_used_at, 0)", "?")) WHERE id = ?",
                    [.integer(Int(time)), .integer(Int(key))])
            }
            // A key that activates on first use starts its clock with its first request.
            let days = dialect.jsonInteger("policy", field: "activate_on_first_use_days")
            for (key, time) in firstUse {
                _ = try await execute(
                    """
                    UPDATE keys SET expires_at = ? + \(days) * 86400000
                    WHERE id = ? AND expires_at IS NULL AND \(days) BETWEEN 1 AND ?
                    """, [.integer(Int(time)), .integer(Int(key)), .integer(KeyPolicy.maxDays)])
            }
        }
    }

    public func deleteLedgerRows(before cutoff: Date, limit: Int) async throws -> Int {
        let rows = try await deleteOldest(from: "ledger", before: cutoff, limit: limit)
        // Captures go with their rows (a capture is never older than its row).
        _ = try await deleteOldest(from: "captures", before: cutoff, limit: limit)
        return rows
    }

    /// Captures sealed with master key `keyID`, in request id order after `after`, up to `limit`.
    public func captures(sealedWith keyID: String, after: String, limit: Int) async throws -> [(requestID: String, sealed: SealedSecret)] {
        try await query(
            "SELECT request_id, sealed FROM captures WHERE key_id = ? AND request_id > ? ORDER BY request_id LIMIT ?",
            [.text(keyID), .text(after), .integer(limit)]
        ).compactMap { row in
            guard let id = row.text("request_id"), let sealed = row.column("sealed")?.blob else { return nil }
            return (id, SealedSecret(keyID: keyID, combined: Data(sealed.readableBytesView)))
        }
    }

    /// Replaces captures' sealed bodies (a master key rotation), in one transaction.
    public func replaceCaptures(_ sealed: [String: SealedSecret]) async throws {
        guard !sealed.isEmpty else { return }
        try await transaction {
            for (id, secret) in sealed {
                _ = try await execute(
                    "UPDATE captures SET key_id = ?, sealed = ? WHERE request_id = ?",
                    [.text(secret.keyID), .blob(ByteBuffer(bytes: secret.combined)), .text(id)])
            }
        }
    }

    /// A request's sealed capture, nil when there is none.
    public func capture(requestID: String) async throws -> SealedSecret? {
        guard let row = try await query("SELECT key_id, sealed FROM captures WHERE request_id = ?", [.text(requestID)]).first,
            let keyID = row.text("key_id"), let sealed = row.column("sealed")?.blob
        else { return nil }
        return SealedSecret(keyID: keyID, combined: Data(sealed.readableBytesView))
    }

    /// Deletes up to `limit` of a table's oldest rows made before `cutoff`, in one transaction; returns how many went.
    func deleteOldest(from table: String, before cutoff: Date, limit: Int) async throws -> Int {
        let row = dialect.physicalRow
        return try await transaction {
            try await execute(
                """
                DELETE FROM \(table) WHERE \(row) IN (SELECT \(row) FROM \(table) WHERE created_at < ? ORDER BY created_at LIMIT ?)
                RETURNING 1 AS n
                """,
                [.integer(Int(cutoff.millisecondsSince1970)), .integer(max(0, limit))]
            ).count
        }
    }

    public func recentLedger(limit: Int) async throws -> [LedgerRow] {
        try await query("SELECT * FROM ledger ORDER BY created_at DESC, \(dialect.insertionOrder) DESC LIMIT ?", [.integer(limit)])
            .map(Self.ledgerRow)
    }

    /// Totals by key and by model: whole hours from the rollups (which outlive
    /// the rows), the part of an hour before the first whole one from the rows.
    public func usageReport(since: Date?) async throws -> UsageReport {
        let start = since?.millisecondsSince1970 ?? 0
        let firstWholeHour = start <= 0 ? 0 : (start + 3_599_999) / 3_600_000 * 3_600_000
        let rowSums = """
            COUNT(*) AS requests, SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS errors,
            \(SafeSum.sql("input_uncached", as: "input")), \(SafeSum.sql("cache_read", as: "cache_read")),
            \(SafeSum.sql("cache_write_5m", as: "cache_write")), \(SafeSum.sql("cache_write_1h", as: "cache_write_1h")),
            \(SafeSum.sql("output", as: "output")), \(SafeSum.sql("cost_picos", as: "cost"))
            """
        let rollupSums =
            (["requests", "errors"].map { "SUM(\($0)) AS \($0)" }
            + [
                ("input", "input"), ("cache_read", "cache_read"), ("cache_write_5m", "cache_write"), ("cache_write_1h", "cache_write_1h"),
                ("output", "output"), ("cost", "cost"),
            ].flatMap { column, name in ["SUM(\(column)_hi) AS \(name)_hi", "SUM(\(column)_lo) AS \(name)_lo"] }).joined(separator: ", ")
        let rows = "FROM ledger WHERE created_at >= ? AND created_at < ?"
        let rowBinds: [SQLValue] = [.integer(Int(start)), .integer(Int(firstWholeHour))]
        let hours = "FROM usage_hourly WHERE hour >= ?"
        let hourBinds: [SQLValue] = [.integer(Int(firstWholeHour))]
        let deleted = { (name: String) in
            "CASE WHEN \(name) IS NOT NULL AND \(name) != '' AND \(name) NOT IN (SELECT name FROM keys) THEN \(name) || ' (deleted)' ELSE NULLIF(\(name), '') END"
        }
        let byKey =
            try await query("SELECT \(deleted("key_name")) AS name, \(rowSums) \(rows) GROUP BY 1", rowBinds)
            + query("SELECT \(deleted("name")) AS name, \(rollupSums) \(hours) AND dimension = 'key' GROUP BY 1", hourBinds)
        let byModel =
            try await query("SELECT model AS name, \(rowSums) \(rows) GROUP BY 1", rowBinds)
            + query("SELECT NULLIF(name, '') AS name, \(rollupSums) \(hours) AND dimension = 'model' GROUP BY 1", hourBinds)
        let all =
            try await query("SELECT 'total' AS name, \(rowSums) \(rows)", rowBinds)
            + query("SELECT 'total' AS name, \(rollupSums) \(hours) AND dimension = 'total'", hourBinds)
        return UsageReport(byKey: Self.merged(byKey), byModel: Self.merged(byModel), total: Self.merged(all).first ?? UsageTotals(name: "total"))
    }

    /// Totals read in parts (rows and rollups), added up by name, dearest first.
    static func merged(_ rows: [SQLRow]) -> [UsageTotals] {
        var byName: [String: UsageTotals] = [:]
        for row in rows where (row.int("requests") ?? 0) > 0 {
            let name = row.text("name") ?? "(none)"
            var totals = byName[name] ?? UsageTotals(name: name)
            totals.requests = totals.requests.saturatingAdd(row.int("requests") ?? 0)
            totals.errors = totals.errors.saturatingAdd(row.int("errors") ?? 0)
            totals.inputTokens = totals.inputTokens.saturatingAdd(row.sum("input"))
            totals.cacheReadTokens = totals.cacheReadTokens.saturatingAdd(row.sum("cache_read"))
            totals.cacheWriteTokens = totals.cacheWriteTokens.saturatingAdd(row.sum("cache_write")).saturatingAdd(row.sum("cache_write_1h"))
            totals.outputTokens = totals.outputTokens.saturatingAdd(row.sum("output"))
            totals.cost += Money(picos: row.sum("cost"))
            byName[name] = totals
        }
        return byName.values.sorted { ($0.cost, $1.name) > ($1.cost, $0.name) }
    }

    static func binds(_ row: LedgerRow) -> [SQLValue] {
        [
            .text(row.requestID), .integer(Int(row.createdAt.millisecondsSince1970)), row.keyID.bind,
            row.keyName.bind, row.accountID.bind, row.accountName.bind, row.provider.bind, .text(row.dialect),
            row.model.bind, row.upstreamModel.bind, .integer(row.status), .text(row.outcome.rawValue), row.errorCode.bind,
            .integer(row.stream ? 1 : 0), .integer(Int(row.usage.inputUncached)), .integer(Int(row.usage.cacheRead)),
            .integer(Int(row.usage.cacheWrite5m)), .integer(Int(row.usage.cacheWrite1h)),
            .integer(Int(row.usage.output)), .integer(Int(row.usage.reasoning)), .integer(Int(row.cost.picos)),
            .integer(row.priced ? 1 : 0), .integer(row.usageIncomplete ? 1 : 0), .integer(Int(row.latencyMs)),
            row.firstByteMs.bind, .integer(row.attempts), row.route.bind, row.userName.bind, .text(row.usageSource.rawValue),
            .integer(Int(row.deliveredBytes)), .integer(Int(row.upstreamCost.picos)),
            row.clientAddress.bind, row.userAgent.bind, row.selection.bind, row.upstreamMs.bind,
            .integer(Int(row.listCosts.input.picos)), .integer(Int(row.listCosts.cacheRead.picos)),
            .integer(Int(row.listCosts.cacheWrite5m.picos)), .integer(Int(row.listCosts.cacheWrite1h.picos)),
            .integer(Int(row.listCosts.output.picos)), .integer(Int(row.listCosts.cacheSaved.picos)), row.session.bind,
        ]
    }

    static func ledgerRow(_ row: SQLRow) throws -> LedgerRow {
        guard let id = row.text("request_id"), let created = row.date("created_at"), let dialect = row.text("dialect"),
            let outcome = row.text("outcome").flatMap(Outcome.init(rawValue:))
        else { throw StoreError(.corrupt, "a ledger row is missing required columns") }
        var ledgerRow = LedgerRow(
            requestID: id, createdAt: created, keyID: row.int("key_id"), keyName: row.text("key_name"),
            accountID: row.int("account_id"), accountName: row.text("account_name"), provider: row.text("provider"),
            dialect: dialect, model: row.text("model"), upstreamModel: row.text("upstream_model"),
            status: Int(row.int("status") ?? 0), outcome: outcome, errorCode: row.text("error_code"),
            stream: row.int("stream") == 1,
            usage: TokenUsage(
                inputUncached: row.int("input_uncached") ?? 0, cacheRead: row.int("cache_read") ?? 0,
                cacheWrite5m: row.int("cache_write_5m") ?? 0, cacheWrite1h: row.int("cache_write_1h") ?? 0,
                output: row.int("output") ?? 0, reasoning: row.int("reasoning") ?? 0),
            cost: Money(picos: row.int("cost_picos") ?? 0), priced: row.int("priced") == 1,
            usageIncomplete: row.int("usage_incomplete") == 1, latencyMs: row.int("latency_ms") ?? 0,
            firstByteMs: row.int("first_byte_ms"), attempts: Int(row.int("attempts") ?? 0), route: row.text("route"), userName: row.text("user_name"))
        ledgerRow.usageSource = row.text("usage_source").flatMap(UsageSource.init(rawValue:)) ?? .none
        ledgerRow.deliveredBytes = row.int("delivered_bytes") ?? 0
        ledgerRow.upstreamCost = Money(picos: row.int("upstream_cost_picos") ?? 0)
        ledgerRow.listCosts = TokenCosts(
            input: Money(picos: row.int("list_input_picos") ?? 0), cacheRead: Money(picos: row.int("list_cache_read_picos") ?? 0),
            cacheWrite5m: Money(picos: row.int("list_cache_write_5m_picos") ?? 0),
            cacheWrite1h: Money(picos: row.int("list_cache_write_1h_picos") ?? 0), output: Money(picos: row.int("list_output_picos") ?? 0),
            cacheSaved: Money(picos: row.int("cache_saved_picos") ?? 0))
        ledgerRow.clientAddress = row.text("client_address")
        ledgerRow.userAgent = row.text("user_agent")
        ledgerRow.selection = row.text("selection")
        ledgerRow.upstreamMs = row.int("upstream_ms")
        ledgerRow.session = row.text("session")
        return ledgerRow
    }
}
