import SwitchboardCore
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

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
    /// When the window's count starts at the latest (a usage reset of the window, in milliseconds since 1970).
    public var windowFloor: Int64 = .min
    /// The key's user, when that user has a balance: the same hold is held against it.
    public var user: (id: Int64, name: String, balance: Money)?
    /// Every other shared limit the request must pass, in the order a refusal is explained.
    public var meters: [SharedMeter] = []

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
    /// The key's user's balance.
    case userBalance
    /// The window is full until `until`.
    case rateLimited(until: Date)
    /// A meter refused; for a window, `oldest` is its oldest entry inside it.
    case meter(SharedMeter, oldest: Date?)
}

/// Every limit of keys, users, groups and accounts, exact across every
/// replica on one PostgreSQL database.
///
/// One row per key (`shared_keys`) counts what is in flight, held and spent,
/// and keeps the admission times inside the sliding request window (at most
/// the window's request count of them); one row per user with a balance
/// (`shared_users`) counts what is held and spent; one row per meter
/// (`shared_meters`, see `SharedMeter`) counts every other limit; one row
/// per admitted request (`shared_holds`) is its lease, with what it holds on
/// each meter (`shared_meter_holds`). Admission is one conditional
/// statement: it locks the meters' rows (in name order), then the user's,
/// then updates the key's only if every cap still holds against the
/// committed counts, and files the lease only if all passed, so two
/// replicas can never both take the last slot or the last dollar.
/// Settlements go in batches, a transaction each: the leases go, their
/// slots and holds with them, and the costs are added to what was spent, in
/// the same order. A replica renews its leases' expiry while it lives;
/// leases a dead replica left expire (`lease_ttl`) and any replica's sweep
/// gives their slots and holds back, after recording what that replica left
/// open (`shared_open_requests`, filed by `OpenRequestMirror`).
public final class SharedKeyLimits: Sendable {
    let store: SQLStore
    /// This process's name on its leases.
    public let replica: String
    /// How long a lease outlives its replica's last renewal.
    public let leaseTTL: Duration
    private let known = Mutex<Set<Int64>>([])
    private let knownUsers = Mutex<Set<Int64>>([])
    /// The meters whose rows this process made or found, with when each may go.
    private let knownMeters = Mutex<[String: Int64]>([:])

    /// Shares limits through `store` when it is PostgreSQL; nil for SQLite (one process: the limiter in memory is exact).
    public init?(store: any GatewayStore, leaseTTL: Duration) {
        guard let store = store as? SQLStore, store.dialect == .postgres else { return nil }
        self.store = store
        self.leaseTTL = leaseTTL
        replica = UUID().uuidString.lowercased()
    }

