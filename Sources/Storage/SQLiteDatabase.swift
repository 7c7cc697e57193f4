import Foundation
import Logging
import NIOCore
import NIOPosix
import SQLiteNIO
import SwitchboardCore

/// One SQLite file in WAL mode, on one connection.
///
/// `AsyncLock` keeps a transaction's statements together. The server and the
/// CLI may open the same file at once; SQLite's own locking keeps them apart: a
/// statement that meets the other's write lock sleeps and retries for up to
/// 10 s (`busy_timeout`, which replaces sqlite-nio's handler that retries
/// without sleeping).
final class SQLiteDatabase: SQLDatabase {
    let connection: SQLiteConnection
    let lock = AsyncLock()
    var dialect: SQLDialect { .sqlite }

    /// Whether the calling task holds `lock` already (inside `exclusively`).
    @TaskLocal static var holdsLock = false

    private init(connection: SQLiteConnection) { self.connection = connection }

    /// Opens (creating if needed) the database file at `path`.
    static func open(path: String, logger: Logger) async throws -> SQLiteDatabase {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        // The ledger and the sealed secrets are nobody else's to read: the file
        // is made owner-only before SQLite opens it (its -wal and -shm files
        // take the database's mode), and an older, wider one is narrowed.
        let descriptor = Foundation.open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        if descriptor >= 0 { _ = Foundation.close(descriptor) }
        for file in [path, path + "-wal", path + "-shm"] where FileManager.default.fileExists(atPath: file) { _ = chmod(file, 0o600) }
        // Statements run on NIO's blocking pool and complete on the background
        // thread, where the ledger's flushes wait for them, not on an event loop
        // serving requests (which woke for each and handed the result on). Every
        // other caller's statements (the admin's, the CLI's, a request's rare
        // read) complete there too, each behind at most a piece of batch work.
        let connection = try await SQLiteConnection.open(
            storage: .file(path: path), threadPool: .singleton, logger: logger, on: BackgroundThread.eventLoop)
        let database = SQLiteDatabase(connection: connection)
        // temp_store = MEMORY keeps statement journals in memory. A ledger batch's
        // multi-row insert and rollups keep the pages they change in one, and past
        // 64 KiB SQLite spilled it to a temporary file: two writes per page, about two
        // per request, and a writable temporary directory needed to record requests.
        let pragmas = [
            "PRAGMA busy_timeout = 10000", "PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL", "PRAGMA foreign_keys = ON",
            "PRAGMA temp_store = MEMORY",
        ]
        for pragma in pragmas {
            _ = try await database.execute(pragma, [])
        }
        return database
    }

    func transaction<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        if Self.holdsLock { return try await unlockedTransaction(body) }
        return try await lock.withLock { try await unlockedTransaction(body) }
    }

    /// A transaction for a caller that already holds the lock.
    private func unlockedTransaction<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        try await committed(begin: ["BEGIN IMMEDIATE"], body)
    }

    func exclusively<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        try await lock.withLock { try await Self.$holdsLock.withValue(true) { try await body() } }
    }

    /// One process uses the file at a time for housekeeping: nobody to wait for.
    func leading<T: Sendable>(_ task: String, _ body: @Sendable () async throws -> T) async throws -> T? {
        try await body()
    }

    func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        if Self.holdsLock { return try await execute(sql, binds) }
        return try await lock.withLock { try await execute(sql, binds) }
    }

    /// Runs one statement, to completion even if the calling task is cancelled:
    /// a cancelled statement inside a transaction would leave the transaction
    /// open (its ROLLBACK cancelled too) and fail every write after it. The
    /// future-based call does not observe task cancellation.
    func execute(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        let rows = try await connection.query(sql, binds.map { Self.data($0) }).get()
        return rows.map { row in
            let columns = row.columns
            return SQLRow(names: columns.map { $0.name }, values: columns.map { Self.value($0.data) })
        }
    }

    /// Whether SQLite refused the rows themselves (retrying cannot help) or could
    /// not write at all (full, locked, failing: retry later).
    func storeError(_ error: any Error) -> StoreError? {
        guard let error = error as? SQLiteError else { return nil }
        let reason = "\(error.reason)"
        if reason.hasPrefix("constraint") || ["mismatch", "tooBig", "range"].contains(reason) {
            return StoreError(.rejected, "the database refused a ledger row (\(reason))")
        }
        return StoreError(.unavailable, "the database cannot write (\(reason))")
    }

    func close() async throws {
        try await connection.close()
    }

    private static func data(_ value: SQLValue) -> SQLiteData {
        switch value {
        case .integer(let value): .integer(value)
        case .float(let value): .float(value)
        case .text(let value): .text(value)
        case .blob(let value): .blob(value)
        case .null: .null
        }
    }

    private static func value(_ data: SQLiteData) -> SQLValue {
        switch data {
        case .integer(let value): .integer(value)
        case .float(let value): .float(value)
        case .text(let value): .text(value)
        case .blob(let value): .blob(value)
        case .null: .null
        }
    }
}
