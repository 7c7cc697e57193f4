import Logging
import Policy
import ServiceLifecycle
import Storage
import SwitchboardCore
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Replicas on PostgreSQL tell each other what their account pools learnt:
/// every quarter second this replica files the cooldowns it began (a 429, an
/// overload, repeated failures) and the sessions it placed, and takes on the
/// others'. So a 429 one replica sees keeps every replica off that account,
/// and a session keeps its account (its warm prompt cache) whichever replica
/// its next request reaches, within a second.
public struct PoolExchange: Service {
    let gateway: Gateway
    let cooldowns: SharedCooldowns
    let sessions: SharedSessions
    let interval: Duration
    let logger: Logger

    /// What this replica filed and read so far.
    struct Marks: Sendable {
        var cooldowns: [Int64: Date] = [:]
        var placedUntil = Date.distantPast
        var readSequence: Int64 = 0
        var sweptAt = Date.distantPast
    }

    /// Creates the service; nil unless the store is PostgreSQL.
    public init?(gateway: Gateway, store: any GatewayStore, interval: Duration = .milliseconds(250), logger: Logger) {
        guard let cooldowns = SharedCooldowns(store: store), let sessions = SharedSessions(store: store) else { return nil }
        self.gateway = gateway
        self.cooldowns = cooldowns
        self.sessions = sessions
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        let marks = Mutex(Marks())
        await runPeriodically(every: interval, immediately: false) {
            let before = marks.withLock { $0 }
            let after = await exchange(before)
            marks.withLock { $0 = after }
        }
    }

    /// One round; returns the marks after it. What it reads is read cooldowns
    /// first and applied sessions first, so a cooldown seen here means every
    /// session filed before it is placed here too.
    func exchange(_ marks: Marks) async -> Marks {
        var marks = marks
        do {
            let placed = gateway.pool.placements(after: marks.placedUntil)
            try await sessions.publish(placed.map { ($0.session, $0.accountID, $0.expiresAt) })
            marks.placedUntil = placed.map(\.expiresAt).max() ?? marks.placedUntil
            let mine = gateway.accountStatus().compactMap { _, status in
                status.cooldownUntil.map {
                    SharedCooldown(accountID: status.id, generation: status.generation, until: $0, cause: status.cooldownCause)
                }
            }
            try await cooldowns.publish(mine.filter { marks.cooldowns[$0.accountID] != $0.until })
            marks.cooldowns = Dictionary(mine.map { ($0.accountID, $0.until) }) { first, _ in first }

            let cooling = try await cooldowns.current(now: gateway.clock.now())
            let (changes, last) = try await sessions.changes(after: marks.readSequence)
            gateway.pool.adopt(changes.map { AccountPool.SessionPlacement(session: $0.session, accountID: $0.accountID, expiresAt: $0.expiresAt) })
            marks.readSequence = last
            for cooldown in cooling {
                gateway.pool.adoptCooldown(
                    accountID: cooldown.accountID, generation: cooldown.generation, until: cooldown.until, cause: cooldown.cause)
            }

            let now = gateway.clock.now()
            if now.timeIntervalSince(marks.sweptAt) > 60 {
                try await sessions.sweep(before: now.addingTimeInterval(-60))
                marks.sweptAt = now
            }
        } catch {
            logger.warning("account pool state could not be shared", metadata: ["error": "\(error)"])
        }
        return marks
    }
}
