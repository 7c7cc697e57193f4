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

    /// What a row is filed under, once each: the whole ledger (`total`, name
    /// empty), and its key, user, model and account (empty text for none). One
    /// table row per dimension, name and hour keeps the rollup small however
    /// many keys, models and accounts there are (a joint key × model × account
    /// rollup would have a row for nearly every request).
    static let dimensions: [(name: String, columns: [String])] = [
        ("total", []), ("key", ["key_name"]), ("user", ["user_name"]), ("model", ["model"]), ("account", ["account_name"]),
    ]

    /// Added by migration 12: a key by its id (a name may be reused after a
    /// delete; an id never is), for the day's spend that admission starts from.
    static let keyIDDimension: (name: String, columns: [String]) = ("key_id", ["key_id"])

    /// Added by migration 14: a key's and a user's spending per model
    /// (`<key id>/<model>`, `<user>/<model>`), for model budgets.
    static let keyModelDimension: (name: String, columns: [String]) = ("key_model", ["key_id", "model"])
    static let userModelDimension: (name: String, columns: [String]) = ("user_model", ["user_name", "model"])

    /// Every dimension the trigger files a row under since migration 14.
    static var allDimensions: [(name: String, columns: [String])] { dimensions + [keyIDDimension, keyModelDimension, userModelDimension] }

    /// One rollup upsert: a row's counts and the billions and rest of each sum,
    /// filed under a dimension's name and a time.
    static func upsert(
        _ table: String, time: (column: String, value: String), dimension: (name: String, columns: [String]), counts: [(String, String)],
        sums: [(name: String, ledger: String)], conflict: String
    ) -> String {
        let columns = ["dimension", "name", time.column] + counts.map(\.0) + sums.flatMap { ["\($0.name)_hi", "\($0.name)_lo"] }
        let values =
            ["'\(dimension.name)'", name(dimension, row: "NEW."), time.value] + counts.map(\.1)
            + sums.flatMap { ["NEW.\($0.ledger) / \(SafeSum.unit)", "NEW.\($0.ledger) % \(SafeSum.unit)"] }
        let updates =
            counts.map { "\($0.0) = \($0.0) + excluded.\($0.0)" }
            + sums.flatMap { ["\($0.name)_hi = \($0.name)_hi + excluded.\($0.name)_hi", "\($0.name)_lo = \($0.name)_lo + excluded.\($0.name)_lo"] }
        return """
                INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES (\(values.joined(separator: ", ")))
                    ON CONFLICT (\(conflict)) DO UPDATE SET \(updates.joined(separator: ", "));
            """
    }

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
            dimension TEXT NOT NULL, name TEXT NOT NULL, hour INTEGER NOT NULL,
            requests INTEGER NOT NULL DEFAULT 0, errors INTEGER NOT NULL DEFAULT 0,
            \(sums.map { "\($0.name)_hi INTEGER NOT NULL DEFAULT 0, \($0.name)_lo INTEGER NOT NULL DEFAULT 0" }.joined(separator: ",\n    "))
            , PRIMARY KEY (dimension, name, hour)
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

    static let columns = ["dimension", "name", "hour", "requests", "errors"] + sums.flatMap { ["\($0.name)_hi", "\($0.name)_lo"] }

    /// The text a dimension files a row under.
    static func name(_ dimension: (name: String, columns: [String]), row: String) -> String {
        dimension.columns.isEmpty ? "''" : dimension.columns.map { "COALESCE(CAST(\(row)\($0) AS TEXT), '')" }.joined(separator: " || '/' || ")
    }

    /// The rollup trigger as migration 10 made it.
    static var trigger: String { trigger(dimensions: dimensions, totals: false) }

    /// The rollup trigger: usage by the given dimensions and latency histograms;
    /// with `totals`, also each key's and user's lifetime spend and tokens, which
    /// admission starts from and which outlive the rows (`ledger_retention`).
    /// With `stats` (migration 15), errors by class, list prices by class, minute
    /// rollups and latency per entity; with `savings` (migration 23), cache savings.
    static func trigger(dimensions: [(name: String, columns: [String])], totals: Bool, stats: Bool = false, savings: Bool = false) -> String {
        let counts =
            stats ? [("requests", "1"), ("errors", "NEW.status >= 400")] + errorClasses : [("requests", "1"), ("errors", "NEW.status >= 400")]
        let added = stats ? sums + classCostSums + (savings ? savedSums : []) : sums
        let usage = dimensions.map { dimension in
            upsert(
                "usage_hourly", time: ("hour", hour("NEW.created_at")), dimension: dimension, counts: counts, sums: added,
                conflict: "dimension, name, hour")
        }.joined(separator: "\n")
        return """
            CREATE TRIGGER ledger_rollup AFTER INSERT ON ledger BEGIN
            \(usage)
            \(stats ? statsUpserts(savings: savings) : "")
            \(totals ? totalsUpserts : "")
                INSERT INTO latency_hourly (hour, kind, bucket, count) VALUES (\(hour("NEW.created_at")), \(latencyKind), \(bucket("NEW.latency_ms")), 1)
                    ON CONFLICT (hour, kind, bucket) DO UPDATE SET count = count + 1;
                INSERT INTO latency_hourly (hour, kind, bucket, count)
                    SELECT \(hour("NEW.created_at")), \(firstByteKind), \(bucket("NEW.first_byte_ms")), 1 WHERE NEW.first_byte_ms IS NOT NULL
                    ON CONFLICT (hour, kind, bucket) DO UPDATE SET count = count + 1;
            END
            """
    }

    /// Lifetime totals per key (spend and tokens) and per user (spend).
    static let createTotals = [
        """
        CREATE TABLE key_totals (
            key_id INTEGER PRIMARY KEY, cost_hi INTEGER NOT NULL DEFAULT 0, cost_lo INTEGER NOT NULL DEFAULT 0,
            tokens_hi INTEGER NOT NULL DEFAULT 0, tokens_lo INTEGER NOT NULL DEFAULT 0
        )
        """,
        "CREATE TABLE user_totals (user_name TEXT PRIMARY KEY, cost_hi INTEGER NOT NULL DEFAULT 0, cost_lo INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID",
        // The rows of one dimension since an hour (a day's, a month's spend) without reading every hour before it.
        "CREATE INDEX usage_hourly_by_hour ON usage_hourly (dimension, hour)",
    ]

    /// A row's tokens as billions and the rest, class by class, so no sum can overflow.
    static func tokenParts(_ row: String) -> (hi: String, lo: String) {
        let classes = ["input_uncached", "cache_read", "cache_write_5m", "cache_write_1h", "output"]
        return (
            classes.map { "\(row)\($0) / \(SafeSum.unit)" }.joined(separator: " + "),
            classes.map { "\(row)\($0) % \(SafeSum.unit)" }.joined(separator: " + ")
        )
    }

    /// Adds `excluded`'s parts of a total to the stored ones, carrying the rest
    /// into the billions so it never grows (a total is kept for ever).
    static func carry(_ name: String) -> String {
        let unit = SafeSum.unit
        return "\(name)_hi = \(name)_hi + excluded.\(name)_hi + (\(name)_lo + excluded.\(name)_lo) / \(unit), "
            + "\(name)_lo = (\(name)_lo + excluded.\(name)_lo) % \(unit)"
    }

    static var totalsUpserts: String {
        let tokens = tokenParts("NEW.")
        return """
                INSERT INTO key_totals (key_id, cost_hi, cost_lo, tokens_hi, tokens_lo)
                    SELECT NEW.key_id, NEW.cost_picos / \(SafeSum.unit), NEW.cost_picos % \(SafeSum.unit), \(tokens.hi), \(tokens.lo)
                    WHERE NEW.key_id IS NOT NULL
                    ON CONFLICT (key_id) DO UPDATE SET \(carry("cost")), \(carry("tokens"));
                INSERT INTO user_totals (user_name, cost_hi, cost_lo)
                    SELECT NEW.user_name, NEW.cost_picos / \(SafeSum.unit), NEW.cost_picos % \(SafeSum.unit) WHERE NEW.user_name IS NOT NULL
                    ON CONFLICT (user_name) DO UPDATE SET \(carry("cost"));
            """
    }

    /// Migration 12: lifetime totals and usage by key id, filled from the rows so
    /// far, and the trigger that keeps them.
    static var totalsMigration: [String] {
        let tokens = tokenParts("")
        return createTotals + ["DROP TRIGGER ledger_rollup", trigger(dimensions: dimensions + [keyIDDimension], totals: true)]
            + backfill(dimensions: [keyIDDimension], latency: false) + [
                """
                INSERT INTO key_totals (key_id, cost_hi, cost_lo, tokens_hi, tokens_lo)
                    SELECT key_id, SUM(cost_picos / \(SafeSum.unit)), SUM(cost_picos % \(SafeSum.unit)), SUM(\(tokens.hi)), SUM(\(tokens.lo))
                    FROM ledger WHERE key_id IS NOT NULL GROUP BY key_id
                """,
                """
                INSERT INTO user_totals (user_name, cost_hi, cost_lo)
                    SELECT user_name, SUM(cost_picos / \(SafeSum.unit)), SUM(cost_picos % \(SafeSum.unit))
                    FROM ledger WHERE user_name IS NOT NULL GROUP BY user_name
                """,
            ]
    }

    /// Migration 14: spending per key and model and per user and model, filled
    /// from the rows still kept, and the trigger that keeps them.
    static var modelBudgetMigration: [String] {
        ["DROP TRIGGER ledger_rollup", trigger(dimensions: allDimensions, totals: true)]
            + backfill(dimensions: [keyModelDimension, userModelDimension], latency: false)
    }

    /// Fills the rollups from the rows already in the ledger (once, when they are created).
    static var backfill: [String] { backfill(dimensions: dimensions, latency: true) }

    static func backfill(dimensions: [(name: String, columns: [String])], latency: Bool) -> [String] {
        let sumsSQL =
            ["COUNT(*)", "SUM(status >= 400)"] + sums.flatMap { ["SUM(\($0.ledger) / \(SafeSum.unit))", "SUM(\($0.ledger) % \(SafeSum.unit))"] }
        let usage = dimensions.map { dimension in
            let key = name(dimension, row: "")
            return "INSERT INTO usage_hourly (\(columns.joined(separator: ", "))) SELECT '\(dimension.name)', \(key), \(hour("created_at")), "
                + sumsSQL.joined(separator: ", ") + " FROM ledger GROUP BY \(key), \(hour("created_at"))"
        }
        guard latency else { return usage }
        return usage + [
            "INSERT INTO latency_hourly (hour, kind, bucket, count) SELECT \(hour("created_at")), \(latencyKind), \(bucket("latency_ms")), COUNT(*) FROM ledger GROUP BY 1, 2, 3",
            "INSERT INTO latency_hourly (hour, kind, bucket, count) SELECT \(hour("created_at")), \(firstByteKind), \(bucket("first_byte_ms")), COUNT(*) FROM ledger WHERE first_byte_ms IS NOT NULL GROUP BY 1, 2, 3",
        ]
    }
}
