public import SwitchboardCore

/// Counts the generated text in a stream event or a whole answer, cheaply: the
/// bytes of the string values under the members each dialect carries text in
/// (`content`, `text`, `delta`, `partial_json`, tool `arguments`, …), found by
/// scanning the raw JSON without building it. An estimate for billing when the
/// upstream's own usage report never arrives, so it only has to be close:
/// an escape counts as one byte.
public enum DeliveredText {
    /// The members whose string values hold what the model wrote, per dialect.
    static func members(_ dialect: Dialect) -> [StaticString] {
        switch dialect {
        case .openAIChat: return ["content", "reasoning_content", "arguments", "refusal"]
        case .anthropicMessages: return ["text", "thinking", "partial_json"]
        case .openAIResponses: return ["delta"]
        case .gemini: return ["text"]
        }
    }

    /// Text bytes in `bytes` (one event's data, or a whole JSON answer): one
    /// pass over it, whatever the number of members.
    public static func count(_ bytes: UnsafeRawBufferPointer, dialect: Dialect) -> Int64 {
        let names = members(dialect)
        var scanner = MemberScanner(bytes)
        var total: Int64 = 0
        while let member = scanner.next() {
            guard scanner.name(of: member, isOneOf: names), let length = scanner.stringLength(member) else { continue }
            total = total.saturatingAdd(length)
        }
        return total
    }

    /// Text bytes in a string's UTF-8 (an event's data as the parser gives it).
    public static func count(_ text: String, dialect: Dialect) -> Int64 {
        var text = text
        return text.withUTF8 { count(UnsafeRawBufferPointer($0), dialect: dialect) }
    }
}
