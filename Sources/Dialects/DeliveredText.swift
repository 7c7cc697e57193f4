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

    /// Text bytes in `bytes` (one event's data, or a whole JSON answer).
    public static func count(_ bytes: UnsafeRawBufferPointer, dialect: Dialect) -> Int64 {
        var total: Int64 = 0
        for name in members(dialect) { total = total.saturatingAdd(count(bytes, member: name)) }
        return total
    }

    /// Text bytes in a string's UTF-8 (an event's data as the parser gives it).
    public static func count(_ text: String, dialect: Dialect) -> Int64 {
        var text = text
        return text.withUTF8 { count(UnsafeRawBufferPointer($0), dialect: dialect) }
    }

    /// Bytes of every string value that follows `"name":`.
    static func count(_ bytes: UnsafeRawBufferPointer, member name: StaticString) -> Int64 {
        let key = UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        var total: Int64 = 0
        var index = 0
        let end = bytes.count
        while index + key.count + 2 < end {
            guard bytes[index] == UInt8(ascii: "\""), bytes[index + key.count + 1] == UInt8(ascii: "\""),
                matches(bytes, at: index + 1, key)
            else {
                index += 1
                continue
            }
            var next = skipSpace(bytes, index + key.count + 2)
            guard next < end, bytes[next] == UInt8(ascii: ":") else {
                index += 1
                continue
            }
            next = skipSpace(bytes, next + 1)
            guard next < end, bytes[next] == UInt8(ascii: "\"") else {
                index = next
                continue
            }
            // The string value: count bytes to the closing quote, an escape as one.
            next += 1
            var length: Int64 = 0
            while next < end, bytes[next] != UInt8(ascii: "\"") {
                if bytes[next] == UInt8(ascii: "\\") {
                    next += bytes.count > next + 1 && bytes[next + 1] == UInt8(ascii: "u") ? 6 : 2
                } else {
                    next += 1
                }
                length += 1
            }
            total = total.saturatingAdd(length)
            index = next + 1
        }
        return total
    }

    private static func matches(_ bytes: UnsafeRawBufferPointer, at start: Int, _ key: UnsafeRawBufferPointer) -> Bool {
        for offset in 0..<key.count where bytes[start + offset] != key[offset] { return false }
        return true
    }

    private static func skipSpace(_ bytes: UnsafeRawBufferPointer, _ start: Int) -> Int {
        var index = start
        while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x09 || bytes[index] == 0x0A || bytes[index] == 0x0D { index += 1 }
        return index
    }
}
