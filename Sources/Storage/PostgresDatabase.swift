import Foundation
import Logging
import NIOCore
import NIOSSL
import PostgresNIO
import SwitchboardCore

/// PostgreSQL through postgres-nio's pooled client: the engine several
/// replicas share.
///
/// A transaction runs on one leased connection, which the task carries
/// (`session`) so the store's statements inside it find it. Every transaction
/// first takes one transaction-scoped advisory lock: store transactions
/// (read, check, write; rollup upserts touching the same rows in any order)
/// run one at a time across replicas, as SQLite's write lock runs them, so none
/// loses an update or deadlocks. Reads outside transactions do not wait.
final class PostgresDatabase: SQLDatabase {
    let client: PostgresClient
    private let runner: Task<Void, Never>
    /// The ledger writer's own connections: admissions queued on a hot key's
    /// row can hold every connection of the main pool, and the ledger must
    /// still get through (seen: rows waiting past `ledger_stall_timeout`).
    let ledgerClient: PostgresClient
    private let ledgerRunner: Task<Void, Never>
    @TaskLocal static var onLedgerLane = false
    /// The pool the calling task's statements use.
    private var pool: PostgresClient { Self.onLedgerLane ? ledgerClient : client }
    private let logger: Logger
    var dialect: SQLDialect { .postgres }

    /// The lock that orders store transactions, and the one migrations hold.
    static let transactionLock: Int64 = 0x5357_4244_0001
    static let migrationLock: Int64 = 0x5357_4244_0002

    /// The connection the calling task's transaction or exclusive section runs on.
    struct Session: Sendable {
        let connection: PostgresConnection
        let inTransaction: Bool
    }
    @TaskLocal static var session: Session?

    private init(client: PostgresClient, ledgerClient: PostgresClient, logger: Logger) {
        self.client = client
        self.ledgerClient = ledgerClient
        self.logger = logger
        runner = Task { await client.run() }
        ledgerRunner = Task { await ledgerClient.run() }
    }

    /// Connects to the database a `postgres://` URL names.
    static func open(url: String, logger: Logger) async throws -> PostgresDatabase {
        var ledger = try configuration(url)
        ledger.options.maximumConnections = 2
        let database = PostgresDatabase(
            client: PostgresClient(configuration: try configuration(url), backgroundLogger: logger),
            ledgerClient: PostgresClient(configuration: ledger, backgroundLogger: logger), logger: logger)
        // A server that is not there fails the start within seconds, not after the pool's retries.
        do {
            _ = try await withDeadline(.seconds(15)) { try await database.query("SELECT 1", []) }
        } catch let error as DeadlineExceeded {
            try? await database.close()
            throw StoreError(.unavailable, "the database did not answer within \(error.limit)")
        } catch {
            try? await database.close()
            throw database.storeError(error) ?? error
        }
        return database
    }

