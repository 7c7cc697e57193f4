import Foundation
import SwitchboardCore
import Synchronization

/// What one request asks of its key's limits that replicas share.
public struct SharedDemand: Sendable {
    public var requestID: String
    public var keyID: Int64
    /// The key's concurrency cap, if it has one.
    public var concurrency: Int?
    /// The key's balance and the money this request holds against it.
    public var balance: Money?
    public var hold: Money
    /// The key's requests per sliding window, and the window.
    public var windowRequests: Int?
    public var windowMilliseconds: Int64

    public init(
        requestID: String, keyID: Int64, concurrency: Int?, balance: Money?, hold: Money, windowRequests: Int?, windowMilliseconds: Int64
    ) {
        self.requestID = requestID
        self.keyID = keyID
        self.concurrency = concurrency
        self.balance = balance
        self.hold = hold
        self.windowRequests = windowRequests
        self.windowMilliseconds = windowMilliseconds
    }
}

/// The shared answer: admitted, or which shared limit refused.
public enum SharedVerdict: Sendable, Equatable {
    case admitted
    case concurrency
    case balance
    /// The window is full until `until`.
    case rateLimited(until: Date)
}

/// A key's concurrency, balance and request window, exact across every
/// replica on one PostgreSQL database.
///
/// One row per key (`shared_keys`) counts what is in flight, held and spent,
/// and keeps the admission times inside the sliding request window (at most
/// the window's request count of them); one row per admitted request
/// (`shared_holds`) is its lease. Admission is one conditional statement:
/// the UPDATE takes the key's row lock, re-checks every cap against the
/// committed counts, and files the lease only if it passed, so two replicas
/// can never both take the last slot or the last dollar. Settlement is one
/// statement: the lease goes, its slot and hold with it, and the cost is
/// added to what was spent. A replica renews its leases' expiry while it
/// lives; leases a dead replica left expire (`lease_ttl`) and any replica's
/// sweep gives their slots and holds back.
public final class SharedKeyLimits: Sendable {
    let store: SQLStore
    /// This process's name on its leases.
    public let replica: String
    /// How long a lease outlives its replica's last renewal.
    public let leaseTTL: Duration
    private let known = Mutex<Set<Int64>>([])

    /// Shares limits through `store` when it is PostgreSQL; nil for SQLite (one process: the limiter in memory is exact).
    public init?(store: any GatewayStore, leaseTTL: Duration) {
        guard let store = store as? SQLStore, store.dialect == .postgres else { return nil }
        self.store = store
        self.leaseTTL = leaseTTL
        replica = UUID().uuidString.lowercased()
    }

    /// Admits the request against the shared counts, or says which limit refused it.
    /// Throws `StoreError` when the database cannot be asked.
    public func admit(_ demand: SharedDemand, now: Date) async throws -> SharedVerdict {
        try await ensureRow(demand.keyID)
        let nowMs = now.millisecondsSince1970
        let windowMs = max(demand.windowMilliseconds, 1)
        let since = nowMs.saturatingSubtract(windowMs)
        let concurrency = Int(demand.concurrency ?? -1)
        let balance = demand.balance.map { Int($0.picos) } ?? -1
        let hold = demand.balance == nil ? 0 : Int(max(demand.hold.picos, 0))
        let requests = demand.windowRequests ?? -1
        // A refusal no cap explains on a second look (the counts moved in between) is tried again.
        for _ in 0..<3 {
            let rows = try await store.query(
                """
                WITH admitted AS (
                    UPDATE shared_keys SET in_flight = in_flight + 1, held_picos = held_picos + ?,
                        window_times = CASE WHEN ? < 0 THEN window_times
                            ELSE array_append(ARRAY(SELECT t FROM unnest(window_times) AS t WHERE t > ?), ?::bigint) END
                    WHERE key_id = ? AND (? < 0 OR in_flight < ?)
                        AND (? < 0 OR spent_picos::numeric + held_picos + ? <= ?)
                        AND (? < 0 OR (SELECT COUNT(*) FROM unnest(window_times) AS t WHERE t > ?) < ?)
                    RETURNING key_id)
                INSERT INTO shared_holds (request_id, key_id, replica, hold_picos, expires_at)
                    SELECT ?, key_id, ?, ?, ? FROM admitted
                RETURNING request_id
                """,
                [
                    .integer(hold), .integer(requests), .integer(Int(since)), .integer(Int(nowMs)), .integer(Int(demand.keyID)),
                    .integer(concurrency), .integer(concurrency), .integer(balance), .integer(hold), .integer(balance),
                    .integer(requests), .integer(Int(since)), .integer(requests),
                    .text(demand.requestID), .text(replica), .integer(hold), .integer(Int(expiry(from: now))),
                ])
            if !rows.isEmpty { return .admitted }
            // Which cap refused: read after the fact, for the client's message.
            guard
                let row = try await store.query(
                    """
                    SELECT in_flight, (SELECT COUNT(*) FROM unnest(window_times) AS t WHERE t > ?) AS in_window,
                        (SELECT MIN(t) FROM unnest(window_times) AS t WHERE t > ?) AS oldest
                    FROM shared_keys WHERE key_id = ?
                    """,
                    [.integer(Int(since)), .integer(Int(since)), .integer(Int(demand.keyID))]
                ).first
            else { throw StoreError(.unavailable, "the key's shared row is missing") }
            if concurrency >= 0, (row.int("in_flight") ?? 0) >= Int64(concurrency) { return .concurrency }
            if requests >= 0, (row.int("in_window") ?? 0) >= Int64(requests) {
                // A place frees when the oldest admission in the window leaves it.
                return .rateLimited(until: Date(millisecondsSince1970: (row.int("oldest") ?? nowMs).saturatingAdd(windowMs)))
            }
            if balance >= 0 { return .balance }
        }
        return concurrency >= 0 ? .concurrency : .balance
    }

