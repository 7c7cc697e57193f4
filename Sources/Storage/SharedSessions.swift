import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

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