    /// Admits the request against the shared counts, or says which limit refused it.
    /// Throws `StoreError` when the database cannot be asked.
    ///
    /// The statement locks the meters' rows, then the user's (`FOR UPDATE`),
    /// then the key's: every admission and settlement takes them in that
    /// order, so they never deadlock.
    public func admit(_ demand: SharedDemand, now: Date) async throws -> SharedVerdict {
        try await ensureRow(demand.keyID)
        if let user = demand.user { try await ensureUserRow(user.id, name: user.name) }
        try await ensureMeters(demand.meters)
        let nowMs = now.millisecondsSince1970
        let windowMs = max(demand.windowMilliseconds, 1)
        let since = max(nowMs.saturatingSubtract(windowMs), demand.windowFloor)
        let concurrency = Int(demand.concurrency ?? -1)
        let balance = demand.balance.map { Int($0.picos) } ?? -1
        let metered = demand.balance != nil || demand.user != nil
        let hold = metered ? Int(max(demand.hold.picos, 0)) : 0
        let keyHold = demand.balance == nil ? 0 : hold
        let userID = demand.user.map { Int($0.id) } ?? -1
        let userBalance = demand.user.map { Int($0.balance.picos) } ?? -1
        let requests = demand.windowRequests ?? -1
        // One call of `switchboard_admit` (PostgreSQL migration 8): it locks the meters' rows (in name order),
        // then the user's, then updates the key's only if every cap holds, and files the lease.
        let binds: [SQLValue] = [
            .text(demand.requestID), .text(replica), .integer(Int(expiry(from: now))), .integer(Int(nowMs)),
            try Self.metersDocument(demand.meters),
            .integer(userID), .integer(userBalance), .integer(hold),
            .integer(Int(demand.keyID)), .integer(concurrency), .integer(balance), .integer(keyHold), .integer(requests), .integer(Int(since)),
        ]
        // A refusal no cap explains on a second look (the counts moved in between) is tried again.
        for _ in 0..<3 {
            if try await Self.admitted(store, binds) { return .admitted }
            // Which cap refused: read after the fact, for the client's message.
            guard
                let row = try await store.query(
                    """
                    SELECT in_flight, (SELECT COUNT(*) FROM unnest(window_times) AS t WHERE t > ?) AS in_window,
                        (SELECT MIN(t) FROM unnest(window_times) AS t WHERE t > ?) AS oldest,
                        spent_picos::numeric + held_picos + ? > ? AS over_balance,
                        (SELECT spent_picos::numeric + held_picos + ? > ? FROM shared_users WHERE user_id = ?) AS over_user_balance
                    FROM shared_keys WHERE key_id = ?
                    """,
                    [
                        .integer(Int(since)), .integer(Int(since)), .integer(keyHold), .integer(balance), .integer(hold),
                        .integer(userBalance), .integer(userID), .integer(Int(demand.keyID)),
                    ]
                ).first
            else { throw StoreError(.unavailable, "the key's shared row is missing") }
            if concurrency >= 0, (row.int("in_flight") ?? 0) >= Int64(concurrency) { return .concurrency }
            if requests >= 0, (row.int("in_window") ?? 0) >= Int64(requests) {
                // A place frees when the oldest admission in the window leaves it.
                return .rateLimited(until: Date(millisecondsSince1970: (row.int("oldest") ?? nowMs).saturatingAdd(windowMs)))
            }
            if balance >= 0, row.int("over_balance") == 1 { return .balance }
            if userID >= 0, row.int("over_user_balance") == 1 { return .userBalance }
            if let refused = try await refusingMeter(demand.meters, now: now) { return refused }
        }
        return concurrency >= 0 ? .concurrency : .balance
    }

    /// Holds `meters` for one lease that is not a key's (an attempt on an
    /// account with caps): one call, as a key's admission.
    public func admit(lease requestID: String, meters: [SharedMeter], now: Date) async throws -> SharedVerdict {
        try await ensureMeters(meters)
        let binds: [SQLValue] = [
            .text(requestID), .text(replica), .integer(Int(expiry(from: now))), .integer(Int(now.millisecondsSince1970)),
            try Self.metersDocument(meters), .integer(-1), .integer(-1), .integer(0),
            .integer(-1), .integer(-1), .integer(-1), .integer(0), .integer(-1), .integer(0),
        ]
        for _ in 0..<3 {
            if try await Self.admitted(store, binds) { return .admitted }
            if let refused = try await refusingMeter(meters, now: now) { return refused }
        }
        return .meter(meters[0], oldest: nil)
    }

    /// Calls `switchboard_admit` with `binds`: whether it admitted.
    private static func admitted(_ store: SQLStore, _ binds: [SQLValue]) async throws -> Bool {
        let row = try await store.query(
            "SELECT switchboard_admit(\(Array(repeating: "?", count: binds.count).joined(separator: ", "))) AS admitted", binds)
        return row.first?.int("admitted") == 1
    }

