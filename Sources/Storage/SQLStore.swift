import Logging
import NIOCore
import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The store on an SQL engine: SQLite, embedded (`SQLiteDatabase`), or
/// PostgreSQL, shared by replicas (`PostgresDatabase`). The statements are
/// written once; what differs between the engines is in `SQLDialect` and each
/// engine's migrations.
public final class SQLStore: GatewayStore {
    let database: any SQLDatabase
    var dialect: SQLDialect { database.dialect }

    init(database: any SQLDatabase) { self.database = database }

    /// Opens (creating if needed) the SQLite database file at `path`.
    public static func openSQLite(path: String, logger: Logger) async throws -> SQLStore {
        SQLStore(database: try await SQLiteDatabase.open(path: path, logger: logger))
    }

    /// Connects to the PostgreSQL database a `postgres://` URL names.
    public static func openPostgres(url: String, logger: Logger) async throws -> SQLStore {
        SQLStore(database: try await PostgresDatabase.open(url: url, logger: logger))
    }

    /// Runs statements as one transaction.
    func transaction<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        try await database.transaction(body)
    }

    /// A transaction ordered by its statements' row locks alone (PostgreSQL's
    /// shared limits); elsewhere the store's ordinary transaction.
    func rowOrderedTransaction<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        guard let postgres = database as? PostgresDatabase else { return try await database.transaction(body) }
        return try await postgres.transaction(ordered: false, body)
    }

    /// Runs one statement on its own.
    func query(_ sql: String, _ binds: [SQLValue] = []) async throws -> [SQLRow] {
        try await database.query(sql, binds)
    }

    /// Runs one statement inside the current transaction.
    func execute(_ sql: String, _ binds: [SQLValue] = []) async throws -> [SQLRow] {
        try await database.execute(sql, binds)
    }

    /// The migrations of this store's engine, oldest first.
    var migrations: [[String]] { dialect == .sqlite ? SQLiteMigrations.steps : PostgresMigrations.steps }

    public func migrate() async throws {
        try await database.exclusively {
            _ = try await execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)")
            let rows = try await execute("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations")
            let current = Int(rows.first?.column("v")?.integer ?? 0)
            let steps = migrations
            guard current <= steps.count else {
                throw StoreError(.schemaTooNew, "the database schema (version \(current)) is newer than this build understands")
            }
            for (offset, statements) in steps.enumerated() where offset + 1 > current {
                try await transaction {
                    for statement in statements { _ = try await execute(statement) }
                    _ = try await execute(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                        [.integer(offset + 1), .integer(Int(Date().millisecondsSince1970))])
                }
            }
        }
    }

    /// On PostgreSQL, a server that does not answer within 2 s is taken for
    /// down (readiness must know in seconds; the pool would wait a minute);
    /// SQLite answers when its lock frees, however busy.
    public func revision() async throws -> Int64 {
        let read = { @Sendable [self] () async throws -> Int64 in
            let rows = try await query("SELECT value FROM settings WHERE name = 'revision'")
            return Int64(rows.first?.column("value")?.string ?? "0") ?? 0
        }
        guard dialect == .postgres else { return try await read() }
        return try await withDeadline(.seconds(2), read)
    }

    public func setting(_ name: String) async throws -> String? {
        try await query("SELECT value FROM settings WHERE name = ?", [.text(name)]).first?.column("value")?.string
    }

    public func initializeSetting(_ name: String, to value: String) async throws -> String {
        try await transaction {
            _ = try await execute(
                "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING", [.text(name), .text(value)])
            let rows = try await execute("SELECT value FROM settings WHERE name = ?", [.text(name)])
            return rows.first?.column("value")?.string ?? value
        }
    }

    public func leading<T: Sendable>(_ task: String, _ body: @Sendable () async throws -> T) async throws -> T? {
        try await database.leading(task, body)
    }

    public func watchChanges(_ onChange: @escaping @Sendable () async -> Void) async {
        guard let postgres = database as? PostgresDatabase else { return }
        await postgres.listen(on: PostgresDatabase.revisionChannel, onChange)
    }

    public func close() async throws {
        try await database.close()
    }
}

