import Crypto

/// The key a session is kept under in the account pool: a fixed-size digest of
/// whatever named the session (a header, `prompt_cache_key`, Claude Code's
/// session id, a response id), so a client cannot fill memory with long hints
/// and the pool never holds what a client wrote. Computed for most requests,
/// so without Foundation (its formatting cost more than the hash).
enum SessionKey {
    private static let hex = Array("0123456789abcdef".utf8)

    /// 128 bits of SHA-256 over the hint's kind and text, as 32 hex digits.
    static func of(kind: String, _ text: some StringProtocol) -> String {
        Array(text.utf8).withUnsafeBytes { of(kind: kind, bytes: $0) }
    }

    /// The same over bytes (a prompt's start).
    static func of(kind: String, bytes: UnsafeRawBufferPointer) -> String {
        var hasher = SHA256()
        hasher.update(data: Array(kind.utf8))
        hasher.update(data: [0])
        hasher.update(bufferPointer: bytes)
        let digest = hasher.finalize()
        return String(unsafeUninitializedCapacity: 32) { output in
            for (index, byte) in digest.prefix(16).enumerated() {
                output[2 * index] = hex[Int(byte >> 4)]
                output[2 * index + 1] = hex[Int(byte & 0xF)]
            }
            return 32
        }
    }
}
