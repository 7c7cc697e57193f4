import NIOCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A value bound to or read from a statement, the same for every engine.
public enum SQLValue: Sendable, Equatable {
    case integer(Int)
    case float(Double)
    case text(String)
    case blob(ByteBuffer)
    case null

    var integer: Int? { if case .integer(let value) = self { value } else { nil } }
    var isNull: Bool { self == .null }
    var blob: ByteBuffer? { if case .blob(let value) = self { value } else { nil } }
    var string: String? {
        switch self {
        case .text(let value): value
        case .integer(let value): String(value)
        case .float(let value): String(value)
        case .blob, .null: nil
        }
    }
}

/// One result row: its columns by name, in the engine-neutral form.
public struct SQLRow: Sendable {
    let names: [String]
    let values: [SQLValue]

    /// The value of the first column with this name; nil when there is none.
    func column(_ name: String) -> SQLValue? {
        guard let index = names.firstIndex(of: name) else { return nil }
        return values[index]
    }
}

/// The SQL that differs between engines; everything else is written once.
public enum SQLDialect: Sendable {
    case sqlite
    case postgres

    /// The larger of two values (`MAX(a, b)` is an aggregate in PostgreSQL).
    func greatest(_ first: String, _ second: String) -> String {
        self == .sqlite ? "MAX(\(first), \(second))" : "GREATEST(\(first), \(second))"
    }

    /// The UTC day (`YYYY-MM-DD`) of a millisecond time.
    func utcDay(ofMilliseconds expression: String) -> String {
        switch self {
        case .sqlite: "strftime('%Y-%m-%d', (\(expression)) / 1000, 'unixepoch')"
        case .postgres: "to_char(to_timestamp((\(expression)) / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
        }
    }

    /// An integer field of a JSON object held as text, NULL when absent or not a whole number.
    func jsonInteger(_ column: String, field: String) -> String {
        switch self {
        case .sqlite: "CAST(json_extract(\(column), '$.\(field)') AS INTEGER)"
        case .postgres:
            "(CASE WHEN jsonb_typeof((\(column))::jsonb -> '\(field)') = 'number' THEN ((\(column))::jsonb ->> '\(field)')::numeric::bigint END)"
        }
    }

    /// JSON object text `object` with `field` set to `value` (an SQL expression, a JSON number or NULL).
    func jsonSet(_ object: String, field: String, to value: String) -> String {
        switch self {
        case .sqlite: "json_set(\(object), '$.\(field)', \(value))"
        case .postgres: "jsonb_set((\(object))::jsonb, '{\(field)}', COALESCE(to_jsonb(\(value)), 'null'::jsonb))::text"
        }
    }

    /// A JSON array of the distinct non-null texts an aggregate sees.
    func jsonArrayOfDistinct(_ expression: String) -> String {
        switch self {
        case .sqlite: "'[' || GROUP_CONCAT(DISTINCT CASE WHEN \(expression) IS NOT NULL THEN json_quote(\(expression)) END) || ']'"
        case .postgres: "COALESCE(json_agg(DISTINCT \(expression)) FILTER (WHERE \(expression) IS NOT NULL)::text, '[]')"
        }
    }

    /// A column in GROUP BY or ORDER BY that should not pick the index on it
    /// (SQLite's unary plus; PostgreSQL's planner weighs the indexes itself).
    func unindexed(_ column: String) -> String { self == .sqlite ? "+\(column)" : column }

    /// Where `needle` first occurs in `text`, from 1; 0 when it does not.
    func position(of needle: String, in text: String) -> String {
        self == .sqlite ? "instr(\(text), \(needle))" : "strpos(\(text), \(needle))"
    }

    /// The column that orders a table's rows by insertion (a tiebreaker for equal times).
    var insertionOrder: String { self == .sqlite ? "rowid" : "seq" }

    /// Rows per multi-row INSERT or upsert of the ledger's batches. SQLite runs
    /// a statement in this process, on a blocking-pool thread that holds its
    /// core until the statement ends: 400 rows took 2.5–3.5 ms, and a request's
    /// event loop woken on that core waited it out. PostgreSQL runs it in its
    /// own process, and each statement costs a round trip: as many rows as fit
    /// in 30,000 bound values (PostgreSQL takes 65,535), at most 400.
    func rowsPerStatement(columns: Int) -> Int {
        switch self {
        case .sqlite: 32
        case .postgres: max(1, min(400, 30_000 / max(1, columns)))
        }
    }

    /// A column naming one physical row, for deleting a bounded batch.
    var physicalRow: String { self == .sqlite ? "rowid" : "ctid" }
}

/// A connection (or pool) that runs statements for `SQLStore`.
///
/// `execute` inside `transaction`'s body runs in that transaction; outside one,
/// `query` runs a single statement on its own.
public protocol SQLDatabase: Sendable {
    var dialect: SQLDialect { get }
    /// Runs one statement on its own.
    func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow]
    /// Runs one statement in the transaction (or exclusive section) the calling task is in.
    func execute(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow]
    /// Runs `body` as one transaction: all its statements or none.
    func transaction<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T
    /// Runs `body` with no other process or task changing the schema at the same time
    /// (migrations); `body` opens its own transactions with `transaction`.
    func exclusively<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T
    /// Runs `body` only if no other process holds `task`'s lock (`GatewayStore.leading`).
    func leading<T: Sendable>(_ task: String, _ body: @Sendable () async throws -> T) async throws -> T?
    /// Maps an engine's error to what the store reports, nil when it is not the engine's.
    func storeError(_ error: any Error) -> StoreError?
    /// Runs `body`'s statements on the ledger writer's own connections, where the engine has a pool to share.
    func onLedgerLane<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T
    func close() async throws
}

extension SQLDatabase {
    /// One connection (SQLite): nothing to keep apart.
    func onLedgerLane<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T { try await body() }

    /// Runs the `begin` statements, then `body`, then COMMIT; on any error, ROLLBACK.
    func committed<T: Sendable>(begin: [String], _ body: @Sendable () async throws -> T) async throws -> T {
        _ = try await execute(begin[0], [])
        do {
            for statement in begin.dropFirst() { _ = try await execute(statement, []) }
            let result = try await body()
            _ = try await execute("COMMIT", [])
            return result
        } catch {
            _ = try? await execute("ROLLBACK", [])
            throw error
        }
    }
}
