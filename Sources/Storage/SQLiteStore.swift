import Foundation
import Logging
import NIOCore
import NIOPosix
import SQLiteNIO
import SwitchboardCore

/// The embedded store: one SQLite file in WAL mode.
///
/// One connection serves the process; `AsyncLock` keeps a transaction's
/// statements together. The server and the CLI may open the same file at once;
/// SQLite's own locking (with a busy handler that waits) keeps them apart.
public final class SQLiteStore: GatewayStore {
    let connection: SQLiteConnection
    let lock = AsyncLock()

    private init(connection: SQLiteConnection) { self.connection = connection }

    /// Opens (creating if needed) the database file at `path`.
    public static func open(path: String, logger: Logger) async throws -> SQLiteStore {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        let store = SQLiteStore(connection: connection)
        for pragma in ["PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL", "PRAGMA foreign_keys = ON"] {
            _ = try await connection.query(pragma)
        }
        return store
    }

    /// Runs statements under the lock as one transaction.
    func transaction<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await lock.withLock {
            _ = try await connection.query("BEGIN IMMEDIATE")
            do {
                let result = try await body()
                _ = try await connection.query("COMMIT")
                return result
            } catch {
                _ = try? await connection.query("ROLLBACK")
                throw error
            }
        }
    }

    /// Runs one statement under the lock.
    func query(_ sql: String, _ binds: [SQLiteData] = []) async throws -> [SQLiteRow] {
        try await lock.withLock { try await connection.query(sql, binds) }
    }

    public func migrate() async throws {
        try await lock.withLock {
            _ = try await connection.query(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)")
            let rows = try await connection.query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations")
            let current = Int(rows.first?.column("v")?.integer ?? 0)
            guard current <= SQLiteMigrations.steps.count else {
                throw StoreError(.schemaTooNew, "the database schema (version \(current)) is newer than this build understands")
            }
            for (offset, statements) in SQLiteMigrations.steps.enumerated() where offset + 1 > current {
                _ = try await connection.query("BEGIN IMMEDIATE")
                do {
                    for statement in statements { _ = try await connection.query(statement) }
                    _ = try await connection.query(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                        [.integer(offset + 1), .integer(Int(Date().millisecondsSince1970))])
                    _ = try await connection.query("COMMIT")
                } catch {
                    _ = try? await connection.query("ROLLBACK")
                    throw error
                }
            }
        }
    }

    public func revision() async throws -> Int64 {
        let rows = try await query("SELECT value FROM settings WHERE name = 'revision'")
        return Int64(rows.first?.column("value")?.string ?? "0") ?? 0
    }

    public func setting(_ name: String) async throws -> String? {
        try await query("SELECT value FROM settings WHERE name = ?", [.text(name)]).first?.column("value")?.string
    }

    public func initializeSetting(_ name: String, to value: String) async throws -> String {
        try await transaction {
            _ = try await connection.query(
                "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING", [.text(name), .text(value)])
            let rows = try await connection.query("SELECT value FROM settings WHERE name = ?", [.text(name)])
            return rows.first?.column("value")?.string ?? value
        }
    }

    public func close() async throws {
        try await connection.close()
    }
}

extension Date {
    /// Whole milliseconds since 1970, the unit every stored time uses.
    public var millisecondsSince1970: Int64 { Int64((timeIntervalSince1970 * 1000).rounded(.down)) }

    /// The time at a stored millisecond count.
    public init(millisecondsSince1970 ms: Int64) { self.init(timeIntervalSince1970: Double(ms) / 1000) }
}

extension SQLiteRow {
    func int(_ name: String) -> Int64? { column(name).flatMap { $0.isNull ? nil : $0.integer.map(Int64.init) } }
    func text(_ name: String) -> String? { column(name).flatMap { $0.isNull ? nil : $0.string } }
    func date(_ name: String) -> Date? { int(name).map { Date(millisecondsSince1970: $0) } }
}

extension Optional where Wrapped == Date {
    var sqlite: SQLiteData { self.map { .integer(Int($0.millisecondsSince1970)) } ?? .null }
}

extension Optional where Wrapped == String {
    var sqlite: SQLiteData { self.map { .text($0) } ?? .null }
}

extension Optional where Wrapped == Int64 {
    var sqlite: SQLiteData { self.map { .integer(Int($0)) } ?? .null }
}
