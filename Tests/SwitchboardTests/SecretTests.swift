import Crypto
import Foundation
import Storage
import Testing

@Suite struct SecretTests {
    @Test func sealedSecretsOpenOnlyUnderTheirKey() throws {
        let box = SecretBox(masterKey: SymmetricKey(size: .bits256))
        let sealed = try box.seal("sk-upstream-secret")
        #expect(!String(decoding: sealed.combined, as: UTF8.self).contains("sk-upstream"))
        #expect(try box.open(sealed) == "sk-upstream-secret")
        let other = SecretBox(masterKey: SymmetricKey(size: .bits256))
        #expect(throws: SecretBox.OpenError.self) { _ = try other.open(sealed) }
        var tampered = sealed
        tampered.combined[tampered.combined.count - 1] ^= 1
        #expect(throws: SecretBox.OpenError.self) { _ = try box.open(tampered) }
    }

    @Test func errorsNeverContainTheSecret() throws {
        let box = SecretBox(masterKey: SymmetricKey(size: .bits256))
        let sealed = try box.seal("sk-very-secret")
        do {
            _ = try SecretBox(masterKey: SymmetricKey(size: .bits256)).open(sealed)
        } catch {
            #expect(!error.description.contains("sk-very-secret"))
        }
    }

    @Test func theKeyFileIsCreatedPrivateAndReused() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (first, source) = try MasterKeyLoader.load(environmentValue: nil, dataDirectory: directory)
        #expect(source.hasSuffix("master.key"))
        let attributes = try FileManager.default.attributesOfItem(atPath: source)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let (second, _) = try MasterKeyLoader.load(environmentValue: nil, dataDirectory: directory)
        #expect(SecretBox(masterKey: first).keyID == SecretBox(masterKey: second).keyID)
    }

    @Test func theEnvironmentKeyWinsAndMustBe32Bytes() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let base64 = Data(repeating: 7, count: 32).base64EncodedString()
        let (key, source) = try MasterKeyLoader.load(environmentValue: base64, dataDirectory: directory)
        #expect(source == "environment")
        #expect(!FileManager.default.fileExists(atPath: directory + "/master.key"))
        let hex = String(repeating: "07", count: 32)
        let (fromHex, _) = try MasterKeyLoader.load(environmentValue: hex, dataDirectory: directory)
        #expect(SecretBox(masterKey: key).keyID == SecretBox(masterKey: fromHex).keyID)
        #expect(throws: MasterKeyLoader.LoadError.self) { _ = try MasterKeyLoader.load(environmentValue: "short", dataDirectory: directory) }
    }

    @Test func generatedKeysAreLongRandomAndRecognisable() {
        let keys = (0..<200).map { _ in KeyGenerator.make() }
        #expect(Set(keys).count == 200)
        for key in keys {
            #expect(key.hasPrefix("sk-sb-"))
            #expect(key.count == 6 + 43)  // 32 random bytes need 43 base62 digits
            #expect(key.dropFirst(6).allSatisfy { $0.isLetter || $0.isNumber })
        }
    }

    @Test func hashesAreKeyedAndStable() {
        let a = KeyHasher(secret: SymmetricKey(size: .bits256))
        let b = KeyHasher(secret: SymmetricKey(size: .bits256))
        #expect(a.hash("sk-sb-x") == a.hash("sk-sb-x"))
        #expect(a.hash("sk-sb-x") != b.hash("sk-sb-x"))
        #expect(a.hash("sk-sb-x").count == 64)
    }

    /// Hashes stored by earlier versions must still match: the prepared HMAC gives
    /// RFC 4231's answer (test case 2), every time it is used.
    @Test func hashIsPlainHMACSHA256() {
        let hasher = KeyHasher(secret: SymmetricKey(data: Array("Jefe".utf8)))
        let expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        #expect(hasher.hash("what do ya want for nothing?") == expected)
        #expect(hasher.hash("what do ya want for nothing?") == expected)
        #expect(hasher.hash("") != expected)
    }
}
