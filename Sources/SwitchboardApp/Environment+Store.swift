import Foundation
import Logging
import Storage

/// The durable parts every command needs: the store, the secret box and the key
/// hasher, opened the same way by the server and by the CLI.
public struct StoreContext: Sendable {
    public let store: any GatewayStore
    public let box: SecretBox
    public let hasher: KeyHasher
    /// Where the master key came from (`environment` or a file path).
    public let masterKeySource: String

    /// Opens the database named by the configuration, migrates it, and loads the
    /// master key and key hash secret.
    public static func open(_ config: Configuration, logger: Logger) async throws -> StoreContext {
        let store = try await SQLiteStore.open(path: try config.sqlitePath(), logger: logger)
        do {
            try await store.migrate()
            let (key, source) = try MasterKeyLoader.load(
                environmentValue: config.masterKey, dataDirectory: try config.resolvedDataDirectory())
            let box = SecretBox(masterKey: key)
            let hasher = try await KeyHasher.load(store: store, box: box)
            return StoreContext(store: store, box: box, hasher: hasher, masterKeySource: source)
        } catch {
            try? await store.close()
            throw error
        }
    }
}
