import Foundation
import Storage
import SwitchboardCore

/// Admin operations on keys, accounts and usage, shared by the CLI and (later)
/// the admin API so both behave the same.
public struct Admin: Sendable {
    let context: StoreContext

    /// Operations on an opened store.
    public init(context: StoreContext) { self.context = context }

    /// Creates a key and returns it with the only copy of its plaintext.
    public func createKey(name: String, expiresAt: Date? = nil) async throws -> (KeyRecord, String) {
        guard !name.isEmpty else { throw ConfigurationError("a key needs a name") }
        let plaintext = KeyGenerator.make()
        let record = try await context.store.insertKey(
            KeyInput(
                name: name, hash: context.hasher.hash(plaintext), prefix: KeyGenerator.displayPrefix(of: plaintext),
                lastFour: KeyGenerator.lastFour(of: plaintext), source: "cli", expiresAt: expiresAt))
        return (record, plaintext)
    }

    /// Every key.
    public func listKeys() async throws -> [KeyRecord] { try await context.store.listKeys() }

    /// Revokes a key; false when there is no key by that name.
    public func revokeKey(name: String) async throws -> Bool { try await context.store.revokeKey(name: name, at: Date()) }

    /// Adds or replaces an account, sealing its secret.
    public func addAccount(_ declaration: Configuration.AccountDeclaration) async throws -> AccountRecord {
        guard !declaration.apiKey.isEmpty else { throw ConfigurationError("an account needs an API key") }
        guard !declaration.models.isEmpty else { throw ConfigurationError("an account needs at least one model") }
        return try await context.store.upsertAccount(
            AccountInput(
                name: declaration.name, provider: declaration.provider, baseURL: declaration.baseURL,
                secret: try context.box.seal(declaration.apiKey), models: declaration.models,
                modelMap: declaration.modelMap, priority: declaration.priority, enabled: declaration.enabled,
                notes: declaration.notes, source: "cli", limits: declaration.limits))
    }

    /// Every account, with why its secret does not open under the current master
    /// key (nil when it opens).
    public func listAccounts() async throws -> [(AccountRecord, secretProblem: String?)] {
        try await context.store.listAccounts().map { record in
            do {
                _ = try context.box.open(record.secret)
                return (record, nil)
            } catch {
                return (record, "\(error)")
            }
        }
    }

    /// Deletes an account; false when there is none by that name.
    public func removeAccount(name: String) async throws -> Bool { try await context.store.removeAccount(name: name) }

    /// Ledger totals by key and model since a time.
    public func usage(since: Date?) async throws -> UsageReport { try await context.store.usageReport(since: since) }
}

extension Configuration.AccountDeclaration {
    /// An account declaration built from command-line values.
    public init(
        name: String, provider: Provider, baseURL: String?, apiKey: String, models: [String],
        modelMap: [String: String] = [:], priority: Int = 0, enabled: Bool = true, notes: String = ""
    ) {
        self.name = name
        self.provider = provider
        self.baseURL = baseURL ?? Self.defaultBaseURL(provider)
        self.apiKey = apiKey
        self.models = models
        self.modelMap = modelMap
        self.priority = priority
        self.enabled = enabled
        self.notes = notes
    }
}
