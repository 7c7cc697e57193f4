import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Copies a whole installation from one store into an empty one (SQLite into
/// PostgreSQL: `switchboard migrate --to`), in one transaction on the target,
/// then checks the two agree: every table's row count, and the ledger's and
/// totals' sums of money and tokens.
///
/// Sealed secrets travel sealed: the target needs the source's master key.
public struct StoreCopy: Sendable {
    /// One table: its name and its key, which orders the pages (a single
    /// column pages by key, without an offset to count past).
    struct Table: Sendable {
        let name: String
        let order: String
        let identity: String?
    }

    /// Every table, parents before what names them; `identity`: the column whose
    /// sequence must continue after the copied ids.
    static let tables: [Table] = [
        Table(name: "settings", order: "name", identity: nil),
        Table(name: "keys", order: "id", identity: "id"),
        Table(name: "accounts", order: "id", identity: "id"),
        Table(name: "account_status", order: "account_id", identity: nil),
        Table(name: "users", order: "id", identity: "id"),
        Table(name: "groups", order: "id", identity: "id"),
        Table(name: "model_aliases", order: "id", identity: "id"),
        Table(name: "provider_settings", order: "id", identity: "id"),
        Table(name: "quarantines", order: "id", identity: "id"),
        Table(name: "audit_log", order: "id", identity: "id"),
        Table(name: "ledger", order: "request_id", identity: nil),
        Table(name: "captures", order: "request_id", identity: nil),
        Table(name: "usage_hourly", order: "dimension, name, hour", identity: nil),
        Table(name: "usage_minutely", order: "dimension, name, minute", identity: nil),
        Table(name: "latency_hourly", order: "hour, kind, bucket", identity: nil),
        Table(name: "latency_by_hour", order: "dimension, name, hour, bucket", identity: nil),
        Table(name: "key_totals", order: "key_id", identity: nil),
        Table(name: "user_totals", order: "user_name", identity: nil),
    ]

    /// The sums compared after the copy: `(label, table, column)`.
    static let sums: [(String, String, String)] = [
        ("ledger cost", "ledger", "cost_picos"), ("ledger upstream cost", "ledger", "upstream_cost_picos"),
        ("ledger input tokens", "ledger", "input_uncached"), ("ledger output tokens", "ledger", "output"),
        ("ledger cache reads", "ledger", "cache_read"), ("hourly rollup requests", "usage_hourly", "requests"),
        ("key totals cost (billions)", "key_totals", "cost_hi"), ("key totals cost (rest)", "key_totals", "cost_lo"),
        ("key totals tokens (billions)", "key_totals", "tokens_hi"), ("user totals cost (billions)", "user_totals", "cost_hi"),
        ("user totals cost (rest)", "user_totals", "cost_lo"),
    ]

    /// What was copied: rows per table, and each sum checked (equal on both sides).
    public struct Report: Sendable {
        public var rows: [(table: String, count: Int64)] = []
        public var sums: [(label: String, value: Int64)] = []
    }

    /// Rows read and written per statement.
    static let pageSize = 500

    let source: SQLStore
    let target: SQLStore

    public init(from source: SQLStore, to target: SQLStore) {
        self.source = source
        self.target = target
    }

    /// Copies everything; refuses a target that holds keys, accounts, users or
    /// ledger rows already. Fails (the target left as it was) when anything
    /// disagrees afterwards.
    public func run() async throws -> Report {
        // The target's statements run in its transaction through `query`, which only PostgreSQL's transactions allow.
        guard target.dialect == .postgres else { throw StoreError(.rejected, "the target of a copy must be a PostgreSQL database") }
        for table in ["keys", "accounts", "users", "ledger", "audit_log"] {
            guard try await Self.count(table, in: target) == 0 else {
                throw StoreError(.duplicateName, "the target database is not empty (its \(table) table has rows); migrate into a new database")
            }
        }
        let source = source
        return try await target.transaction { [target] in
            for table in Self.tables {
                try await Self.copy(table, from: source, to: target)
            }
            return try await Self.verify(source, target)
        }
    }

    private static func copy(_ table: Table, from source: SQLStore, to target: SQLStore) async throws {
        let keyset = !table.order.contains(",")
        var offset = 0
        var after: SQLValue?
        while true {
            let rows =
                if keyset, let after {
                    try await source.query(
                        "SELECT * FROM \(table.name) WHERE \(table.order) > ? ORDER BY \(table.order) LIMIT ?", [after, .integer(pageSize)])
                } else {
                    try await source.query(
                        "SELECT * FROM \(table.name) ORDER BY \(table.order) LIMIT ? OFFSET ?", [.integer(pageSize), .integer(offset)])
                }
            guard let first = rows.first else { break }
            // Columns the target has: the source's own (PostgreSQL's `seq` is numbered anew, in this order).
            let columns = first.names
            let placeholders = "(" + Array(repeating: "?", count: columns.count).joined(separator: ",") + ")"
            let conflict =
                table.name == "settings"
                ? " ON CONFLICT (name) DO UPDATE SET value = excluded.value" : ""
            _ = try await target.query(
                "INSERT INTO \(table.name) (\(columns.joined(separator: ", "))) VALUES "
                    + Array(repeating: placeholders, count: rows.count).joined(separator: ",") + conflict,
                rows.flatMap { row in
                    guard row.names == columns else { return [SQLValue]() }
                    return row.values
                })
            offset += rows.count
            after = rows.last?.column(table.order)
            if rows.count < pageSize { break }
        }
        if let identity = table.identity, target.dialect == .postgres {
            _ = try await target.query(
                "SELECT setval(pg_get_serial_sequence('\(table.name)', '\(identity)'), COALESCE(MAX(\(identity)), 0) + 1, false) FROM \(table.name)")
        }
    }

    private static func count(_ table: String, in store: SQLStore) async throws -> Int64 {
        try await store.query("SELECT COUNT(*) AS n FROM \(table)").first?.int("n") ?? 0
    }

    private static func verify(_ source: SQLStore, _ target: SQLStore) async throws -> Report {
        var report = Report()
        for table in tables {
            let (from, to) = (try await count(table.name, in: source), try await count(table.name, in: target))
            guard from == to else {
                throw StoreError(.corrupt, "\(table.name): \(from) rows in the source, \(to) copied; nothing was kept")
            }
            report.rows.append((table.name, to))
        }
        for (label, table, column) in sums {
            let sql = "SELECT \(SafeSum.sql(column, as: "total")) FROM \(table)"
            let (from, to) = (try await source.query(sql).first?.sum("total") ?? 0, try await target.query(sql).first?.sum("total") ?? 0)
            guard from == to else { throw StoreError(.corrupt, "\(label): \(from) in the source, \(to) copied; nothing was kept") }
            report.sums.append((label, to))
        }
        return report
    }
}
