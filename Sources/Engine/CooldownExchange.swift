import Foundation
import Logging
import Policy
import ServiceLifecycle
import Storage
import SwitchboardCore
import Synchronization

/// Replicas on PostgreSQL tell each other which accounts are cooling down:
/// every quarter second this replica files the cooldowns it began (a 429, an
/// overload, repeated failures) and takes on the ones the others filed, so a
/// 429 one replica sees keeps every replica off that account within a second.
public struct CooldownExchange: Service {
    let gateway: Gateway
    let shared: SharedCooldowns
    let interval: Duration
    let logger: Logger

    /// Creates the service; nil unless the store is PostgreSQL.
    public init?(gateway: Gateway, store: any GatewayStore, interval: Duration = .milliseconds(250), logger: Logger) {
        guard let shared = SharedCooldowns(store: store) else { return nil }
        self.gateway = gateway
        self.shared = shared
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        let published = Mutex<[Int64: Date]>([:])
        await runPeriodically(every: interval, immediately: false) {
            let filed = published.withLock { $0 }
            let now = await exchange(after: filed)
            published.withLock { $0 = now }
        }
    }

    /// One round: files this replica's new cooldowns, adopts the others'; returns what is filed now.
    func exchange(after filed: [Int64: Date]) async -> [Int64: Date] {
        let mine = gateway.accountStatus().compactMap { _, status in
            status.cooldownUntil.map { SharedCooldown(accountID: status.id, generation: status.generation, until: $0, cause: status.cooldownCause) }
        }
        do {
            try await shared.publish(mine.filter { filed[$0.accountID] != $0.until })
            for cooldown in try await shared.current(now: gateway.clock.now()) {
                gateway.pool.adoptCooldown(
                    accountID: cooldown.accountID, generation: cooldown.generation, until: cooldown.until, cause: cooldown.cause)
            }
            return Dictionary(mine.map { ($0.accountID, $0.until) }) { first, _ in first }
        } catch {
            logger.warning("account cooldowns could not be shared", metadata: ["error": "\(error)"])
            return filed
        }
    }
}
