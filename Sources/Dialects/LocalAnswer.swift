public import NIOCore
public import SwitchboardCore

/// Answers the gateway gives itself, without an upstream: Claude Code's warmup
/// request, which only primes a cache the client never reads, and its
/// background title and topic requests, which only label the session.
public enum LocalAnswer {
    /// The background requests an account may answer locally.
    public enum Kind: String, Sendable {
        /// One user message saying "Warmup".
        case warmup
        /// "Please write a 5-10 word title for the following conversation".
        case title
        /// "Analyze if this message indicates a new conversation topic" (JSON with `isNewTopic`).
        case topic

        /// The answer's text: the least that is still a valid answer.
        var text: String {
            switch self {
            case .warmup: return "OK"
            case .title: return "New conversation"
            case .topic: return #"{"isNewTopic": false, "title": null}"#
            }
        }

        /// The ledger outcome of a request answered this way.
        public var outcome: Outcome { self == .warmup ? .warmupIntercepted : .titleIntercepted }
    }

    /// Which background request this is, if it is one. Claude Code puts these
    /// instructions in the system prompt or at the start of the first user message.
    static func kind(reader: JSONReader, root: JSONSpan) -> Kind? {
        if isWarmup(reader: reader, root: root) { return .warmup }
        var text = reader.member("system", of: root).map { texts(reader, $0) } ?? ""
        if let messages = reader.member("messages", of: root), let first = reader.elements(of: messages).first,
            reader.member("role", of: first).flatMap(reader.string) == "user", let content = reader.member("content", of: first)
        {
            // Only the start of the message: the instruction leads, the conversation follows.
            text += "\n" + texts(reader, content).prefix(500)
        }
        // Byte searches: the system prompt of every Claude Code request passes here, often tens of kilobytes.
        if text.holdsBytes("'isNewTopic'") && text.holdsBytes("new conversation topic") { return .topic }
        if text.holdsBytes("write a 5-10 word title for the following conversation") { return .title }
        return nil
    }

    /// The text of a string or of text blocks.
    private static func texts(_ reader: JSONReader, _ span: JSONSpan) -> String {
        switch span.kind {
        case .string: return reader.string(span) ?? ""
        case .array: return reader.elements(of: span).compactMap { reader.member("text", of: $0).flatMap(reader.string) }.joined(separator: "\n")
        default: return ""
        }
    }

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
    public static func anthropicMessage(_ kind: Kind, model: String, id: String, stream: Bool) -> ByteBuffer {
        let model = jsonStringLiteral(model)
        let id = jsonStringLiteral(id)
        let text = jsonStringLiteral(kind.text)
        let usage = #"{"input_tokens":0,"output_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}"#
        guard stream else {
            return ByteBuffer(
                string:
                    #"{"id":\#(id),"type":"message","role":"assistant","model":\#(model),"content":[{"type":"text","text":\#(text)}],"stop_reason":"end_turn","stop_sequence":null,"usage":\#(usage)}"#
            )
        }
        let events = [
            (
                "message_start",
                #"{"type":"message_start","message":{"id":\#(id),"type":"message","role":"assistant","model":\#(model),"content":[],"stop_reason":null,"stop_sequence":null,"usage":\#(usage)}}"#
            ),
            ("content_block_start", #"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#),
            ("content_block_delta", #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":\#(text)}}"#),
            ("content_block_stop", #"{"type":"content_block_stop","index":0}"#),
            ("message_delta", #"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":0}}"#),
            ("message_stop", #"{"type":"message_stop"}"#),
        ]
        return ByteBuffer(string: events.map { "event: \($0.0)\ndata: \($0.1)\n\n" }.joined())
    }
}
