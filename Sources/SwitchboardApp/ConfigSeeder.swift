import Engine
import Logging
import Policy
import Storage
import SwitchboardCore
import Upstream

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Upserts the accounts and keys a config file declares. Keys are hashed here;
/// their plaintext is never stored.
enum ConfigSeeder {
    static func seed(_ config: Configuration, into context: StoreContext, logger: Logger) async throws {
        for account in config.accounts {
            guard !account.apiKey.isEmpty else {
                throw ConfigurationError(
                    "account \(account.name) has no api_key; set it in the file or in SWITCHBOARD_ACCOUNT_\(Configuration.envSafe(account.name))_API_KEY"
                )
            }
            do {
                try await config.upstreamPolicy.checkResolving(baseURL: account.baseURL)
                if let proxy = account.options.proxy.flatMap(UpstreamProxy.parse) { try await config.upstreamPolicy.checkResolving(proxy: proxy) }
            } catch {
                throw ConfigurationError("account \(account.name): \(error.description)")
            }
            _ = try await context.store.upsertAccount(
                account.input(
                    secret: try context.box.seal(account.apiKey), proxySecret: try account.proxyPassword.map { try context.box.seal($0) },
                    source: "config"))
        }
        for group in config.groups { _ = try await context.store.upsertGroup(group) }
        for alias in config.aliases { try await context.store.upsertAlias(alias, source: "config") }
        // The file's caps as it says now: one it no longer sets is lifted (one set through the API stays).
        for provider in Provider.allCases {
            if let maxFailovers = config.providerFailovers[provider] {
                try await context.store.upsertProviderSetting(ProviderSetting(provider: provider, maxFailovers: maxFailovers), source: "config")
            } else {
                _ = try await context.store.deleteProviderSetting(provider, source: "config")
            }
        }
        let existingUsers = try await context.store.listUsers()
        for var user in config.users {
            if let group = user.group, !config.groups.contains(where: { $0.name == group }),
                try await !context.store.listGroups().contains(where: { $0.name == group })
            {
                throw ConfigurationError("user \(user.name) names group \(group), which does not exist")
            }
            // The file's balance opens the account; top-ups since are kept.
            if let existing = existingUsers.first(where: { $0.name == user.name }), user.balance != nil,
                let balance = existing.balance
            {
                user.balance = balance
            }
            _ = try await context.store.upsertUser(user, setBalance: true)
        }
        let existingKeys = try await context.store.listKeys()
        for key in config.keys {
            if try await context.store.setting(KeyHousekeeper.tombstone(key.name)) != nil {
                logger.notice("a key the config declares was deleted at its expiry; not recreated", metadata: ["key": "\(key.name)"])
                continue
            }
            guard !key.key.isEmpty else {
                throw ConfigurationError("key \(key.name) has no key; set it in the file or in SWITCHBOARD_KEY_\(Configuration.envSafe(key.name))")
            }
            guard key.key.count >= KeyGenerator.minimumLength else {
                throw ConfigurationError(
                    "key \(key.name) is shorter than \(KeyGenerator.minimumLength) characters; use `switchboard keys create` for a strong one")
            }
            _ = try await context.store.upsertKey(
                KeyInput(
                    name: key.name, hash: context.hasher.hash(key.key), prefix: KeyGenerator.displayPrefix(of: key.key),
                    lastFour: KeyGenerator.lastFour(of: key.key), source: "config",
                    expiresAt: key.expiresAt ?? key.expiresInDays.map { days in
                        // Counted from the key's creation: a restart does not extend it.
                        existingKeys.first { $0.name == key.name }?.expiresAt ?? Date().addingTimeInterval(Double(days) * 86400)
                    } ?? (key.policy.activateOnFirstUseDays != nil ? existingKeys.first { $0.name == key.name }?.expiresAt : nil),
                    policy: Self.policy(for: key, existing: existingKeys.first { $0.name == key.name })))
        }
        if !config.accounts.isEmpty || !config.keys.isEmpty {
            logger.info("configuration file applied", metadata: ["accounts": "\(config.accounts.count)", "keys": "\(config.keys.count)"])
        }
    }

    /// The declared policy, except the balance: the file's `balance_usd` opens the
    /// balance; top-ups and deductions made since are kept across restarts.
    static func policy(for key: Configuration.KeyDeclaration, existing: KeyRecord?) -> KeyPolicy {
        var policy = key.policy
        if let balance = existing?.policy.balance, policy.balance != nil { policy.balance = balance }
        // A budget period the file did not change keeps running; a usage reset made by an admin stays.
        policy.anchorBudget(previous: existing?.policy, now: Date())
        policy.usageReset = existing?.policy.usageReset
        return policy
    }
}
