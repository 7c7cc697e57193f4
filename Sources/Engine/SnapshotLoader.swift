import Logging
import Policy
import Storage
import Upstream

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

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
        let users = Dictionary(try await store.listUsers().map { ($0.name, $0) }) { a, _ in a }
        let groups = Dictionary(try await store.listGroups().map { ($0.name, $0) }) { a, _ in a }
        var byHash: [String: KeyEntry] = [:]
        for key in keys {
            // A key whose limits cannot be known is refused, never run unlimited.
            let refusal = key.unreadable ?? Self.ownerProblem(key.policy, users: users, groups: groups)
            if let refusal {
                logger.error("key refused: its stored settings cannot be enforced", metadata: ["key": "\(key.name)", "reason": "\(refusal)"])
            }
            byHash[key.hash] = KeyEntry(
                id: key.id, name: key.name, enabled: key.enabled && key.revokedAt == nil && refusal == nil, expiresAt: key.expiresAt,
                policy: key.policy)
        }
        let entries = accounts.map { record -> AccountEntry in
            var secret: String?
            var reason: String?
            if let unreadable = record.unreadable {
                reason = "stored settings unreadable: \(unreadable)"
                logger.error(
                    "account unusable: its stored settings cannot be read", metadata: ["account": "\(record.name)", "reason": "\(unreadable)"])
            }
            do {
                secret = try box.open(record.secret)
            } catch {
                reason = reason ?? "secret unavailable: \(error)"
                logger.error("account secret cannot be opened", metadata: ["account": "\(record.name)", "reason": "\(error)"])
            }
            var entry = AccountEntry(
                id: record.id, name: record.name, provider: record.provider, baseURL: record.baseURL, secret: secret,
                models: record.models, modelMap: record.modelMap, priority: record.priority, enabled: record.enabled,
                unusableReason: reason, limits: record.limits, generation: record.generation)
            entry.interceptWarmup = record.interceptWarmup
            entry.weight = record.weight
            entry.headers = record.headers
            entry.bodyOverrides = record.bodyOverrides
            entry.options = record.options
            if let proxy = record.options.proxy, proxy != "direct", UpstreamProxy.parse(proxy) == nil {
                entry.unusableReason = entry.unusableReason ?? "stored proxy unreadable"
            }
            do {
                entry.proxyPassword = try record.proxySecret.map { try box.open($0) }
            } catch {
                entry.unusableReason = entry.unusableReason ?? "proxy password unavailable: \(error)"
            }
            entry.defaultInstructions = record.defaultInstructions
            return entry
        }
        return Snapshot(
            keys: KeyDirectory(byHash: byHash), accounts: AccountDirectory(accounts: entries), revision: revision,
            users: users, groups: groups, aliases: Dictionary(try await store.listAliases().map { ($0.name, $0) }) { a, _ in a },
            quarantines: try await store.activeQuarantines(),
            providerFailovers: Dictionary(
                try await store.listProviderSettings().compactMap { setting in setting.maxFailovers.map { (setting.provider, $0) } }
            ) { a, _ in a })
    }

    /// Why a key's owner cannot be charged as its policy says: the user or its
    /// group is missing or unreadable. Nil when the key has no user or all is well.
    public static func ownerProblem(_ policy: KeyPolicy, users: [String: UserEntry], groups: [String: GroupEntry]) -> String? {
        guard let name = policy.user else { return nil }
        guard let user = users[name] else { return "its user \(name) does not exist" }
        if let unreadable = user.unreadable { return "its user's stored balance cannot be read (\(unreadable))" }
        guard let groupName = user.group else { return nil }
        guard let group = groups[groupName] else { return "its user's group \(groupName) does not exist" }
        if let unreadable = group.unreadable { return "its user's group cannot be read (\(unreadable))" }
        return nil
    }
}