    /// What `switchboard_admit` reads the meters from: a JSON array, one object per meter.
    private static func metersDocument(_ meters: [SharedMeter]) throws -> SQLValue {
        struct Wanted: Encodable {
            var name: String
            var cap: Int64
            var need: Int64
            var hold: Int64
            var slots: Int64
            var slotCap: Int64
            var windowMs: Int64
            var unit: String

            enum CodingKeys: String, CodingKey {
                case name, cap, need, hold, slots, unit
                case slotCap = "slot_cap"
                case windowMs = "window_ms"
            }
        }
        guard !meters.isEmpty else { return .null }
        let wanted = meters.map { meter in
            Wanted(
                name: meter.name, cap: meter.cap ?? -1, need: max(meter.need, 0), hold: max(meter.hold, 0), slots: meter.slotCap == nil ? 0 : 1,
                slotCap: Int64(meter.slotCap ?? -1), windowMs: meter.windowMilliseconds, unit: meter.unit.rawValue)
        }
        return .text(String(decoding: try JSONEncoder().encode(wanted), as: UTF8.self))
    }

    /// The first meter (in the demand's order) that cannot take the request as its row stands now.
    private func refusingMeter(_ meters: [SharedMeter], now: Date) async throws -> SharedVerdict? {
        guard !meters.isEmpty else { return nil }
        let nowMs = Int(now.millisecondsSince1970)
        let rows = try await store.query(
            """
            SELECT m.name, m.used, m.held, m.in_flight,
                (SELECT LEAST(COALESCE(SUM(e.a), 0), 9223372036854775807)::bigint FROM unnest(m.window_at, m.window_amounts) AS e(t, a)
                    WHERE e.t > ? - w.window_ms) AS in_window,
                (SELECT MIN(e.t) FROM unnest(m.window_at) AS e(t) WHERE e.t > ? - w.window_ms) AS oldest
            FROM shared_meters m JOIN (VALUES \(Array(repeating: "(?::text, ?::bigint)", count: meters.count).joined(separator: ", ")))
                AS w(name, window_ms) USING (name)
            """, [.integer(nowMs), .integer(nowMs)] + meters.flatMap { [.text($0.name), .integer(Int($0.windowMilliseconds))] })
        var found: [String: SQLRow] = [:]
        for row in rows { if let name = row.text("name") { found[name] = row } }
        for meter in meters {
            guard let row = found[meter.name] else {
                // Made again on the next admission.
                _ = knownMeters.withLock { $0.removeValue(forKey: meter.name) }
                throw StoreError(.unavailable, "a shared meter's row is missing")
            }
            let counted = meter.windowMilliseconds > 0 ? row.int("in_window") ?? 0 : row.int("used") ?? 0
            if !meter.passes(counted: counted, held: row.int("held") ?? 0, inFlight: row.int("in_flight") ?? 0) {
                return .meter(meter, oldest: row.int("oldest").map { Date(millisecondsSince1970: $0) })
            }
        }
        return nil
    }

    /// A finished request: its lease to give back and what it cost.
    public struct Settlement: Sendable {
        public var requestID: String
        /// The key, for a key's lease; nil for an account attempt's.
        public var keyID: Int64?
        /// The key's user, when its balance was held too.
        public var userID: Int64?
        public var cost: Money
        /// The tokens it used, for meters that count tokens.
        public var tokens: Int64
        /// The meters its admission held, which its cost or tokens are added to.
        public var meters: [SharedMeter.Use]

        public init(requestID: String, keyID: Int64?, userID: Int64? = nil, cost: Money, tokens: Int64 = 0, meters: [SharedMeter.Use] = []) {
            self.requestID = requestID
            self.keyID = keyID
            self.userID = userID
            self.cost = cost
            self.tokens = tokens
            self.meters = meters
        }
    }

    /// Settlements per transaction.
    public static let settlementsPerStatement = 500

    /// Gives the requests' slots and holds back and adds what they cost: one
    /// transaction per batch, its leases deleted first, then meters', users'
    /// and keys' rows (the order admission locks them in). A request whose
    /// lease is already gone is not counted again: the sweep that ended it
    /// charged what the ledger held for it.
    public func settle(_ settlements: [Settlement], now: Date = Date()) async throws {
        try await settle(settlements, expiredBefore: nil, now: now)
    }

