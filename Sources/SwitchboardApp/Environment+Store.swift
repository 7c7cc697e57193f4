import Foundation
import Logging
import Storage

/// The durable parts every command needs: the store, the secret box and the key
/// hasher, opened the same way by the server and by the CLI.
public struct StoreContext: Sendable {
    public let store: any GatewayStore
    public let box: SecretKeyring
    public let hasher: KeyHasher
    /// Where the master key came from (`environment` or a file path).
    public let masterKeySource: String

    /// Opens the database named by the configuration, migrates it, and loads the
    /// master key and key hash secret. With `create` false (every command but
    /// `serve` and `init`) a database that is not there is an error naming the
    /// path, not a new empty one (a command run in the wrong directory would
    /// otherwise make itself a database and a master key of its own).
    public static func open(_ config: Configuration, logger: Logger, create: Bool = true) async throws -> StoreContext {
        let store: SQLStore
        switch try config.databaseLocation() {
        case .sqlite(let path):
            if !create, !FileManager.default.fileExists(atPath: path) {
                throw ConfigurationError(
                    "there is no database at \(path.absolutePath): run the command where the gateway's configuration is, "
                        + "name it with --config FILE or SWITCHBOARD_CONFIG, or point at the database with SWITCHBOARD_DATABASE=sqlite:PATH "
                        + "(`switchboard init` makes a new one)")
            }
            store = try await SQLStore.openSQLite(path: path, logger: logger)
        case .postgres(let url):
            store = try await SQLStore.openPostgres(url: url, logger: logger)
        }
        do {
            try await store.migrate()
            let directory = try config.resolvedDataDirectory()
            let (key, source) = try MasterKeyLoader.load(environmentValue: config.masterKey, dataDirectory: directory, create: create)
            var box = SecretBox(masterKey: key)
            let hasher: KeyHasher
            do {
                hasher = try await KeyHasher.load(store: store, box: box)
            } catch {
                // A rotation that stopped after re-sealing but before putting the
                // new key file in place: finish it.
                guard source != "environment", let next = try? MasterKeyLoader.read(Self.nextKeyPath(directory)),
                    let finished = try? await KeyHasher.load(store: store, box: SecretBox(masterKey: next))
                else { throw error }
                try Self.promoteNextKey(directory)
                logger.notice("finished an interrupted master key rotation")
                box = SecretBox(masterKey: next)
                hasher = finished
            }
            let keyring: SecretKeyring
            if source == "environment" {
                keyring = SecretKeyring(box)
            } else {
                // A file key can change under a running server (`secrets rotate`): follow it.
                let next = Self.nextKeyPath(directory)
                keyring = SecretKeyring(box) {
                    [source, next].compactMap { path in
                        FileManager.default.fileExists(atPath: path) ? (try? MasterKeyLoader.read(path)).flatMap { $0 } : nil
                    }.map(SecretBox.init(masterKey:))
                }
            }
            return StoreContext(store: store, box: keyring, hasher: hasher, masterKeySource: source)
        } catch {
            try? await store.close()
            throw error
        }
    }

    static func nextKeyPath(_ directory: String) -> String {
        (directory as NSString).appendingPathComponent(MasterKeyLoader.nextFileName)
    }

    /// Puts the rotated key in force: an atomic rename over the old key file.
    static func promoteNextKey(_ directory: String) throws {
        let target = (directory as NSString).appendingPathComponent(MasterKeyLoader.fileName)
        guard rename(nextKeyPath(directory), target) == 0 else {
            throw ConfigurationError("cannot replace \(target) with the rotated master key")
        }
    }
}

extension String {
    /// The path made absolute against the working directory, for messages.
    public var absolutePath: String {
        hasPrefix("/") ? self : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(self)
    }
}
