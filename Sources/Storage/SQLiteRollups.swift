/// Hourly rollups of the ledger, kept by a trigger in the same transaction as
/// each row (so exactly once: a row refused as a duplicate fires nothing), and
/// kept when rows are deleted. The dashboard, stats and usage reports read
/// them instead of scanning a year of rows.
///
/// Every sum is held as two columns, its billions and the rest (as `SafeSum`
/// reads them), so no addition can overflow SQLite's integers into floating
/// point. Latency and first byte are kept as histograms whose buckets are the
/// value cut to two significant digits (exact below 100 ms): a quantile read
/// from them is at most 10% below the true one.
enum SQLiteRollups {
    /// The additive columns: rollup name and the ledger expression it sums.
    static let sums: [(name: String, ledger: String)] = [
        ("input", "input_uncached"), ("cache_read", "cache_read"), ("cache_write_5m", "cache_write_5m"),
        ("cache_write_1h", "cache_write_1h"), ("output", "output"), ("cost", "cost_picos"), ("latency", "latency_ms"),
    ]

    /// The dimensions a row is filed under (empty text for none).
    static let dimensions = ["key_name", "user_name", "model", "account_name"]

    /// The start of a row's hour, in milliseconds.
    static func hour(_ time: String) -> String { "(\(time) - \(time) % 3600000)" }

    /// A latency's bucket: the value cut to two significant digits.
    static func bucket(_ value: String) -> String {
        var cases = "CASE WHEN \(value) < 100 THEN MAX(\(value), 0)"
        var limit: Int64 = 1000
        var step: Int64 = 10
        while limit <= 1_000_000_000_000 {
            cases += " WHEN \(value) < \(limit) THEN \(value) / \(step) * \(step)"
            limit *= 10
            step *= 10
        }
        return cases + " ELSE \(value) / \(step) * \(step) END"
    }

    static let createTables = [
        """
        CREATE TABLE usage_hourly (
            hour INTEGER NOT NULL,
            key_name TEXT NOT NULL, user_name TEXT NOT NULL, model TEXT NOT NULL, account_name TEXT NOT NULL,
            requests INTEGER NOT NULL DEFAULT 0, errors INTEGER NOT NULL DEFAULT 0,
            \(sums.map { "\($0.name)_hi INTEGER NOT NULL DEFAULT 0, \($0.name)_lo INTEGER NOT NULL DEFAULT 0" }.joined(separator: ",\n    "))
            , PRIMARY KEY (hour, key_name, user_name, model, account_name)
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE latency_hourly (
            hour INTEGER NOT NULL, kind INTEGER NOT NULL, bucket INTEGER NOT NULL, count INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (hour, kind, bucket)
        ) WITHOUT ROWID
        """,
    ]

    /// Kind 0: latency; kind 1: first byte.
    static let latencyKind = 0
    static let firstByteKind = 1

    static var trigger: String {
        let columns = ["hour"] + dimensions + ["requests", "errors"] + sums.flatMap { ["\($0.name)_hi", "\($0.name)_lo"] }
        let values = [hour("NEW.created_at")] + dimensions.map { "COALESCE(NEW.\($0), '')" } + ["1", "NEW.status >= 400"]
            + sums.flatMap { ["NEW.\($0.ledger) / \(SafeSum.unit)", "NEW.\($0.ledger) % \(SafeSum.unit)"] }
        let updates = ["requests = requests + 1", "errors = errors + excluded.errors"]
            + sums.flatMap { ["\($0.name)_hi = \($0.name)_hi + excluded.\($0.name)_hi", "\($0.name)_lo = \($0.name)_lo + excluded.\($0.name)_lo"] }
        return """
            CREATE TRIGGER ledger_rollup AFTER INSERT ON ledger BEGIN
                INSERT INTO usage_hourly (\(columns.joined(separator: ", "))) VALUES (\(values.joined(separator: ", ")))
                    ON CONFLICT (hour, \(dimensions.joined(separator: ", "))) DO UPDATE SET \(updates.joined(separator: ", "));
                INSERT INTO latency_hourly (hour, kind, bucket, count) VALUES (\(hour("NEW.created_at")), \(latencyKind), \(bucket("NEW.latency_ms")), 1)
                    ON CONFLICT (hour, kind, bucket) DO UPDATE SET count = count + 1;
                INSERT INTO latency_hourly (hour, kind, bucket, count)
                    SELECT \(hour("NEW.created_at")), \(firstByteKind), \(bucket("NEW.first_byte_ms")), 1 WHERE NEW.first_byte_ms IS NOT NULL
                    ON CONFLICT (hour, kind, bucket) DO UPDATE SET count = count + 1;
            END
            """
    }

    /// Fills the rollups from the rows already in the ledger (once, when they are created).
    static var backfill: [String] {
        let dims = dimensions.map { "COALESCE(\($0), '')" }
        let columns = ["hour"] + dimensions + ["requests", "errors"] + sums.flatMap { ["\($0.name)_hi", "\($0.name)_lo"] }
        let selects = [hour("created_at")] + dims + ["COUNT(*)", "SUM(status >= 400)"]
            + sums.flatMap { ["SUM(\($0.ledger) / \(SafeSum.unit))", "SUM(\($0.ledger) % \(SafeSum.unit))"] }
        return [
            "INSERT INTO usage_hourly (\(columns.joined(separator: ", "))) SELECT \(selects.joined(separator: ", ")) FROM ledger GROUP BY \(([hour("created_at")] + dims).joined(separator: ", "))",
            "INSERT INTO latency_hourly (hour, kind, bucket, count) SELECT \(hour("created_at")), \(latencyKind), \(bucket("latency_ms")), COUNT(*) FROM ledger GROUP BY 1, 2, 3",
            "INSERT INTO latency_hourly (hour, kind, bucket, count) SELECT \(hour("created_at")), \(firstByteKind), \(bucket("first_byte_ms")), COUNT(*) FROM ledger WHERE first_byte_ms IS NOT NULL GROUP BY 1, 2, 3",
        ]
    }
}