    /// The client configuration for `postgres://user:password@host:port/database?sslmode=…`.
    static func configuration(_ url: String) throws -> PostgresClient.Configuration {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? ""),
            let host = components.host, !host.isEmpty
        else { throw StoreError(.unavailable, "the database URL must look like postgres://user:password@host:5432/database") }
        let database = String(components.path.drop { $0 == "/" })
        let mode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "prefer"
        let tls: PostgresClient.Configuration.TLS
        switch mode {
        case "disable": tls = .disable
        case "allow", "prefer", "require":
            // libpq's meaning: encrypted where the server offers it (or must), the certificate not checked.
            var unchecked = TLSConfiguration.makeClientConfiguration()
            unchecked.certificateVerification = .none
            tls = mode == "require" ? .require(unchecked) : .prefer(unchecked)
        case "verify-ca", "verify-full": tls = .require(.makeClientConfiguration())
        default: throw StoreError(.unavailable, "sslmode must be disable, allow, prefer, require, verify-ca or verify-full")
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: components.user ?? "postgres",
            password: components.password, database: database.isEmpty ? nil : database, tls: tls)
        configuration.options.maximumConnections = 16
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }

    func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        try await execute(sql, binds)
    }

    func execute(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        let query = PostgresQuery(unsafeSQL: Self.numberedPlaceholders(sql), binds: Self.bindings(binds))
        do {
            guard let session = Self.session else { return try await Self.rows(of: pool.query(query, logger: logger)) }
            // A statement on a held connection that gets no answer (seen: a server
            // stopped under a transaction left its query waiting for ever) fails
            // after a deadline, and its connection is closed so the pool drops it.
            let logger = logger
            return try await withDeadline(Self.statementDeadline) {
                try await Self.rows(of: session.connection.query(query, logger: logger))
            }
        } catch let error as DeadlineExceeded {
            if let connection = Self.session?.connection { try? await connection.close() }
            throw StoreError(.unavailable, "the database did not answer a statement within \(error.limit)")
        } catch {
            // As a `StoreError`: says what failed without the statement's values.
            throw storeError(error) ?? error
        }
    }

    /// How long one statement inside a transaction may go unanswered.
    static let statementDeadline: Duration = .seconds(15)

    private static func rows(of sequence: PostgresRowSequence) async throws -> [SQLRow] {
        var result: [SQLRow] = []
        for try await row in sequence {
            var names: [String] = []
            var values: [SQLValue] = []
            for cell in row {
                names.append(cell.columnName)
                values.append(try value(cell))
            }
            result.append(SQLRow(names: names, values: values))
        }
        return result
    }

    func transaction<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        try await transaction(ordered: true, body)
    }

    /// A transaction; `ordered` takes the store's transaction lock first (every
    /// store transaction), otherwise its statements' row locks are all that
    /// orders it (the shared limits, which lock rows in one order).
    func transaction<T: Sendable>(ordered: Bool, _ body: @Sendable () async throws -> T) async throws -> T {
        if let session = Self.session {
            return session.inTransaction ? try await body() : try await run(on: session.connection, ordered: ordered, body)
        }
        return try await pool.withConnection { connection in try await run(on: connection, ordered: ordered, body) }
    }

    private func run<T: Sendable>(on connection: PostgresConnection, ordered: Bool, _ body: @Sendable () async throws -> T) async throws -> T {
        try await Self.$session.withValue(Session(connection: connection, inTransaction: true)) {
            try await committed(begin: ordered ? ["BEGIN", "SELECT pg_advisory_xact_lock(\(Self.transactionLock))"] : ["BEGIN"], body)
        }
    }

    /// Migrations run on one replica at a time: the others wait on the lock,
    /// then find the schema current.
    func exclusively<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        try await client.withConnection { connection in
            try await Self.$session.withValue(Session(connection: connection, inTransaction: false)) {
                _ = try await execute("SELECT pg_advisory_lock(?)", [.integer(Int(Self.migrationLock))])
                do {
                    let result = try await body()
                    _ = try await execute("SELECT pg_advisory_unlock(?)", [.integer(Int(Self.migrationLock))])
                    return result
                } catch {
                    _ = try? await execute("SELECT pg_advisory_unlock(?)", [.integer(Int(Self.migrationLock))])
                    throw error
                }
            }
        }
    }

    /// Housekeeping on one replica at a time: a session advisory lock per task,
    /// tried, not waited for; held on its own connection while `body` runs
    /// (whose statements use the pool).
    func leading<T: Sendable>(_ task: String, _ body: @Sendable () async throws -> T) async throws -> T? {
        let lock = Self.lockKey(task)
        return try await client.withConnection { connection in
            let session = Session(connection: connection, inTransaction: false)
            let taken = try await Self.$session.withValue(session) {
                try await execute("SELECT pg_try_advisory_lock(?) AS taken", [.integer(Int(lock))]).first?.int("taken") == 1
            }
            guard taken else { return nil }
            do {
                let result = try await body()
                _ = try await Self.$session.withValue(session) { try await execute("SELECT pg_advisory_unlock(?)", [.integer(Int(lock))]) }
                return result
            } catch {
                _ = try? await Self.$session.withValue(session) { try await execute("SELECT pg_advisory_unlock(?)", [.integer(Int(lock))]) }
                throw error
            }
        }
    }

    /// The channel the revision triggers notify (migration 5).
    static let revisionChannel = "switchboard_revision"

    /// Calls `onChange` for each notification on `channel` until cancelled; a
    /// lost connection is replaced after a second (what changed meanwhile the
    /// refresher's polling finds).
    func listen(on channel: String, _ onChange: @escaping @Sendable () async -> Void) async {
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: channel) { notifications in
                        for try await _ in notifications { await onChange() }
                    }
                }
            } catch {
                logger.debug(
                    "listening for changes stopped; again in a second",
                    metadata: ["error": "\(storeError(error) ?? StoreError(.unavailable, "\(type(of: error))"))"])
            }
            try? await LoopTimer.sleep(for: .seconds(1))
        }
    }

    /// A task's advisory lock: FNV-1a of its name beside the store's own locks.
    static func lockKey(_ task: String) -> Int64 {
        var hash: UInt32 = 2_166_136_261
        for byte in task.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return 0x5357_4244_0000_0000 | Int64(hash)
    }

    /// A statement PostgreSQL refused for its values (a constraint, a number out
    /// of range: classes 22 and 23) is rejected; anything else, the connection
    /// or the server failing, is unavailable.
    func storeError(_ error: any Error) -> StoreError? {
        if error is StoreError { return nil }
        guard let error = error as? PSQLError else {
            // The pool's own errors (no connection can be made) and decoding failures.
            return StoreError(.unavailable, "the database cannot be reached (\(type(of: error)))")
        }
        if error.code == .server, let state = error.serverInfo?[.sqlState] {
            // The message names what failed (a column, a constraint); its detail, which can quote values, is left out.
            let message = String((error.serverInfo?[.message] ?? "").prefix(200))
            if state.hasPrefix("22") || state.hasPrefix("23") {
                return StoreError(.rejected, "the database refused a row (SQLSTATE \(state): \(message))")
            }
            return StoreError(.unavailable, "the database failed (SQLSTATE \(state): \(message))")
        }
        return StoreError(.unavailable, "the database cannot be reached (\(error.code))")
    }

    func onLedgerLane<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        try await Self.$onLedgerLane.withValue(true) { try await body() }
    }

    func close() async throws {
        runner.cancel()
        ledgerRunner.cancel()
        await runner.value
        await ledgerRunner.value
    }

    /// `?` placeholders as PostgreSQL's `$1`, `$2`…; a `?` inside a quoted
    /// literal, a quoted name or a `$$` body stays as it is.
    static func numberedPlaceholders(_ sql: String) -> String {
        // Over the UTF-8 bytes: every character that matters is ASCII (and no
        // byte of a multi-byte character is), and a statement is rewritten on
        // every call, so walking grapheme clusters would cost more than the rest.
        var result: [UInt8] = []
        result.reserveCapacity(sql.utf8.count + 16)
        var number = 0
        var quote: UInt8?
        var inDollarBody = false
        var previous: UInt8 = 0
        let dollar = UInt8(ascii: "$")
        for byte in sql.utf8 {
            if inDollarBody {
                if byte == dollar, previous == dollar { inDollarBody = false }
            } else if let open = quote {
                if byte == open { quote = nil }
            } else if byte == UInt8(ascii: "'") || byte == UInt8(ascii: "\"") {
                quote = byte
            } else if byte == dollar, previous == dollar {
                inDollarBody = true
            } else if byte == UInt8(ascii: "?") {
                number += 1
                result.append(dollar)
                result += String(number).utf8
                previous = byte
                continue
            }
            result.append(byte)
            previous = byte
        }
        return String(decoding: result, as: UTF8.self)
    }

    private static func bindings(_ values: [SQLValue]) -> PostgresBindings {
        var bindings = PostgresBindings(capacity: values.count)
        for value in values {
            switch value {
            case .integer(let value): bindings.append(Int64(value))
            case .float(let value): bindings.append(value)
            case .text(let value): bindings.append(value)
            case .blob(let value): bindings.append(value)
            case .null: bindings.appendNull()
            }
        }
        return bindings
    }

    /// A cell in the engine-neutral form; a type the store never selects fails closed.
    private static func value(_ cell: PostgresCell) throws -> SQLValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int2, .int4, .int8:
            return .integer(Int(try cell.decode(Int64.self)))
        case .bool:
            return .integer(try cell.decode(Bool.self) ? 1 : 0)
        case .float4, .float8:
            return .float(try cell.decode(Double.self))
        case .numeric:
            // SUM over BIGINT is NUMERIC: whole and within range it is an integer, as SQLite returns it.
            let decimal = try cell.decode(Decimal.self)
            var rounded = decimal
            var source = decimal
            NSDecimalRound(&rounded, &source, 0, .plain)
            if rounded == decimal, let whole = Int64(exactly: NSDecimalNumber(decimal: decimal).int64Value),
                Decimal(whole) == decimal
            {
                return .integer(Int(whole))
            }
            return .float(NSDecimalNumber(decimal: decimal).doubleValue)
        case .bytea:
            return .blob(try cell.decode(ByteBuffer.self))
        default:
            return .text(try cell.decode(String.self))
        }
    }
}