    /// A finished request: its lease to give back and what it cost.
    public struct Settlement: Sendable {
        public var requestID: String
        public var keyID: Int64
        public var cost: Money

        public init(requestID: String, keyID: Int64, cost: Money) {
            self.requestID = requestID
            self.keyID = keyID
            self.cost = cost
        }
    }

    /// Settlements per statement.
    public static let settlementsPerStatement = 500

    /// Gives the requests' slots and holds back and adds what they cost, in
    /// one statement per key touched; a request whose lease already expired
    /// (or was never filed) still has its cost counted.
    public func settle(_ settlements: [Settlement]) async throws {
        for start in stride(from: 0, to: settlements.count, by: Self.settlementsPerStatement) {
            let chunk = settlements[start..<min(settlements.count, start + Self.settlementsPerStatement)]
            _ = try await store.query(
                """
                WITH costs (request_id, key_id, cost) AS (VALUES \(
                    Array(repeating: "(?::text, ?::bigint, ?::bigint)", count: chunk.count).joined(separator: ", "))),
                gone AS (
                    DELETE FROM shared_holds USING costs WHERE shared_holds.request_id = costs.request_id
                    RETURNING shared_holds.request_id, shared_holds.hold_picos),
                per_key AS (
                    SELECT costs.key_id, COUNT(gone.request_id) AS settled, COALESCE(SUM(gone.hold_picos), 0) AS held,
                        SUM(costs.cost) AS spent
                    FROM costs LEFT JOIN gone ON gone.request_id = costs.request_id GROUP BY costs.key_id)
                UPDATE shared_keys SET in_flight = GREATEST(in_flight - per_key.settled, 0),
                    held_picos = GREATEST(held_picos - per_key.held, 0),
                    spent_picos = LEAST(spent_picos::numeric + per_key.spent, 9223372036854775807)::bigint
                FROM per_key WHERE shared_keys.key_id = per_key.key_id
                """,
                chunk.flatMap { [.text($0.requestID), .integer(Int($0.keyID)), .integer(Int(max($0.cost.picos, 0)))] })
        }
    }

    /// Pushes this replica's leases' expiry forward: it is alive.
    public func renew(now: Date) async throws {
        _ = try await store.query(
            "UPDATE shared_holds SET expires_at = ? WHERE replica = ?", [.integer(Int(expiry(from: now))), .text(replica)])
    }

    /// Ends the leases whose replica stopped renewing them; returns how many.
    @discardableResult
    public func sweep(now: Date) async throws -> Int {
        try await store.query(
            """
            WITH gone AS (DELETE FROM shared_holds WHERE expires_at < ? RETURNING key_id, hold_picos),
                totals AS (SELECT key_id, COUNT(*) AS n, SUM(hold_picos) AS held FROM gone GROUP BY key_id)
            UPDATE shared_keys SET in_flight = GREATEST(in_flight - totals.n, 0), held_picos = GREATEST(held_picos - totals.held, 0)
            FROM totals WHERE shared_keys.key_id = totals.key_id
            RETURNING totals.n
            """, [.integer(Int(now.millisecondsSince1970))]
        ).reduce(0) { $0 + Int($1.int("n") ?? 0) }
    }

    private func expiry(from now: Date) -> Int64 {
        now.millisecondsSince1970.saturatingAdd(Int64(leaseTTL.components.seconds) * 1000)
    }

    /// Makes the key's shared row once per process: its spend starts from the
    /// ledger's lifetime total for the key.
    private func ensureRow(_ keyID: Int64) async throws {
        if known.withLock({ $0.contains(keyID) }) { return }
        _ = try await store.query(
            """
            INSERT INTO shared_keys (key_id, spent_picos)
            VALUES (?, COALESCE((SELECT LEAST(cost_hi::numeric * 1000000000 + cost_lo, 9223372036854775807)::bigint
                FROM key_totals WHERE key_id = ?), 0))
            ON CONFLICT (key_id) DO NOTHING
            """, [.integer(Int(keyID)), .integer(Int(keyID))])
        _ = known.withLock { $0.insert(keyID) }
    }
}
