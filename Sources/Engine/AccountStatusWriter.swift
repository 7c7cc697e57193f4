import Logging
import Policy
import ServiceLifecycle
import Storage
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Saves the accounts' live state to the store about once a second when it
/// changed, so `switchboard accounts list` (another process) can show it and
/// the next start keeps health marks and cooldowns.
public struct AccountStatusWriter: Service {
    let gateway: Gateway
    let store: any GatewayStore
    let interval: Duration
    let logger: Logger

    /// Creates the service.
    public init(gateway: Gateway, store: any GatewayStore, interval: Duration = .seconds(1), logger: Logger) {
        self.gateway = gateway
        self.store = store
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        let last = Mutex<[Int64: AccountStatus]>([:])
        await runPeriodically(every: interval, immediately: false) {
            let saved = await save(changedSince: last.withLock { $0 })
            last.withLock { $0 = saved }
        }
        // The state at shutdown is what the next start restores.
        _ = await save(changedSince: [:])
    }

    /// Saves the statuses that differ from `last`; returns what is saved now.
    func save(changedSince last: [Int64: AccountStatus]) async -> [Int64: AccountStatus] {
        let current = gateway.accountStatus().map(\.status)
        let changed = current.filter { last[$0.id] != $0 }
        guard !changed.isEmpty else { return last }
        do {
            try await store.saveAccountStatus(changed, at: Date())
            return Dictionary(uniqueKeysWithValues: current.map { ($0.id, $0) })
        } catch {
            logger.warning("account state could not be saved", metadata: ["error": "\(error)"])
            return last
        }
    }
}