extension Date {
    /// Whole milliseconds since 1970, the unit every stored time uses; dates
    /// beyond what that holds (hundreds of millions of years) saturate.
    public var millisecondsSince1970: Int64 {
        let ms = (timeIntervalSince1970 * 1000).rounded(.down)
        guard !ms.isNaN else { return 0 }
        if ms >= 9.2e18 { return .max }
        if ms <= -9.2e18 { return .min }
        return Int64(ms)
    }

    /// The time at a stored millisecond count.
    public init(millisecondsSince1970 ms: Int64) { self.init(timeIntervalSince1970: Double(ms) / 1000) }
}

extension SQLRow {
    /// An integer column, nil when NULL or when it holds anything but a whole
    /// number within `Int64` (SQLite stores an overflowing sum as a REAL, and
    /// converting that blindly would trap). For columns whose loss does not
    /// widen anything (display values); limits use `integer(_:)`.
    func int(_ name: String) -> Int64? { try? integer(name) }

    /// An integer column: nil when NULL; throws `corrupt` when the value is not
    /// a whole number within `Int64`, so a record with it fails closed.
    func integer(_ name: String) throws(StoreError) -> Int64? {
        guard let data = column(name) else { return nil }
        switch data {
        case .null: return nil
        case .integer(let value): return Int64(value)
        case .float(let value):
            guard let exact = Int64(exactly: value) else { throw StoreError(.corrupt, "column \(name) holds no whole number") }
            return exact
        case .text(let text):
            guard let exact = Int64(text) else { throw StoreError(.corrupt, "column \(name) holds no whole number") }
            return exact
        case .blob: throw StoreError(.corrupt, "column \(name) holds no whole number")
        }
    }

    func text(_ name: String) -> String? { column(name).flatMap { $0.isNull ? nil : $0.string } }
    func date(_ name: String) -> Date? { int(name).map { Date(millisecondsSince1970: $0) } }

    /// A date column: nil when NULL; throws `corrupt` when unreadable.
    func strictDate(_ name: String) throws(StoreError) -> Date? { try integer(name).map { Date(millisecondsSince1970: $0) } }

    /// A sum selected with `SafeSum.sql`, put back together; it saturates
    /// instead of overflowing.
    func sum(_ name: String) -> Int64 {
        let high = int(name + "_hi") ?? 0
        let low = int(name + "_lo") ?? 0
        return high.saturatingMultiply(SafeSum.unit).saturatingAdd(low)
    }
}

/// Sums over the ledger that cannot overflow: SQLite's `SUM` fails on an
/// integer overflow and `TOTAL` turns to floating point, so each value is split
/// into its billions and the rest, summed apart, and joined in Swift with a
/// saturating add.
enum SafeSum {
    static let unit: Int64 = 1_000_000_000

    /// `SUM` of `expression` selected as `name_hi` and `name_lo`; read back with `SQLRow.sum(name)`.
    static func sql(_ expression: String, as name: String) -> String {
        "SUM((\(expression)) / \(unit)) AS \(name)_hi, SUM((\(expression)) % \(unit)) AS \(name)_lo"
    }
}

extension Optional where Wrapped == Date {
    var bind: SQLValue { self.map { .integer(Int($0.millisecondsSince1970)) } ?? .null }
}

extension Optional where Wrapped == String {
    var bind: SQLValue { self.map { .text($0) } ?? .null }
}

extension Optional where Wrapped == Int64 {
    var bind: SQLValue { self.map { .integer(Int($0)) } ?? .null }
}

extension Optional where Wrapped == Int {
    var bind: SQLValue { self.map { .integer($0) } ?? .null }
}

extension SQLStore {
    /// Deletes the row with this name from a table of named records; false when there is none.
    func deleteNamed(_ name: String, from table: String) async throws -> Bool {
        try await transaction {
            let rows = try await execute("SELECT id FROM \(table) WHERE name = ?", [.text(name)])
            guard let id = rows.first?.int("id") else { return false }
            _ = try await execute("DELETE FROM \(table) WHERE id = ?", [.integer(Int(id))])
            return true
        }
    }
}
