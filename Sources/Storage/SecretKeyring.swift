import Crypto
import Foundation
import Synchronization

/// The master key in force, able to follow a rotation made by another process:
/// when a secret names a key other than the current one, the keyring asks its
/// source for the key again (the key file after `switchboard secrets rotate`) and
/// switches when that is the key the secret names.
public final class SecretKeyring: Sendable {
    private let current: Mutex<SecretBox>
    private let reload: @Sendable () -> SecretBox?

    /// A keyring around a box; `reload` reads the master key again, or returns nil
    /// when it cannot change (a key from the environment).
    public init(_ box: SecretBox, reload: @escaping @Sendable () -> SecretBox? = { nil }) {
        current = Mutex(box)
        self.reload = reload
    }

    /// The box in force.
    public var box: SecretBox { current.withLock { $0 } }

    /// The id of the master key in force.
    public var keyID: String { box.keyID }

    /// Seals under the key in force.
    public func seal(_ plaintext: String) throws -> SealedSecret { try box.seal(plaintext) }

    /// Opens a secret, following a rotation when the secret names a newer key.
    public func open(_ sealed: SealedSecret) throws(SecretBox.OpenError) -> String {
        let box = self.box
        if sealed.keyID != box.keyID, let fresh = reload(), fresh.keyID == sealed.keyID {
            current.withLock { $0 = fresh }
            return try fresh.open(sealed)
        }
        return try box.open(sealed)
    }
}