    /// Settles at `now` (a window's entry is stamped with it); with `expiredBefore`, only leases that expired before it go
    /// (one renewed meanwhile stays, and its cost is not counted).
    private func settle(_ settlements: [Settlement], expiredBefore: Date?, now: Date) async throws {
        let cutoff = expiredBefore.map { Int($0.millisecondsSince1970) } ?? -1
        for start in stride(from: 0, to: settlements.count, by: Self.settlementsPerStatement) {
            let batch = Array(settlements[start..<min(settlements.count, start + Self.settlementsPerStatement)])
            try await store.rowOrderedTransaction { [store] in
                var chunk = batch
                let gone = try await store.query(
                    "DELETE FROM shared_holds WHERE request_id IN (\(Array(repeating: "?", count: chunk.count).joined(separator: ", "))) "
                        + "AND (? < 0 OR expires_at < ?) RETURNING request_id, key_id, hold_picos, user_id, user_hold_picos",
                    chunk.map { .text($0.requestID) } + [.integer(cutoff), .integer(cutoff)])
                // Only the leases this batch ended are charged: a lease already gone was charged when it went
                // (swept from the ledger's row, or a settlement whose commit was not heard and is retried), and
                // a sweep leaves a lease renewed meanwhile (still running) alone.
                let ended = Set(gone.compactMap { $0.text("request_id") })
                chunk = chunk.filter { ended.contains($0.requestID) }
                // Meters first: admission locks them before users and keys.
                try await settleMeters(chunk, leases: gone.compactMap { $0.text("request_id") }, now: now)
                var users: [Int64: (held: Int64, spent: Int64)] = [:]
                var keys: [Int64: (settled: Int64, held: Int64, spent: Int64)] = [:]
                for row in gone {
                    if let user = row.int("user_id") {
                        users[user, default: (0, 0)].held = users[user, default: (0, 0)].held.saturatingAdd(row.int("user_hold_picos") ?? 0)
                    }
                    if let key = row.int("key_id") {
                        keys[key, default: (0, 0, 0)].settled += 1
                        keys[key, default: (0, 0, 0)].held = keys[key, default: (0, 0, 0)].held.saturatingAdd(row.int("hold_picos") ?? 0)
                    }
                }
                for settlement in chunk where settlement.cost.picos > 0 {
                    if let user = settlement.userID {
                        users[user, default: (0, 0)].spent = users[user, default: (0, 0)].spent.saturatingAdd(settlement.cost.picos)
                    }
                    if let key = settlement.keyID {
                        keys[key, default: (0, 0, 0)].spent = keys[key, default: (0, 0, 0)].spent.saturatingAdd(settlement.cost.picos)
                    }
                }
                for (user, change) in users.sorted(by: { $0.key < $1.key }) {
                    _ = try await store.query(
                        """
                        UPDATE shared_users SET held_picos = GREATEST(held_picos - ?, 0),
                            spent_picos = LEAST(spent_picos::numeric + ?, 9223372036854775807)::bigint WHERE user_id = ?
                        """, [.integer(Int(change.held)), .integer(Int(change.spent)), .integer(Int(user))])
                }
                for (key, change) in keys.sorted(by: { $0.key < $1.key }) {
                    _ = try await store.query(
                        """
                        UPDATE shared_keys SET in_flight = GREATEST(in_flight - ?, 0), held_picos = GREATEST(held_picos - ?, 0),
                            spent_picos = LEAST(spent_picos::numeric + ?, 9223372036854775807)::bigint WHERE key_id = ?
                        """, [.integer(Int(change.settled)), .integer(Int(change.held)), .integer(Int(change.spent)), .integer(Int(key))])
                }
            }
        }
    }

