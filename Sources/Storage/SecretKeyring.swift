import Crypto
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The master key in force, able to follow a rotation made by another process:
/// when a secret names a key other than the current one, the keyring asks its
/// source for the key again (the key file after `switchboard secrets rotate`) and
/// switches when that is the key the secret names.
public final class SecretKeyring: Sendable {
    private let current: Mutex<SecretBox>
    private let reload: @Sendable () -> [SecretBox]

    /// A keyring around a box; `reload` reads the master keys on disk again (the
    /// key in force first, then a rotation's pending key), or returns none when
    /// the key cannot change (it comes from the environment).
    public init(_ box: SecretBox, reload: @escaping @Sendable () -> [SecretBox] = { [] }) {
        current = Mutex(box)
        self.reload = reload
    }

    /// The box in force.
    public var box: SecretBox { current.withLock { $0 } }

    /// The id of the master key in force.
    public var keyID: String { box.keyID }

    /// Seals under the key in force on disk now, so a secret added after a
    /// rotation by a process that has not opened anything since is not sealed
    /// under the retired key.
    public func seal(_ plaintext: String) throws -> SealedSecret {
        if let onDisk = reload().first, onDisk.keyID != box.keyID { current.withLock { $0 = onDisk } }
        return try box.seal(plaintext)
    }

    /// Opens a secret, following a rotation when the secret names another key
    /// that the key files hold.
    public func open(_ sealed: SealedSecret) throws(SecretBox.OpenError) -> String {
        let box = self.box
        if sealed.keyID != box.keyID, let fresh = reload().first(where: { $0.keyID == sealed.keyID }) {
            current.withLock { $0 = fresh }
            return try fresh.open(sealed)
        }
        return try box.open(sealed)
    }
}
