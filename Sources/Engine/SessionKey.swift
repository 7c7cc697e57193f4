import Crypto
import Foundation

/// The key a session is kept under in the account pool: a fixed-size digest of
/// whatever named the session (a header, `prompt_cache_key`, Claude Code's
/// session id, a response id), so a client cannot fill memory with long hints
/// and the pool never holds what a client wrote.
enum SessionKey {
    /// 128 bits of SHA-256 over the hint's kind and text, as 32 hex digits.
    static func of(kind: String, _ text: some StringProtocol) -> String {
        var hasher = SHA256()
        hasher.update(data: Data(kind.utf8))
        hasher.update(data: Data([0]))
        hasher.update(data: Data(text.utf8))
        return hasher.finalize().prefix(16).map { String(format: "%02x", $0) }.joined()
    }
}