    /// Gives back what the gone leases held on meters and adds each
    /// settlement's cost or tokens to the meters it named, a statement per
    /// meter in name order (the order admission locks them in).
    private func settleMeters(_ settlements: [Settlement], leases: [String], now: Date) async throws {
        struct Change {
            var held: Int64 = 0
            var slots: Int64 = 0
            var used: Int64 = 0
            var windowMilliseconds: Int64 = 0
        }
        var changes: [String: Change] = [:]
        var held: [String: [SharedMeter.Use]] = [:]
        if !leases.isEmpty {
            let holds = try await store.query(
                "DELETE FROM shared_meter_holds WHERE request_id IN (\(Array(repeating: "?", count: leases.count).joined(separator: ", "))) "
                    + "RETURNING request_id, name, hold, slots, unit, window_ms", leases.map { .text($0) })
            for row in holds {
                guard let name = row.text("name") else { continue }
                changes[name, default: Change()].held = changes[name, default: Change()].held.saturatingAdd(row.int("hold") ?? 0)
                changes[name, default: Change()].slots = changes[name, default: Change()].slots.saturatingAdd(row.int("slots") ?? 0)
                if let id = row.text("request_id"), let unit = row.text("unit").flatMap(SharedMeter.Unit.init(rawValue:)) {
                    held[id, default: []].append(SharedMeter.Use(name: name, unit: unit, windowMilliseconds: row.int("window_ms") ?? 0))
                }
            }
        }
        for settlement in settlements {
            // A settlement that names no meters (a dead replica's, swept) charges those its lease held.
            for use in settlement.meters.isEmpty ? held[settlement.requestID] ?? [] : settlement.meters {
                let amount: Int64
                switch use.unit {
                case .money: amount = settlement.cost.picos
                case .tokens: amount = settlement.tokens
                case .requests: amount = 1
                }
                changes[use.name, default: Change()].used = changes[use.name, default: Change()].used.saturatingAdd(max(amount, 0))
                changes[use.name, default: Change()].windowMilliseconds = use.windowMilliseconds
            }
        }
        let nowMs = Int(now.millisecondsSince1970)
        for (name, change) in changes.sorted(by: { $0.key < $1.key }) {
            // A window keeps its entries inside it, and gains the batch's use as one entry.
            let window = Int(change.windowMilliseconds)
            let add = window > 0 && change.used > 0 ? Int(change.used) : 0
            func kept(_ column: String) -> String {
                """
                CASE WHEN ? > 0 THEN ARRAY(SELECT e.\(column) FROM unnest(window_at, window_amounts) WITH ORDINALITY AS e(t, a, i)
                    WHERE e.t > ? - ? ORDER BY e.i) || CASE WHEN ? > 0 THEN ARRAY[?::bigint] ELSE '{}'::bigint[] END
                ELSE \(column == "t" ? "window_at" : "window_amounts") END
                """
            }
            _ = try await store.query(
                """
                UPDATE shared_meters SET held = GREATEST(held - ?, 0), in_flight = GREATEST(in_flight - ?, 0),
                    used = LEAST(used::numeric + ?, 9223372036854775807)::bigint,
                    window_at = \(kept("t")), window_amounts = \(kept("a"))
                WHERE name = ?
                """,
                [
                    .integer(Int(change.held)), .integer(Int(change.slots)), .integer(Int(change.used)),
                    .integer(window), .integer(nowMs), .integer(window), .integer(add), .integer(nowMs),
                    .integer(window), .integer(nowMs), .integer(window), .integer(add), .integer(add),
                    .text(name),
                ])
        }
    }

