import Admin
import Crypto
import Engine
import Logging
import Storage
import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Admin operations on keys, accounts and usage, shared by the CLI and (later)
/// the admin API so both behave the same.
public struct Admin: Sendable {
    let context: StoreContext

    /// Operations on an opened store.
    public init(context: StoreContext) { self.context = context }

    /// Key operations on this store (the admin API uses the same, with live usage).
    public var keys: KeyAdmin { KeyAdmin(store: context.store, hasher: context.hasher) }

    /// Revokes a key; false when there is no key by that name.
    public func revokeKey(name: String) async throws -> Bool {
        let before = try? await keys.get(name)
        guard try await context.store.revokeKey(name: name, at: Date()) else { return false }
        await trail.record("key.revoke", name, before: before, after: try? await keys.get(name))
        return true
    }

    /// The audit log, from the command line.
    var trail: AuditTrail { AuditTrail(store: context.store, logger: Logger(label: "switchboard")) }

    /// Ledger totals by key and model since a time.
    public func usage(since: Date?) async throws -> UsageReport { try await context.store.usageReport(since: since) }
}

extension Admin {
    /// What a master key rotation did.
    public struct Rotation: Sendable {
        /// Secrets re-sealed under the new key.
        public var resealed: Int
        /// Accounts whose secret did not open under the old key either; left as they were.
        public var unopenable: [String]
        /// Captured bodies re-sealed under the new key.
        public var capturesResealed = 0
        /// The id of the key now in force.
        public var newKeyID: String
    }

    /// Re-seals every account secret and the key hash secret under a new master
    /// key, in one transaction. With a key file, the new key is written beside
    /// it first (`master.key.next`, 0600) and renamed over it after the commit;
    /// a rotation cut short is finished by the next start or the next rotate.
    /// With `SWITCHBOARD_MASTER_KEY`, the new key must be given, and the caller
    /// must restart servers with it.
    public func rotateMasterKey(newKey given: SymmetricKey?, dataDirectory: String) async throws -> Rotation {
        let fromFile = context.masterKeySource != "environment"
        let nextPath = StoreContext.nextKeyPath(dataDirectory)
        let newKey: SymmetricKey
        if fromFile {
            if FileManager.default.fileExists(atPath: nextPath) {
                guard let pending = try MasterKeyLoader.read(nextPath) else { throw ConfigurationError("\(nextPath) holds no valid key") }
                if let given, SecretBox(masterKey: given).keyID != SecretBox(masterKey: pending).keyID {
                    throw ConfigurationError(
                        "an unfinished rotation to another key is pending in \(nextPath); run rotate without a new key to finish it")
                }
                newKey = pending
            } else {
                newKey = given ?? SymmetricKey(size: .bits256)
                try MasterKeyLoader.create(nextPath, key: newKey)
            }
        } else {
            guard let given else {
                throw ConfigurationError("the master key comes from SWITCHBOARD_MASTER_KEY: give the new one with --new-key-env")
            }
            newKey = given
        }
        let old = context.box.box
        let new = SecretBox(masterKey: newKey)
        var sealed: [Int64: SealedSecret] = [:]
        var proxies: [Int64: SealedSecret] = [:]
        var unopenable: [String] = []
        for record in try await context.store.listAccounts() {
            do {
                if record.secret.keyID != new.keyID { sealed[record.id] = try new.seal(try old.open(record.secret)) }
                if let proxy = record.proxySecret, proxy.keyID != new.keyID { proxies[record.id] = try new.seal(try old.open(proxy)) }
            } catch {
                unopenable.append(record.name)
            }
        }
        let hashSecret = try await KeyHasher.resealed(store: context.store, from: old, to: new)
        try await context.store.replaceSecrets(sealed, proxySecrets: proxies, settings: [hashSecret.name: hashSecret.value])
        if fromFile { try StoreContext.promoteNextKey(dataDirectory) }
        // A secret another process added under the old key while this ran: seal it again too.
        var late: [Int64: SealedSecret] = [:]
        var lateProxies: [Int64: SealedSecret] = [:]
        for record in try await context.store.listAccounts() {
            if record.secret.keyID == old.keyID, let plain = try? old.open(record.secret) { late[record.id] = try new.seal(plain) }
            if let proxy = record.proxySecret, proxy.keyID == old.keyID, let plain = try? old.open(proxy) {
                lateProxies[record.id] = try new.seal(plain)
            }
        }
        if !late.isEmpty || !lateProxies.isEmpty { try await context.store.replaceSecrets(late, proxySecrets: lateProxies, settings: [:]) }
        // Captured bodies too, a batch at a time (there may be many); one that does not open stays as it was.
        var captures = 0
        var after = ""
        while true {
            let batch = try await context.store.captures(sealedWith: old.keyID, after: after, limit: 500)
            guard let last = batch.last else { break }
            var resealed: [String: SealedSecret] = [:]
            for (id, secret) in batch { if let plain = try? old.open(secret) { resealed[id] = try new.seal(plain) } }
            try await context.store.replaceCaptures(resealed)
            captures += resealed.count
            after = last.requestID
        }
        await trail.record(
            "master_key.rotate", "master_key", before: ["key_id": old.keyID],
            after: ["key_id": new.keyID, "resealed": String(sealed.count + late.count)])
        return Rotation(resealed: sealed.count + late.count, unopenable: unopenable, capturesResealed: captures, newKeyID: new.keyID)
    }
}
