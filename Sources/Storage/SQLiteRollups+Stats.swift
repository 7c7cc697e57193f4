/// Migration 15: what the stats endpoints read. Per hour, errors by class and
/// the list price class by class; per minute (kept two days), the same for
/// accounts, keys and users; per hour, latency histograms for accounts, keys
/// and users, so each one's p95 comes from buckets instead of rows.
extension SQLiteRollups {
    /// Errors by class: the upstream's or the gateway's 429s, other 4xx, 5xx.
    static let errorClasses: [(String, String)] = [
        ("rate_limited", "NEW.status = 429"), ("client_errors", "NEW.status >= 400 AND NEW.status < 500 AND NEW.status != 429"),
        ("server_errors", "NEW.status >= 500"),
    ]

    /// The list price of each token class (ledger columns added by migration 15).
    static let classCostSums: [(name: String, ledger: String)] = [
        ("list_input", "list_input_picos"), ("list_cache_read", "list_cache_read_picos"), ("list_cache_write_5m", "list_cache_write_5m_picos"),
        ("list_cache_write_1h", "list_cache_write_1h_picos"), ("list_output", "list_output_picos"),
    ]

    /// Added by migration 23: what cache reads saved against the same tokens
    /// uncached (ledger `cache_saved_picos`), at the price that charged the row.
    static let savedSums: [(name: String, ledger: String)] = [("cache_saved", "cache_saved_picos")]

    /// What minute rollups and per-entity latency are kept for.
    static var statsDimensions: [(name: String, columns: [String])] {
        [keyIDDimension, ("user", ["user_name"]), ("account", ["account_name"])]
    }

    /// How long minute rollups are kept: a day's series, with a day to spare.
    static let minuteRetentionMs: Int64 = 2 * 86_400_000

    /// What a stats query sums over rollup rows: the counts and each sum's two parts.
    static var statsColumns: String {
        let counts = ["requests", "errors"] + errorClasses.map(\.0)
        let parts = (sums + classCostSums + savedSums).map { "SUM(\($0.name)_hi) AS \($0.name)_hi, SUM(\($0.name)_lo) AS \($0.name)_lo" }
        return (counts.map { "SUM(\($0)) AS \($0)" } + parts).joined(separator: ", ")
    }

    /// A cost sum over the hours from a bound start (`?`, given twice), as `<name>_hi` and `<name>_lo`.
    static func costSince(_ name: String) -> String {
        "SUM(CASE WHEN hour >= ? THEN cost_hi ELSE 0 END) AS \(name)_hi, SUM(CASE WHEN hour >= ? THEN cost_lo ELSE 0 END) AS \(name)_lo"
    }

    /// The start of a row's minute, in milliseconds.
    static func minute(_ time: String) -> String { "(\(time) - \(time) % 60000)" }

    /// The minute rollups and latency histograms the trigger keeps (with `savings`, from migration 23).
    static func statsUpserts(savings: Bool) -> String {
        let counts = [("requests", "1"), ("errors", "NEW.status >= 400")] + errorClasses
        let minutes = statsDimensions.map { dimension in
            upsert(
                "usage_minutely", time: ("minute", minute("NEW.created_at")), dimension: dimension, counts: counts,
                sums: sums + classCostSums + (savings ? savedSums : []), conflict: "dimension, name, minute")
        }
        let latency = statsDimensions.map { dimension in
            """
                INSERT INTO latency_by_hour (dimension, name, hour, bucket, count)
                    VALUES ('\(dimension.name)', \(name(dimension, row: "NEW.")), \(hour("NEW.created_at")), \(bucket("NEW.latency_ms")), 1)
                    ON CONFLICT (dimension, name, hour, bucket) DO UPDATE SET count = count + 1;
            """
        }
        return (minutes + latency).joined(separator: "\n")
    }

    static var statsMigration: [String] {
        let sumColumns = (sums + classCostSums).map { "\($0.name)_hi INTEGER NOT NULL DEFAULT 0, \($0.name)_lo INTEGER NOT NULL DEFAULT 0" }
        let countColumns = errorClasses.map { "\($0.0) INTEGER NOT NULL DEFAULT 0" }
        return classCostSums.map { "ALTER TABLE ledger ADD COLUMN \($0.ledger) INTEGER NOT NULL DEFAULT 0" }
            + errorClasses.map { "ALTER TABLE usage_hourly ADD COLUMN \($0.0) INTEGER NOT NULL DEFAULT 0" }
            + classCostSums.flatMap {
                [
                    "ALTER TABLE usage_hourly ADD COLUMN \($0.name)_hi INTEGER NOT NULL DEFAULT 0",
                    "ALTER TABLE usage_hourly ADD COLUMN \($0.name)_lo INTEGER NOT NULL DEFAULT 0",
                ]
            } + [
                """
                CREATE TABLE usage_minutely (
                    dimension TEXT NOT NULL, name TEXT NOT NULL, minute INTEGER NOT NULL,
                    requests INTEGER NOT NULL DEFAULT 0, errors INTEGER NOT NULL DEFAULT 0, \(countColumns.joined(separator: ", ")),
                    \(sumColumns.joined(separator: ",\n    ")), PRIMARY KEY (dimension, name, minute)
                ) WITHOUT ROWID
                """,
                "CREATE INDEX usage_minutely_by_minute ON usage_minutely (minute)",
                """
                CREATE TABLE latency_by_hour (
                    dimension TEXT NOT NULL, name TEXT NOT NULL, hour INTEGER NOT NULL, bucket INTEGER NOT NULL, count INTEGER NOT NULL DEFAULT 0,
                    PRIMARY KEY (dimension, name, hour, bucket)
                ) WITHOUT ROWID
                """,
                "DROP TRIGGER ledger_rollup",
                trigger(dimensions: allDimensions, totals: true, stats: true),
            ]
            + statsDimensions.map { dimension in
                // Latency for the rows still kept; errors by class and list prices by class start now.
                let key = name(dimension, row: "")
                return """
                    INSERT INTO latency_by_hour (dimension, name, hour, bucket, count)
                        SELECT '\(dimension.name)', \(key), \(hour("created_at")), \(bucket("latency_ms")), COUNT(*) FROM ledger GROUP BY 2, 3, 4
                    """
            }
    }

    /// Migration 23: what cache reads saved, per row and in every rollup, and the
    /// session a row belongs to (its per-session view reads the rows).
    static var savingsMigration: [String] {
        [
            "ALTER TABLE ledger ADD COLUMN cache_saved_picos INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE ledger ADD COLUMN session TEXT",
            "CREATE INDEX ledger_session ON ledger (session, created_at) WHERE session IS NOT NULL",
        ]
            + ["usage_hourly", "usage_minutely"].flatMap { table in
                savedSums.flatMap {
                    [
                        "ALTER TABLE \(table) ADD COLUMN \($0.name)_hi INTEGER NOT NULL DEFAULT 0",
                        "ALTER TABLE \(table) ADD COLUMN \($0.name)_lo INTEGER NOT NULL DEFAULT 0",
                    ]
                }
            } + ["DROP TRIGGER ledger_rollup", trigger(dimensions: allDimensions, totals: true, stats: true, savings: true)]
    }
}