    /// Pushes this replica's leases' and open requests' expiry forward: it is
    /// alive. On the ledger writer's connections: admissions queued on a hot
    /// row can hold the main pool's, and a late renewal would have a live
    /// replica taken for dead.
    public func renew(now: Date) async throws {
        let (store, replica, expires) = (store, replica, Int(expiry(from: now)))
        try await store.database.onLedgerLane {
            _ = try await store.query("UPDATE shared_holds SET expires_at = ? WHERE replica = ?", [.integer(expires), .text(replica)])
            _ = try await store.query("UPDATE shared_open_requests SET expires_at = ? WHERE replica = ?", [.integer(expires), .text(replica)])
        }
    }

    // MARK: open requests, for when a replica dies

    /// Files this replica's newly open requests and withdraws those now in the ledger (`OpenRequestMirror`).
    public func file(_ entries: [LedgerJournal.Entry], withdraw: [String], now: Date) async throws {
        try await store.database.onLedgerLane { try await self.fileNow(entries, withdraw: withdraw, now: now) }
    }

    private func fileNow(_ entries: [LedgerJournal.Entry], withdraw: [String], now: Date) async throws {
        for start in stride(from: 0, to: withdraw.count, by: Self.settlementsPerStatement) {
            let chunk = withdraw[start..<min(withdraw.count, start + Self.settlementsPerStatement)]
            _ = try await store.query(
                "DELETE FROM shared_open_requests WHERE request_id IN (\(Array(repeating: "?", count: chunk.count).joined(separator: ", ")))",
                chunk.map { .text($0) })
        }
        let encoder = JSONEncoder()
        let expires = SQLValue.integer(Int(expiry(from: now)))
        for start in stride(from: 0, to: entries.count, by: Self.settlementsPerStatement) {
            let chunk = entries[start..<min(entries.count, start + Self.settlementsPerStatement)]
            var binds: [SQLValue] = []
            for entry in chunk {
                binds += [.text(entry.requestID), .text(replica), .text(String(decoding: try encoder.encode(entry), as: UTF8.self)), expires]
            }
            _ = try await store.query(
                "INSERT INTO shared_open_requests (request_id, replica, entry, expires_at) VALUES "
                    + Array(repeating: "(?, ?, ?, ?)", count: chunk.count).joined(separator: ", ") + " ON CONFLICT DO NOTHING", binds)
        }
    }

    /// Requests a replica filed open and stopped renewing (it died): up to
    /// 500, oldest first. One whose entry cannot be read is dropped (there
    /// is nothing to record it from) and counted in `unreadable`.
    public func orphans(now: Date) async throws -> (entries: [LedgerJournal.Entry], unreadable: Int) {
        let rows = try await store.query(
            """
            SELECT request_id, entry, EXISTS (SELECT 1 FROM ledger l WHERE l.request_id = o.request_id) AS recorded
            FROM shared_open_requests o WHERE expires_at < ? ORDER BY expires_at LIMIT 500
            """, [.integer(Int(now.millisecondsSince1970))])
        let decoder = JSONDecoder()
        var entries: [LedgerJournal.Entry] = []
        var unreadable: [String] = []
        var recorded: [String] = []
        for row in rows {
            guard let id = row.text("request_id") else { continue }
            if row.int("recorded") == 1 {
                // Its row reached the ledger before its replica stopped (and withdrew it): nothing to record or charge.
                recorded.append(id)
            } else if let text = row.text("entry"), let entry = try? decoder.decode(LedgerJournal.Entry.self, from: Data(text.utf8)),
                entry.requestID == id
            {
                entries.append(entry)
            } else {
                unreadable.append(id)
            }
        }
        try await forget(unreadable + recorded)
        return (entries, unreadable.count)
    }

    /// Forgets open requests now recorded.
    public func forget(_ requestIDs: [String]) async throws {
        try await file([], withdraw: requestIDs, now: Date())
    }

