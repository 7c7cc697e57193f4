/// The SQLite schema, as numbered steps applied in order and never edited once
/// released: a new change is a new step.
enum SQLiteMigrations {
    /// Each step's statements (sqlite-nio prepares one statement per query).
    static let steps: [[String]] = [
        // 1: keys, accounts, settings, ledger, and the revision that tells a running
        //    server that another process (the CLI) changed keys or accounts.
        [
            """
            CREATE TABLE settings (
                name TEXT PRIMARY KEY,
                value TEXT NOT NULL
            )
            """,
            "INSERT INTO settings (name, value) VALUES ('revision', '0')",
            """
            CREATE TABLE keys (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                name TEXT NOT NULL UNIQUE,
                hash TEXT NOT NULL UNIQUE,
                prefix TEXT NOT NULL,
                last_four TEXT NOT NULL,
                enabled INTEGER NOT NULL DEFAULT 1,
                source TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                last_used_at INTEGER,
                expires_at INTEGER,
                revoked_at INTEGER
            )
            """,
            """
            CREATE TABLE accounts (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                name TEXT NOT NULL UNIQUE,
                provider TEXT NOT NULL,
                base_url TEXT NOT NULL,
                secret_key_id TEXT NOT NULL,
                secret_sealed BLOB NOT NULL,
                models TEXT NOT NULL,
                model_map TEXT NOT NULL DEFAULT '{}',
                priority INTEGER NOT NULL DEFAULT 0,
                enabled INTEGER NOT NULL DEFAULT 1,
                notes TEXT NOT NULL DEFAULT '',
                source TEXT NOT NULL,
                created_at INTEGER NOT NULL
            )
            """,
            """
            CREATE TABLE ledger (
                request_id TEXT PRIMARY KEY,
                created_at INTEGER NOT NULL,
                key_id INTEGER,
                key_name TEXT,
                account_id INTEGER,
                account_name TEXT,
                provider TEXT,
                dialect TEXT NOT NULL,
                model TEXT,
                upstream_model TEXT,
                status INTEGER NOT NULL,
                outcome TEXT NOT NULL,
                error_code TEXT,
                stream INTEGER NOT NULL,
                input_uncached INTEGER NOT NULL,
                cache_read INTEGER NOT NULL,
                cache_write_5m INTEGER NOT NULL,
                cache_write_1h INTEGER NOT NULL,
                output INTEGER NOT NULL,
                reasoning INTEGER NOT NULL,
                cost_picos INTEGER NOT NULL,
                priced INTEGER NOT NULL,
                usage_incomplete INTEGER NOT NULL,
                latency_ms INTEGER NOT NULL,
                first_byte_ms INTEGER,
                attempts INTEGER NOT NULL
            )
            """,
            "CREATE INDEX ledger_created_at ON ledger (created_at)",
            "CREATE INDEX ledger_key ON ledger (key_id, created_at)",
            "CREATE INDEX ledger_model ON ledger (model, created_at)",
        ] + revisionTriggers(table: "keys", columns: "name, hash, enabled, expires_at, revoked_at")
            + revisionTriggers(
                table: "accounts", columns: "name, provider, base_url, secret_key_id, secret_sealed, models, model_map, priority, enabled"),
        // 2: account caps and enable generation; why-this-account on ledger rows.
        [
            "ALTER TABLE accounts ADD COLUMN max_rpm INTEGER",
            "ALTER TABLE accounts ADD COLUMN max_tpm INTEGER",
            "ALTER TABLE accounts ADD COLUMN max_concurrency INTEGER",
            "ALTER TABLE accounts ADD COLUMN max_waiting INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE accounts ADD COLUMN wait_timeout_ms INTEGER NOT NULL DEFAULT 30000",
            "ALTER TABLE accounts ADD COLUMN generation INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE ledger ADD COLUMN route TEXT",
            "DROP TRIGGER accounts_revision_update",
            revisionTriggers(
                table: "accounts",
                columns: "name, provider, base_url, secret_key_id, secret_sealed, models, model_map, priority, enabled, "
                    + "max_rpm, max_tpm, max_concurrency, max_waiting, wait_timeout_ms, generation")[1],
        ],
        // 3: each account's live state as the server last saw it, for the CLI and
        //    for the next start (health marks and cooldowns survive restarts).
        [
            """
            CREATE TABLE account_status (
                account_id INTEGER PRIMARY KEY,
                status TEXT NOT NULL,
                updated_at INTEGER NOT NULL
            )
            """
        ],
        // 4: each key's limits, allow-lists and budgets, as one JSON document.
        [
            "ALTER TABLE keys ADD COLUMN policy TEXT NOT NULL DEFAULT '{}'",
            "DROP TRIGGER keys_revision_update",
            revisionTriggers(table: "keys", columns: "name, hash, enabled, expires_at, revoked_at, policy")[1],
        ],
        // 5: users (owners of keys, with a balance) and groups (price multiplier,
        //    subscription caps); the ledger names the user a request was charged to.
        [
            """
            CREATE TABLE users (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                name TEXT NOT NULL UNIQUE,
                group_name TEXT,
                balance_picos INTEGER,
                description TEXT,
                created_at INTEGER NOT NULL
            )
            """,
            """
            CREATE TABLE groups (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                name TEXT NOT NULL UNIQUE,
                multiplier_ppm INTEGER NOT NULL DEFAULT 1000000,
                daily_picos INTEGER,
                weekly_picos INTEGER,
                monthly_picos INTEGER,
                created_at INTEGER NOT NULL
            )
            """,
            "ALTER TABLE ledger ADD COLUMN user_name TEXT",
            "CREATE INDEX ledger_user ON ledger (user_name, created_at)",
        ] + revisionTriggers(table: "users", columns: "name, group_name, balance_picos")
            + revisionTriggers(table: "groups", columns: "name, multiplier_ppm, daily_picos, weekly_picos, monthly_picos"),
        // 6: accounts may answer Claude Code's warmup requests themselves.
        [
            "ALTER TABLE accounts ADD COLUMN intercept_warmup INTEGER NOT NULL DEFAULT 0",
            "DROP TRIGGER accounts_revision_update",
            revisionTriggers(
                table: "accounts",
                columns: "name, provider, base_url, secret_key_id, secret_sealed, models, model_map, priority, enabled, "
                    + "max_rpm, max_tpm, max_concurrency, max_waiting, wait_timeout_ms, generation, intercept_warmup")[1],
        ],
        // 7: accounts may give Responses requests default instructions.
        [
            "ALTER TABLE accounts ADD COLUMN default_instructions TEXT",
            "DROP TRIGGER accounts_revision_update",
            revisionTriggers(
                table: "accounts",
                columns: "name, provider, base_url, secret_key_id, secret_sealed, models, model_map, priority, enabled, "
                    + "max_rpm, max_tpm, max_concurrency, max_waiting, wait_timeout_ms, generation, intercept_warmup, "
                    + "default_instructions")[1],
        ],
        // 8: where a row's tokens come from, what reached the client, and the
        // list price beside the charged cost.
        [
            "ALTER TABLE ledger ADD COLUMN usage_source TEXT NOT NULL DEFAULT 'reported'",
            "ALTER TABLE ledger ADD COLUMN delivered_bytes INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE ledger ADD COLUMN upstream_cost_picos INTEGER NOT NULL DEFAULT 0",
        ],
        // 9: who sent a request (address, User-Agent) and why its account was
        // chosen; indexes for the request explorer's filters.
        [
            "ALTER TABLE ledger ADD COLUMN client_address TEXT",
            "ALTER TABLE ledger ADD COLUMN user_agent TEXT",
            "ALTER TABLE ledger ADD COLUMN selection TEXT",
            "ALTER TABLE ledger ADD COLUMN upstream_ms INTEGER",
            "CREATE INDEX ledger_account ON ledger (account_id, created_at)",
            "CREATE INDEX ledger_outcome ON ledger (outcome, created_at)",
            "CREATE INDEX ledger_status ON ledger (status, created_at)",
        ],
        // 10: hourly rollups (usage by key, user, model and account; latency
        // histograms), kept by a trigger and filled from the rows so far.
        SQLiteRollups.createTables + [SQLiteRollups.trigger] + SQLiteRollups.backfill,
        // 11: the client addresses a user's keys may be used from (JSON lists of ranges).
        [
            "ALTER TABLE users ADD COLUMN ip_allow TEXT",
            "ALTER TABLE users ADD COLUMN ip_deny TEXT",
        ],
        // 12: lifetime totals per key and user, and usage by key id, kept by the
        // rollup trigger: what admission starts from no longer needs the rows,
        // so old rows may go (`ledger_retention`).
        SQLiteRollups.totalsMigration,
        // 13: the audit log of admin actions.
        [
            """
            CREATE TABLE audit_log (
                id INTEGER PRIMARY KEY AUTOINCREMENT, created_at INTEGER NOT NULL, who TEXT NOT NULL, source TEXT NOT NULL,
                address TEXT, action TEXT NOT NULL, target TEXT NOT NULL, before TEXT, after TEXT
            )
            """,
            "CREATE INDEX audit_log_created_at ON audit_log (created_at)",
            "CREATE INDEX audit_log_target ON audit_log (target, id)",
        ],
        // 14: a user's concurrency, queue and model budgets (one JSON document);
        // a group's multipliers per model glob (JSON); spending per key and model
        // and per user and model in the rollups. Every column a snapshot reads
        // now moves the revision (11's address rules did not).
        [
            "ALTER TABLE users ADD COLUMN limits TEXT",
            "ALTER TABLE groups ADD COLUMN price_multiplier TEXT",
            "DROP TRIGGER users_revision_update",
            revisionTriggers(table: "users", columns: "name, group_name, balance_picos, description, ip_allow, ip_deny, limits")[1],
            "DROP TRIGGER groups_revision_update",
            revisionTriggers(table: "groups", columns: "name, multiplier_ppm, daily_picos, weekly_picos, monthly_picos, price_multiplier")[1],
        ] + SQLiteRollups.modelBudgetMigration,
        // 15: what the stats endpoints read: errors by class and the list price
        // by token class per hour, minute rollups for two days, and latency
        // histograms per account, key and user.
        SQLiteRollups.statsMigration,
        // 16: request and response bodies of keys under `capture:`, sealed with the master key.
        [
            """
            CREATE TABLE captures (
                request_id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, key_id TEXT NOT NULL, sealed BLOB NOT NULL
            )
            """,
            "CREATE INDEX captures_created_at ON captures (created_at)",
        ],
        // 17: an account's share of traffic among accounts of equal priority.
        [
            "ALTER TABLE accounts ADD COLUMN weight INTEGER NOT NULL DEFAULT 1",
            "DROP TRIGGER accounts_revision_update",
            revisionTriggers(
                table: "accounts",
                columns: "name, provider, base_url, secret_key_id, secret_sealed, models, model_map, priority, enabled, "
                    + "max_rpm, max_tpm, max_concurrency, max_waiting, wait_timeout_ms, generation, intercept_warmup, "
                    + "default_instructions, weight")[1],
        ],
        // 18: headers an account adds upstream and top-level body fields it sets (JSON maps).
        [
            "ALTER TABLE accounts ADD COLUMN headers TEXT NOT NULL DEFAULT '{}'",
            "ALTER TABLE accounts ADD COLUMN body_overrides TEXT NOT NULL DEFAULT '{}'",
            "DROP TRIGGER accounts_revision_update",
            revisionTriggers(
                table: "accounts",
                columns: "name, provider, base_url, secret_key_id, secret_sealed, models, model_map, priority, enabled, "
                    + "max_rpm, max_tpm, max_concurrency, max_waiting, wait_timeout_ms, generation, intercept_warmup, "
                    + "default_instructions, weight, headers, body_overrides")[1],
        ],
        // 19: account options (pools, model list, auth header, Azure deployment; one JSON
        // document), and the accounts users' and groups' keys route to.
        [
            "ALTER TABLE accounts ADD COLUMN options TEXT NOT NULL DEFAULT '{}'",
            "ALTER TABLE users ADD COLUMN binding TEXT",
            "ALTER TABLE groups ADD COLUMN binding TEXT",
            "DROP TRIGGER accounts_revision_update",
            revisionTriggers(
                table: "accounts",
                columns: "name, provider, base_url, secret_key_id, secret_sealed, models, model_map, priority, enabled, "
                    + "max_rpm, max_tpm, max_concurrency, max_waiting, wait_timeout_ms, generation, intercept_warmup, "
                    + "default_instructions, weight, headers, body_overrides, options")[1],
            "DROP TRIGGER users_revision_update",
            revisionTriggers(table: "users", columns: "name, group_name, balance_picos, description, ip_allow, ip_deny, limits, binding")[1],
            "DROP TRIGGER groups_revision_update",
            revisionTriggers(
                table: "groups", columns: "name, multiplier_ppm, daily_picos, weekly_picos, monthly_picos, price_multiplier, binding")[1],
        ],
        // 20: model aliases (`models:`): a name clients ask for, standing for other models.
        [
            """
            CREATE TABLE model_aliases (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                name TEXT NOT NULL UNIQUE,
                targets TEXT NOT NULL,
                max_failovers INTEGER,
                source TEXT NOT NULL DEFAULT 'api',
                created_at INTEGER NOT NULL
            )
            """
        ] + revisionTriggers(table: "model_aliases", columns: "name, targets, max_failovers"),
        // 21: sessions and keys quarantined after an upstream flagged their account.
        [
            """
            CREATE TABLE quarantines (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                scope TEXT NOT NULL,
                session TEXT,
                key_id INTEGER NOT NULL,
                key_name TEXT NOT NULL,
                account TEXT NOT NULL,
                signal TEXT NOT NULL,
                request_id TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                released_at INTEGER
            )
            """
        ] + revisionTriggers(table: "quarantines", columns: "released_at"),
        // 22: an account's proxy password, sealed like its secret.
        [
            "ALTER TABLE accounts ADD COLUMN proxy_key_id TEXT",
            "ALTER TABLE accounts ADD COLUMN proxy_sealed BLOB",
            "DROP TRIGGER accounts_revision_update",
            revisionTriggers(
                table: "accounts",
                columns: "name, provider, base_url, secret_key_id, secret_sealed, models, model_map, priority, enabled, "
                    + "max_rpm, max_tpm, max_concurrency, max_waiting, wait_timeout_ms, generation, intercept_warmup, "
                    + "default_instructions, weight, headers, body_overrides, options, proxy_key_id, proxy_sealed")[1],
        ],
        // 23: what each row's cache reads saved (summed in the rollups) and its session.
        SQLiteRollups.savingsMigration,
        // 24: settings for all of one provider's accounts (`providers:`), by provider name.
        [
            """
            CREATE TABLE provider_settings (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                name TEXT NOT NULL UNIQUE,
                max_failovers INTEGER,
                source TEXT NOT NULL DEFAULT 'api',
                created_at INTEGER NOT NULL
            )
            """
        ] + revisionTriggers(table: "provider_settings", columns: "name, max_failovers"),
        // 25: the rollups are filed by the ledger writer, a batch at a time (`LedgerRollups`), not per row by a trigger.
        ["DROP TRIGGER ledger_rollup"],
    ]

    /// Triggers that bump the revision when rows change in ways snapshots care
    /// about (not, say, a key's last-used time).
    static func revisionTriggers(table: String, columns: String) -> [String] {
        let bump = "UPDATE settings SET value = CAST(value AS INTEGER) + 1 WHERE name = 'revision';"
        return [
            "CREATE TRIGGER \(table)_revision_insert AFTER INSERT ON \(table) BEGIN \(bump) END",
            "CREATE TRIGGER \(table)_revision_update AFTER UPDATE OF \(columns) ON \(table) BEGIN \(bump) END",
            "CREATE TRIGGER \(table)_revision_delete AFTER DELETE ON \(table) BEGIN \(bump) END",
        ]
    }
}
