import Logging
import Policy
import ServiceLifecycle
import Storage

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Applies keys' `on_expiry` once they expire: disables them (the default) or
/// deletes them. Their ledger rows stay either way. Expired keys are refused
/// from the moment they expire regardless; this keeps the store tidy and the
/// state admins see true.
public struct KeyHousekeeper: Service {
    let store: any GatewayStore
    let refresher: SnapshotRefresher
    let interval: Duration
    let logger: Logger

    public init(store: any GatewayStore, refresher: SnapshotRefresher, interval: Duration = .seconds(60), logger: Logger) {
        self.store = store
        self.refresher = refresher
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await runPeriodically(every: interval, immediately: true) { await sweep(now: Date()) }
    }

    /// The setting that marks a key deleted at expiry.
    public static func tombstone(_ name: String) -> String { "deleted_key:" + name }

    /// Disables or deletes every key that expired by `now` (with replicas, one
    /// sweeps at a time).
    public func sweep(now: Date) async {
        do {
            if try await store.leading("key_expiry", { try await expire(now: now) }) == true { await refresher.refreshIfChanged() }
        } catch {
            logger.warning("expired keys could not be swept", metadata: ["error": "\(error)"])
        }
    }

    /// Applies `on_expiry` to the keys expired by `now`; whether any changed.
    private func expire(now: Date) async throws -> Bool {
        var changed = false
        for key in try await store.listKeys() where key.enabled && key.expiresAt.map({ $0 <= now }) == true {
            if key.policy.onExpiry == "delete" {
                // Remembered, so a config file that still declares it does not bring it back.
                _ = try await store.initializeSetting(Self.tombstone(key.name), to: "deleted")
                _ = try await store.deleteKey(name: key.name)
            } else {
                _ = try await store.updateKey(
                    name: key.name, policy: key.policy, enabled: false, expiresAt: key.expiresAt, keepStoredBalance: true)
            }
            changed = true
            logger.notice("expired key \(key.policy.onExpiry == "delete" ? "deleted" : "disabled")", metadata: ["key": "\(key.name)"])
        }
        return changed
    }
}