    /// Ends the leases whose replica stopped renewing them (their slots and
    /// holds go back); returns how many. A lease still there was never
    /// settled, so whatever the ledger holds for its request (the dead
    /// replica's own row, or the `interrupted` row its restart or another
    /// replica wrote) is charged to its key, user and meters now. A lease
    /// whose request is still filed open waits until that request is recorded
    /// (`orphans`), so its cost goes with it.
    @discardableResult
    public func sweep(now: Date) async throws -> Int {
        let expired = try await store.query(
            """
            SELECT h.request_id, h.key_id, h.user_id, l.cost_picos,
                LEAST(l.input_uncached::numeric + l.cache_read + l.cache_write_5m + l.cache_write_1h + l.output, 9223372036854775807)::bigint
                    AS tokens
            FROM shared_holds h LEFT JOIN ledger l ON l.request_id = h.request_id
            WHERE h.expires_at < ? AND NOT EXISTS (SELECT 1 FROM shared_open_requests o WHERE o.request_id = h.request_id)
            ORDER BY h.expires_at LIMIT 1000
            """, [.integer(Int(now.millisecondsSince1970))])
        let leases = expired.compactMap { row -> Settlement? in
            guard let id = row.text("request_id") else { return nil }
            return Settlement(
                requestID: id, keyID: row.int("key_id"), userID: row.int("user_id"), cost: Money(picos: max(row.int("cost_picos") ?? 0, 0)),
                tokens: max(row.int("tokens") ?? 0, 0))
        }
        // Only leases that expired go (one renewed meanwhile stays), each charged once: settlements count only the leases they end.
        try await settle(leases, expiredBefore: now, now: now)
        // Meters of periods that are over, which nothing holds any more.
        let nowMs = now.millisecondsSince1970
        _ = try await store.query("DELETE FROM shared_meters WHERE expires_at < ? AND held = 0 AND in_flight = 0", [.integer(Int(nowMs))])
        knownMeters.withLock { $0 = $0.filter { $0.value >= nowMs } }
        return leases.count
    }

    private func expiry(from now: Date) -> Int64 {
        now.millisecondsSince1970.saturatingAdd(Int64(leaseTTL.components.seconds) * 1000)
    }

    /// Makes a key's or user's shared row once per process (`known` remembers
    /// which): its spend starts from the ledger's lifetime total for it.
    private func ensureRow(
        _ table: String, id: Int64, in known: borrowing Mutex<Set<Int64>>, totals: String, totalsKey: String, totalsValue: SQLValue
    ) async throws {
        if known.withLock({ $0.contains(id) }) { return }
        _ = try await store.query(
            """
            INSERT INTO \(table) (\(table == "shared_keys" ? "key_id" : "user_id"), spent_picos)
            VALUES (?, COALESCE((SELECT LEAST(cost_hi::numeric * 1000000000 + cost_lo, 9223372036854775807)::bigint
                FROM \(totals) WHERE \(totalsKey) = ?), 0))
            ON CONFLICT DO NOTHING
            """, [.integer(Int(id)), totalsValue])
        _ = known.withLock { $0.insert(id) }
    }

    /// Makes each meter's row once per process, its count starting where the rollups have it.
    private func ensureMeters(_ meters: [SharedMeter]) async throws {
        for meter in meters where knownMeters.withLock({ $0[meter.name] == nil }) {
            let start = try await store.meterOrigin(meter.origin)
            _ = try await store.query(
                "INSERT INTO shared_meters (name, used, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                [.text(meter.name), .integer(Int(start)), meter.expiresAt.map { .integer(Int($0.millisecondsSince1970)) } ?? .null])
            knownMeters.withLock { $0[meter.name] = meter.expiresAt?.millisecondsSince1970 ?? .max }
        }
    }

    private func ensureRow(_ keyID: Int64) async throws {
        try await ensureRow("shared_keys", id: keyID, in: known, totals: "key_totals", totalsKey: "key_id", totalsValue: .integer(Int(keyID)))
    }

    private func ensureUserRow(_ userID: Int64, name: String) async throws {
        try await ensureRow("shared_users", id: userID, in: knownUsers, totals: "user_totals", totalsKey: "user_name", totalsValue: .text(name))
    }
}
