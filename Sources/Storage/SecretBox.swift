import Crypto
import Foundation
import SwitchboardCore

/// Seals and opens upstream secrets with AES-256-GCM under the master key.
///
/// Each sealed secret carries the id of the key that sealed it, so a secret
/// sealed under another key is reported as such instead of failing obscurely.
public struct SecretBox: Sendable {
    private let key: SymmetricKey
    /// The id of the master key: a hash of it, never the key.
    public let keyID: String

    /// Why a secret could not be opened. The text never contains the secret.
    public struct OpenError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// Associated data binds sealed values to their purpose.
    private static let associatedData = Data("switchboard-secret-v1".utf8)

    /// A box around a 32-byte master key.
    public init(masterKey: SymmetricKey) {
        self.key = masterKey
        let digest = SHA256.hash(data: Data("switchboard-key-id".utf8) + masterKey.withUnsafeBytes { Data($0) })
        self.keyID = Hex.encode(digest.prefix(8))
    }

    /// Seals a secret.
    public func seal(_ plaintext: String) throws -> SealedSecret {
        let box = try AES.GCM.seal(Data(plaintext.utf8), using: key, authenticating: Self.associatedData)
        guard let combined = box.combined else { throw OpenError(description: "sealing produced no output") }
        return SealedSecret(keyID: keyID, combined: combined)
    }

    /// Opens a sealed secret.
    public func open(_ sealed: SealedSecret) throws(OpenError) -> String {
        guard sealed.keyID == keyID else {
            throw OpenError(description: "the secret was sealed with master key \(sealed.keyID), not the current key \(keyID)")
        }
        do {
            let box = try AES.GCM.SealedBox(combined: sealed.combined)
            let plain = try AES.GCM.open(box, using: key, authenticating: Self.associatedData)
            return String(decoding: plain, as: UTF8.self)
        } catch {
            throw OpenError(description: "the secret does not decrypt under the current master key (damaged or altered)")
        }
    }
}

/// Finds the master key: `SWITCHBOARD_MASTER_KEY`, else a key file in the data
/// directory, created with mode 0600 on first use.
public enum MasterKeyLoader {
    /// Why no master key could be had.
    public struct LoadError: Error, CustomStringConvertible {
        public var description: String
    }

    /// The file name inside the data directory.
    public static let fileName = "master.key"

    /// Loads or creates the master key.
    /// - Returns: the key and where it came from (`environment` or the file path).
    /// With `create` false a missing key file is an error naming it (only
    /// `serve` and `init` make one).
    public static func load(environmentValue: String?, dataDirectory: String, create: Bool = true) throws -> (SymmetricKey, String) {
        if let value = environmentValue, !value.isEmpty {
            guard let key = parse(value) else {
                throw LoadError(
                    description:
                        "SWITCHBOARD_MASTER_KEY must be 32 bytes written as base64 (44 characters) or hex (64 characters); generate one with `openssl rand -base64 32`"
                )
            }
            return (key, "environment")
        }
        let path = (dataDirectory as NSString).appendingPathComponent(fileName)
        if FileManager.default.fileExists(atPath: path) {
            guard let key = try read(path) else { throw LoadError(description: "the master key file \(path) is not a 32-byte base64 or hex key") }
            return (key, path)
        }
        guard create else {
            throw LoadError(
                description:
                    "there is no master key at \(path) and SWITCHBOARD_MASTER_KEY is not set: give this command the gateway's master key (its file in the data directory, or the variable)"
            )
        }
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let key = SymmetricKey(size: .bits256)
        try Self.create(path, key: key)
        return (key, path)
    }

    /// The file a rotation writes the new key to before it is in force.
    public static let nextFileName = "master.key.next"

    /// Reads a key file; nil when it holds no valid key.
    public static func read(_ path: String) throws -> SymmetricKey? {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LoadError(description: "cannot read the master key file \(path)")
        }
        return parse(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Writes a new key file, mode 0600 from the start (never world-readable,
    /// not even briefly), flushed to disk; fails if the file exists.
    public static func create(_ path: String, key: SymmetricKey) throws {
        let text = key.withUnsafeBytes { Data($0).base64EncodedString() } + "\n"
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw LoadError(description: "cannot create the master key file \(path)") }
        defer { close(fd) }
        let written = text.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
        guard written == text.utf8.count, fsync(fd) == 0 else { throw LoadError(description: "cannot write the master key file \(path)") }
    }

    /// Reads 32 bytes from base64 or hex text.
    public static func parse(_ text: String) -> SymmetricKey? {
        if let data = Data(base64Encoded: text), data.count == 32 { return SymmetricKey(data: data) }
        let utf8 = Array(text.utf8)
        guard utf8.count == 64 else { return nil }
        var bytes: [UInt8] = []
        var index = 0
        while index < 64 {
            guard let byte = UInt8(String(decoding: utf8[index..<(index + 2)], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
            index += 2
        }
        return SymmetricKey(data: bytes)
    }
}
