import Foundation
import SwitchboardCore

/// An account's cooldown as one replica saw it begin.
public struct SharedCooldown: Sendable, Equatable {
    public var accountID: Int64
    public var generation: Int64
    public var until: Date
    public var cause: String?

    public init(accountID: Int64, generation: Int64, until: Date, cause: String?) {
        self.accountID = accountID
        self.generation = generation
        self.until = until
        self.cause = cause
    }
}

/// Accounts' cooldowns replicas share on PostgreSQL: a replica that sees a
/// 429 (or an overload, or repeated failures) files the cooldown; every
/// replica takes on the others' (`shared_cooldowns`, one row per account, the
/// later end kept; an admin's enable moves the account's generation, which
/// leaves older cooldowns behind).
public final class SharedCooldowns: Sendable {
    let store: SQLStore

    /// Shares cooldowns through `store` when it is PostgreSQL; nil for SQLite.
    public init?(store: any GatewayStore) {
        guard let store = store as? SQLStore, store.dialect == .postgres else { return nil }
        self.store = store
    }

    /// Files cooldowns this replica began.
    public func publish(_ cooldowns: [SharedCooldown]) async throws {
        for cooldown in cooldowns {
            _ = try await store.query(
                """
                INSERT INTO shared_cooldowns (account_id, generation, until_ms, cause) VALUES (?, ?, ?, ?)
                ON CONFLICT (account_id) DO UPDATE SET
                    until_ms = CASE WHEN excluded.generation > shared_cooldowns.generation THEN excluded.until_ms
                        ELSE GREATEST(shared_cooldowns.until_ms, excluded.until_ms) END,
                    cause = CASE WHEN excluded.generation > shared_cooldowns.generation
                        OR excluded.until_ms > shared_cooldowns.until_ms THEN excluded.cause ELSE shared_cooldowns.cause END,
                    generation = GREATEST(shared_cooldowns.generation, excluded.generation)
                """,
                [
                    .integer(Int(cooldown.accountID)), .integer(Int(cooldown.generation)),
                    .integer(Int(cooldown.until.millisecondsSince1970)), cooldown.cause.bind,
                ])
        }
    }

    /// The cooldowns not over at `now`.
    public func current(now: Date) async throws -> [SharedCooldown] {
        try await store.query(
            "SELECT account_id, generation, until_ms, cause FROM shared_cooldowns WHERE until_ms > ?",
            [.integer(Int(now.millisecondsSince1970))]
        ).compactMap { row in
            guard let id = row.int("account_id"), let generation = row.int("generation"), let until = row.date("until_ms") else { return nil }
            return SharedCooldown(accountID: id, generation: generation, until: until, cause: row.text("cause"))
        }
    }
}

/// Sessions' accounts replicas share on PostgreSQL (`shared_sessions`): each
/// replica files the sessions it placed or refreshed and reads the others'
/// changes in the order a sequence numbers them.
public final class SharedSessions: Sendable {
    /// A session placed on an account until a time.
    public typealias Placement = (session: String, accountID: Int64, expiresAt: Date)

    let store: SQLStore

    /// Shares sessions through `store` when it is PostgreSQL; nil for SQLite.
    public init?(store: any GatewayStore) {
        guard let store = store as? SQLStore, store.dialect == .postgres else { return nil }
        self.store = store
    }

    /// Files placements; one that ends no later than the one filed stays out.
    public func publish(_ placements: [Placement]) async throws {
        // One row per session in a statement (PostgreSQL updates a row once per statement): the latest end.
        var latest: [String: Placement] = [:]
        for placement in placements where (latest[placement.session]?.expiresAt ?? .distantPast) < placement.expiresAt {
            latest[placement.session] = placement
        }
        let rows = Array(latest.values)
        for start in stride(from: 0, to: rows.count, by: 500) {
            let chunk = rows[start..<min(rows.count, start + 500)]
            _ = try await store.query(
                "INSERT INTO shared_sessions (session, account_id, expires_at, seq) VALUES "
                    + Array(repeating: "(?, ?, ?, nextval('shared_sessions_seq'))", count: chunk.count).joined(separator: ", ")
                        + """
                         ON CONFLICT (session) DO UPDATE SET account_id = excluded.account_id, expires_at = excluded.expires_at,
                            seq = excluded.seq WHERE excluded.expires_at > shared_sessions.expires_at
                        """,
                chunk.flatMap { [.text($0.session), .integer(Int($0.accountID)), .integer(Int($0.expiresAt.millisecondsSince1970))] })
        }
    }

    /// Changes numbered after `seq` (and a margin before it: a number taken
    /// just before another may commit just after it), up to `limit`, with the
    /// highest number read.
    public func changes(after seq: Int64, limit: Int = 5000) async throws -> (placements: [Placement], last: Int64) {
        let rows = try await store.query(
            "SELECT session, account_id, expires_at, seq FROM shared_sessions WHERE seq > ? ORDER BY seq LIMIT ?",
            [.integer(Int(seq.saturatingSubtract(200))), .integer(limit)])
        let placements = rows.compactMap { row -> Placement? in
            guard let session = row.text("session"), let id = row.int("account_id"), let until = row.date("expires_at") else { return nil }
            return (session, id, until)
        }
        return (placements, max(seq, rows.compactMap { $0.int("seq") }.max() ?? seq))
    }

    /// Forgets sessions that ended before `cutoff`; returns how many.
    @discardableResult
    public func sweep(before cutoff: Date) async throws -> Int {
        try await store.query(
            "DELETE FROM shared_sessions WHERE expires_at < ? RETURNING 1 AS n", [.integer(Int(cutoff.millisecondsSince1970))]
        ).count
    }
}
