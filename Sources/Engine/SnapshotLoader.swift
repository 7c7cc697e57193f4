import Foundation
import Logging
import Policy
import Storage

/// Builds snapshots from the store, opening account secrets on the way.
public struct SnapshotLoader: Sendable {
    let store: any GatewayStore
    let box: SecretKeyring
    let logger: Logger

    /// Creates a loader.
    public init(store: any GatewayStore, box: SecretKeyring, logger: Logger) {
        self.store = store
        self.box = box
        self.logger = logger
    }

    /// Reads keys and accounts as of the store's current revision.
    ///
    /// A secret that does not open makes only its account unusable, with the
    /// reason attached; it never stops the server.
    public func load() async throws -> Snapshot {
        let revision = try await store.revision()
        let keys = try await store.listKeys()
        let accounts = try await store.listAccounts()
        var byHash: [String: KeyEntry] = [:]
        for key in keys {
            byHash[key.hash] = KeyEntry(
                id: key.id, name: key.name, enabled: key.enabled && key.revokedAt == nil, expiresAt: key.expiresAt,
                policy: key.policy)
        }
        let entries = accounts.map { record -> AccountEntry in
            var secret: String?
            var reason: String?
            do {
                secret = try box.open(record.secret)
            } catch {
                reason = "secret unavailable: \(error)"
                logger.error("account secret cannot be opened", metadata: ["account": "\(record.name)", "reason": "\(error)"])
            }
            var entry = AccountEntry(
                id: record.id, name: record.name, provider: record.provider, baseURL: record.baseURL, secret: secret,
                models: record.models, modelMap: record.modelMap, priority: record.priority, enabled: record.enabled,
                unusableReason: reason, limits: record.limits, generation: record.generation)
            entry.interceptWarmup = record.interceptWarmup
            entry.defaultInstructions = record.defaultInstructions
            return entry
        }
        let users = try await store.listUsers()
        let groups = try await store.listGroups()
        return Snapshot(
            keys: KeyDirectory(byHash: byHash), accounts: AccountDirectory(accounts: entries), revision: revision,
            users: Dictionary(users.map { ($0.name, $0) }) { a, _ in a },
            groups: Dictionary(groups.map { ($0.name, $0) }) { a, _ in a })
    }
}
