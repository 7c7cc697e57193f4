import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

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
