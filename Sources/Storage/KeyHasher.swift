import Crypto
import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Hashes downstream keys with HMAC-SHA256 under a server secret, so a stolen
/// database does not allow keys to be checked offline without that secret.
///
/// The hash secret is random and stored sealed under the master key in
/// settings, so a master key rotation re-seals it instead of invalidating keys.
public struct KeyHasher: Sendable {
    /// The HMAC with the secret already absorbed: each request's hash copies it
    /// instead of hashing the padded secret again (two of its four SHA-256 blocks).
    private let keyed: HMAC<SHA256>

    /// A hasher with the given secret.
    public init(secret: SymmetricKey) { self.keyed = HMAC<SHA256>(key: secret) }

    /// The hex hash of a key.
    public func hash(_ key: String) -> String {
        var mac = keyed
        var key = key
        key.withUTF8 { mac.update(data: UnsafeRawBufferPointer($0)) }
        return mac.finalize().withUnsafeBytes(Hex.encode)
    }

    /// The setting that holds the sealed hash secret.
    static let settingName = "key_hash_secret"

    /// Loads the hash secret from the store, creating it on first use.
    public static func load(store: any GatewayStore, box: SecretBox) async throws -> KeyHasher {
        let fresh = try box.seal(SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() })
        let stored = try await store.initializeSetting(settingName, to: encode(fresh))
        guard let sealed = decode(stored) else {
            throw SecretBox.OpenError(description: "the stored key hash secret is damaged")
        }
        let text: String
        do {
            text = try box.open(sealed)
        } catch {
            // Without this secret no client key can be checked: refuse to start,
            // and say how to recover.
            throw SecretBox.OpenError(
                description:
                    "the key hash secret in the database does not open with this master key (\(box.keyID)); it was sealed with \(sealed.keyID). Start with the master key this database was created with (SWITCHBOARD_MASTER_KEY or master.key in the data directory)"
            )
        }
        guard let data = Data(base64Encoded: text) else {
            throw SecretBox.OpenError(description: "the stored key hash secret is damaged")
        }
        return KeyHasher(secret: SymmetricKey(data: data))
    }

    /// The hash secret re-sealed under a new master key, as the setting to store
    /// (the secret itself, and so every key's hash, stays the same).
    public static func resealed(store: any GatewayStore, from old: SecretBox, to new: SecretBox) async throws -> (name: String, value: String) {
        guard let stored = try await store.setting(settingName), let sealed = decode(stored) else {
            throw SecretBox.OpenError(description: "the stored key hash secret is missing or damaged")
        }
        let plaintext = sealed.keyID == new.keyID ? try new.open(sealed) : try old.open(sealed)
        return (settingName, encode(try new.seal(plaintext)))
    }

    static func encode(_ sealed: SealedSecret) -> String { sealed.keyID + ":" + sealed.combined.base64EncodedString() }

    static func decode(_ text: String) -> SealedSecret? {
        let parts = text.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, let data = Data(base64Encoded: String(parts[1])) else { return nil }
        return SealedSecret(keyID: String(parts[0]), combined: data)
    }
}

/// Makes new downstream keys: a recognisable prefix and 32 random bytes.
public enum KeyGenerator {
    /// Every generated key starts with this.
    public static let prefix = "sk-sb-"

    private static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// A new key: the prefix and 32 random bytes in base62 (43 characters).
    public static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        // Base62 by repeated division of the 256-bit number.
        var digits: [UInt8] = []
        while bytes.contains(where: { $0 != 0 }) || digits.count < 43 {
            var remainder = 0
            for index in bytes.indices {
                let value = remainder * 256 + Int(bytes[index])
                bytes[index] = UInt8(value / 62)
                remainder = value % 62
            }
            digits.append(alphabet[remainder])
        }
        return prefix + String(decoding: digits.reversed(), as: UTF8.self)
    }

    /// The shortest key accepted from the config file, the CLI or the admin API.
    public static let minimumLength = 20

    /// The display prefix of a key: the generated prefix when it has it, else
    /// nothing (an imported key shows none of its own start).
    public static func displayPrefix(of key: String) -> String {
        key.hasPrefix(prefix) ? prefix : ""
    }

    /// The last four characters.
    public static func lastFour(of key: String) -> String { String(key.suffix(4)) }

    /// How a key is shown in lists: the fixed prefix and its last four characters
    /// (rows stored by earlier builds may hold more of an imported key's start:
    /// only the fixed prefix is ever shown).
    public static func display(prefix stored: String, lastFour: String) -> String {
        (stored == prefix ? prefix : "") + "…" + lastFour
    }
}
