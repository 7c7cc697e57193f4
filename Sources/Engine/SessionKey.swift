import Crypto
import SwitchboardCore

/// The key a session is kept under in the account pool: a fixed-size digest of
/// whatever named the session (a header, `prompt_cache_key`, Claude Code's
/// session id, a response id), so a client cannot fill memory with long hints
/// and the pool never holds what a client wrote. Computed for most requests,
/// so without Foundation (its formatting cost more than the hash).
enum SessionKey {
    /// 128 bits of SHA-256 over the hint's kind and text, as 32 hex digits.
    static func of(kind: String, _ text: some StringProtocol) -> String {
        var text = String(text)
        return text.withUTF8 { of(kind: kind, bytes: UnsafeRawBufferPointer($0)) }
    }

    /// The same over bytes (a prompt's start). Called for most requests: it
    /// hashes in place, with no arrays made along the way.
    static func of(kind: String, bytes: UnsafeRawBufferPointer) -> String {
        var hasher = SHA256()
        var kind = kind
        kind.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        withUnsafeBytes(of: UInt8(0)) { hasher.update(bufferPointer: $0) }
        hasher.update(bufferPointer: bytes)
        return hasher.finalize().withUnsafeBytes { Hex.encode(UnsafeRawBufferPointer(rebasing: $0.prefix(16))) }
    }
}
