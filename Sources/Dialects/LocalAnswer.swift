public import NIOCore
public import SwitchboardCore

/// Answers the gateway gives itself, without an upstream: today, Claude Code's
/// warmup request, which only primes a cache the client never reads.
public enum LocalAnswer {
    /// One user message whose text is exactly "Warmup" (as a string or text blocks).
    static func isWarmup(reader: JSONReader, root: JSONSpan) -> Bool {
        guard let messages = reader.member("messages", of: root), messages.kind == .array else { return false }
        let all = reader.elements(of: messages)
        guard all.count == 1, let message = all.first, message.kind == .object,
            reader.member("role", of: message).flatMap(reader.string) == "user",
            let content = reader.member("content", of: message)
        else { return false }
        switch content.kind {
        case .string:
            return reader.string(content) == "Warmup"
        case .array:
            let texts = reader.elements(of: content).compactMap { block -> String? in
                guard block.kind == .object, reader.member("type", of: block).flatMap(reader.string) == "text" else { return nil }
                return reader.member("text", of: block).flatMap(reader.string)
            }
            return texts == ["Warmup"]
        default:
            return false
        }
    }

    /// A minimal, valid Anthropic message (JSON) or message stream (SSE) with no usage.
    public static func anthropicMessage(model: String, id: String, stream: Bool) -> ByteBuffer {
        let model = jsonStringLiteral(model)
        let id = jsonStringLiteral(id)
        let usage = #"{"input_tokens":0,"output_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}"#
        guard stream else {
            return ByteBuffer(string: #"{"id":\#(id),"type":"message","role":"assistant","model":\#(model),"content":[{"type":"text","text":"OK"}],"stop_reason":"end_turn","stop_sequence":null,"usage":\#(usage)}"#)
        }
        let events = [
            ("message_start", #"{"type":"message_start","message":{"id":\#(id),"type":"message","role":"assistant","model":\#(model),"content":[],"stop_reason":null,"stop_sequence":null,"usage":\#(usage)}}"#),
            ("content_block_start", #"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#),
            ("content_block_delta", #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"OK"}}"#),
            ("content_block_stop", #"{"type":"content_block_stop","index":0}"#),
            ("message_delta", #"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":0}}"#),
            ("message_stop", #"{"type":"message_stop"}"#),
        ]
        return ByteBuffer(string: events.map { "event: \($0.0)\ndata: \($0.1)\n\n" }.joined())
    }
}
