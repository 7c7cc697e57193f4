import Foundation
import FoundationEssentials
import SwitchboardCore

/// What ties a request to a conversation, so it can stay on one account and keep
/// the upstream's prompt cache warm. Read from the body once, at inspection.
enum SessionHint {
    /// An explicit session id in the body: OpenAI's `prompt_cache_key`, or the
    /// session part of Anthropic's `metadata.user_id` (Claude Code writes
    /// `user_…_account_…_session_<uuid>`, or a JSON object with `session_id`).
    static func explicit(reader: JSONReader, root: JSONSpan, dialect: Dialect) -> String? {
        switch dialect {
        case .gemini:
            return nil
        case .openAIChat, .openAIResponses:
            return reader.member("prompt_cache_key", of: root).flatMap(reader.string).flatMap { $0.isEmpty ? nil : "pck:" + $0 }
        case .anthropicMessages:
            guard let userID = reader.value(at: ["metadata", "user_id"], in: root).flatMap(reader.string) else { return nil }
            if let range = userID.range(of: "_session_", options: .backwards) {
                let session = userID[range.upperBound...]
                return session.isEmpty ? nil : "cc:" + session
            }
            if userID.hasPrefix("{") {
                let bytes = Array(userID.utf8)
                return bytes.withUnsafeBytes { raw -> String? in
                    let inner = JSONReader(raw)
                    guard let object = try? inner.validateDocument(), object.kind == .object,
                        let session = inner.member("session_id", of: object).flatMap(inner.string), !session.isEmpty
                    else { return nil }
                    return "cc:" + session
                }
            }
            return nil
        }
    }

    /// A fingerprint of the conversation's start (system prompt and first user
    /// message, as sent), which stays the same across its turns.
    static func fingerprint(reader: JSONReader, root: JSONSpan, dialect: Dialect, bytes: UnsafeRawBufferPointer) -> String? {
        // Where each dialect keeps the turns, and its system prompt outside them.
        let (turns, system): (String, String?)
        switch dialect {
        case .openAIChat: (turns, system) = ("messages", nil)
        case .anthropicMessages: (turns, system) = ("messages", "system")
        case .openAIResponses: (turns, system) = ("input", "instructions")
        case .gemini: (turns, system) = ("contents", "systemInstruction")
        }
        var hash = FNV1a()
        var found = false
        if let system, let span = reader.member(system, of: root) {
            hash.add(bytes, span)
        }
        guard let messages = reader.member(turns, of: root) else { return nil }
        if messages.kind == .string {  // a Responses input given as one string
            hash.add(bytes, messages)
            return "fp:" + String(hash.value, radix: 16)
        }
        guard messages.kind == .array else { return nil }
        for message in reader.elements(of: messages) where message.kind == .object {
            // Gemini's single-turn contents may leave the role out: it is the user's.
            guard let role = reader.member("role", of: message).flatMap(reader.string) ?? (dialect == .gemini ? "user" : nil) else { continue }
            if dialect.isOpenAI, role == "system" || role == "developer" {
                hash.add(bytes, message)
            } else if role == "user" {
                hash.add(bytes, message)
                found = true
                break
            }
        }
        return found ? "fp:" + String(hash.value, radix: 16) : nil
    }
}

/// 64-bit FNV-1a: a stable, fast fingerprint (not a security hash; a collision
/// only puts two conversations on the same account).
struct FNV1a {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func add(_ bytes: UnsafeRawBufferPointer, _ span: JSONSpan) {
        for index in span.start..<span.end {
            value ^= UInt64(bytes[index])
            value = value &* 0x0000_0100_0000_01b3
        }
        value ^= 0xff  // separates consecutive parts
        value = value &* 0x0000_0100_0000_01b3
    }
}
