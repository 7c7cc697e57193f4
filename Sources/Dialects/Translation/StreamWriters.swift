import SwitchboardCore

/// What every translated stream needs to know about the answer it writes.
struct StreamContext: Sendable {
    /// The model name the client asked for.
    var model: String
    /// The id the gateway gives the answer (from the request id).
    var id: String
    var created: Int
    /// Whether an OpenAI Chat client asked for the usage chunk.
    var includeUsage: Bool
    /// Responses tools whose calls are custom (free-form) calls.
    var freeformTools: Set<String>
}

/// Writes OpenAI Chat Completions chunks.
struct ChatStreamWriter: Sendable {
    let context: StreamContext
    /// Every chunk's text up to its delta, the same for the whole stream.
    let chunkHead: String
    var started = false
    var stop: StopReason = .end
    /// Client tool-call index by upstream key.
    var toolIndex: [Int: Int] = [:]

    init(context: StreamContext) {
        self.context = context
        chunkHead =
            "data: " + #"{"id":"# + jsonStringLiteral("chatcmpl-" + context.id) + #","object":"chat.completion.chunk","created":"#
            + String(context.created) + #","model":"# + jsonStringLiteral(context.model) + #","choices":[{"index":0,"delta":"#
    }

    mutating func write(_ piece: StreamPiece) -> String {
        var out = start()
        switch piece {
        case .text(let text): out += chunkHead + #"{"content":"# + jsonStringLiteral(text) + #"},"logprobs":null,"finish_reason":null}]}"# + "\n\n"
        case .thinking(let text): out += chunk(.object([("reasoning_content", .string(text))]))
        case .signature: break
        case .toolCall(let key, let id, let name):
            let index = toolIndex.count
            toolIndex[key] = index
            out += chunk(
                .object([
                    (
                        "tool_calls",
                        .array([
                            .object([
                                ("index", .int(index)), ("id", .string(id)), ("type", .string("function")),
                                ("function", .object([("name", .string(name)), ("arguments", .string(""))])),
                            ])
                        ])
                    )
                ]))
        case .toolArguments(let key, let fragment):
            out += chunk(
                .object([
                    (
                        "tool_calls",
                        .array([
                            .object([
                                ("index", .int(toolIndex[key] ?? 0)), ("function", .object([("arguments", .string(fragment))])),
                            ])
                        ])
                    )
                ]))
        case .stop(let reason): stop = reason
        }
        return out
    }

    mutating func finish(usage: TokenUsage?) -> String {
        var out = start() + chunk(.object([]), finish: WriteCompletion.chatFinish(stop))
        if context.includeUsage {
            out += frame(.object(head + [("choices", .array([])), ("usage", WriteCompletion.chatUsage(usage ?? .zero))]))
        }
        return out + "data: [DONE]\n\n"
    }

    private mutating func start() -> String {
        guard !started else { return "" }
        started = true
        return chunk(.object([("role", .string("assistant")), ("content", .string(""))]))
    }

    private var head: [(String, JSON)] {
        [
            ("id", .string("chatcmpl-" + context.id)), ("object", .string("chat.completion.chunk")), ("created", .int(context.created)),
            ("model", .string(context.model)),
        ]
    }

    private func chunk(_ delta: JSON, finish: String? = nil) -> String {
        frame(
            .object(
                head + [
                    (
                        "choices",
                        .array([
                            .object([
                                ("index", .int(0)), ("delta", delta), ("logprobs", .null), ("finish_reason", finish.map(JSON.string) ?? .null),
                            ])
                        ])
                    )
                ]))
    }

    private func frame(_ json: JSON) -> String { "data: " + json.text + "\n\n" }
}

/// Writes Anthropic Messages events.
struct AnthropicStreamWriter: Sendable {
    let context: StreamContext
    var started = false
    var stop: StopReason = .end
    /// The open content block: its index and what it holds.
    var open: (index: Int, kind: Kind)?
    var nextIndex = 0
    /// The block of each tool call, for argument pieces that arrive after another call began.
    var toolBlocks: [Int: Int] = [:]

    enum Kind: Equatable {
        case text, thinking
        case tool(Int)
    }

    mutating func write(_ piece: StreamPiece) -> String {
        var out = start()
        switch piece {
        case .text(let text):
            out += openBlock(.text, .object([("type", .string("text")), ("text", .string(""))]))
            // The most frequent event, written directly.
            out +=
                "event: content_block_delta\ndata: " + #"{"type":"content_block_delta","index":"# + String(open?.index ?? 0)
                + #","delta":{"type":"text_delta","text":"# + jsonStringLiteral(text) + "}}\n\n"
        case .thinking(let text):
            out += openBlock(.thinking, .object([("type", .string("thinking")), ("thinking", .string("")), ("signature", .string(""))]))
            if !text.isEmpty { out += delta(.object([("type", .string("thinking_delta")), ("thinking", .string(text))])) }
        case .signature(let signature):
            out += openBlock(.thinking, .object([("type", .string("thinking")), ("thinking", .string("")), ("signature", .string(""))]))
            out += delta(.object([("type", .string("signature_delta")), ("signature", .string(signature))]))
        case .toolCall(let key, let id, let name):
            out += closeBlock()
            out += openBlock(
                .tool(key),
                .object([
                    ("type", .string("tool_use")), ("id", .string(id)), ("name", .string(name)), ("input", .object([])),
                ]))
            toolBlocks[key] = open?.index
        case .toolArguments(let key, let fragment):
            // Parallel calls may interleave their pieces: each goes to its own block.
            guard let index = toolBlocks[key] else { break }
            out += delta(.object([("type", .string("input_json_delta")), ("partial_json", .string(fragment))]), index: index)
        case .stop(let reason):
            stop = reason
        }
        return out
    }

    mutating func finish(usage: TokenUsage?) -> String {
        var out = start() + closeBlock()
        let (reason, sequence) = WriteCompletion.anthropicStop(stop)
        out += event(
            "message_delta",
            .object([
                ("type", .string("message_delta")),
                ("delta", .object([("stop_reason", .string(reason)), ("stop_sequence", sequence.map(JSON.string) ?? .null)])),
                ("usage", WriteCompletion.anthropicUsage(usage ?? .zero)),
            ]))
        return out + event("message_stop", .object([("type", .string("message_stop"))]))
    }

    private mutating func start() -> String {
        guard !started else { return "" }
        started = true
        // Input usage is not known yet when the upstream reports it at the end; the
        // final message_delta carries all of it.
        return event(
            "message_start",
            .object([
                ("type", .string("message_start")),
                (
                    "message",
                    .object([
                        ("id", .string("msg_" + context.id)), ("type", .string("message")), ("role", .string("assistant")),
                        ("model", .string(context.model)), ("content", .array([])), ("stop_reason", .null), ("stop_sequence", .null),
                        ("usage", WriteCompletion.anthropicUsage(.zero)),
                    ])
                ),
            ]))
    }

    private mutating func openBlock(_ kind: Kind, _ block: JSON) -> String {
        if open?.kind == kind { return "" }
        let out = closeBlock()
        open = (nextIndex, kind)
        nextIndex += 1
        return out
            + event(
                "content_block_start",
                .object([
                    ("type", .string("content_block_start")), ("index", .int(open!.index)), ("content_block", block),
                ]))
    }

    private mutating func closeBlock() -> String {
        guard let block = open else { return "" }
        open = nil
        return event("content_block_stop", .object([("type", .string("content_block_stop")), ("index", .int(block.index))]))
    }

    private func delta(_ delta: JSON, index: Int? = nil) -> String {
        event(
            "content_block_delta",
            .object([
                ("type", .string("content_block_delta")), ("index", .int(index ?? open?.index ?? 0)), ("delta", delta),
            ]))
    }

    private func event(_ name: String, _ json: JSON) -> String { "event: \(name)\ndata: " + json.text + "\n\n" }
}

/// Writes OpenAI Responses typed events, numbered, ending in `response.completed`.
/// A message or reasoning item is open at most one at a time; tool calls stay
/// open until the answer moves on, so pieces of parallel calls that interleave
/// each reach their own item.
struct ResponsesStreamWriter: Sendable {
    let context: StreamContext
    var started = false
    var stop: StopReason = .end
    var sequence = 0
    /// The next `output_index`.
    var nextIndex = 0
    /// Finished output items by index, for the final response.
    var finished: [(index: Int, item: JSON)] = []
    /// The open message or reasoning item.
    var open: OpenItem?
    /// Open tool calls, in the order they began.
    var calls: [OpenItem] = []

    struct OpenItem: Sendable {
        enum Kind: Equatable {
            case message, reasoning
            case call(key: Int)
        }
        var kind: Kind
        var id: String
        var index: Int
        var text = ""
        var callID = ""
        var name = ""
        var freeform = false
        var signature: String?
    }

    mutating func write(_ piece: StreamPiece) -> String {
        var out = start()
        switch piece {
        case .text(let text):
            out += openItem(.message, prefix: "msg")
            open?.text += text
            // The most frequent event, written directly.
            out +=
                "event: response.output_text.delta\ndata: " + #"{"type":"response.output_text.delta","sequence_number":"# + String(sequence)
                + #","item_id":"# + jsonStringLiteral(open!.id) + #","output_index":"# + String(open!.index)
                + #","content_index":0,"delta":"# + jsonStringLiteral(text) + #","logprobs":[]}"# + "\n\n"
            sequence += 1
        case .thinking(let text):
            out += openItem(.reasoning, prefix: "rs")
            open?.text += text
            if !text.isEmpty {
                out += event(
                    "response.reasoning_summary_text.delta",
                    [
                        ("item_id", .string(open!.id)), ("output_index", .int(open!.index)), ("summary_index", .int(0)), ("delta", .string(text)),
                    ])
            }
        case .signature(let signature):
            if open?.kind == .reasoning { open?.signature = signature }
        case .toolCall(let key, let id, let name):
            out += close(open)
            open = nil
            var call = OpenItem(kind: .call(key: key), id: "fc_\(context.id)_\(nextIndex)", index: nextIndex)
            nextIndex += 1
            call.callID = id
            call.name = name
            call.freeform = context.freeformTools.contains(name)
            // A custom tool's input arrives as JSON to unwrap: it is announced whole, when done.
            if !call.freeform {
                out += event(
                    "response.output_item.added",
                    [
                        ("output_index", .int(call.index)),
                        (
                            "item",
                            .object([
                                ("type", .string("function_call")), ("id", .string(call.id)), ("status", .string("in_progress")),
                                ("call_id", .string(call.callID)), ("name", .string(call.name)), ("arguments", .string("")),
                            ])
                        ),
                    ])
            }
            calls.append(call)
        case .toolArguments(let key, let fragment):
            guard let position = calls.firstIndex(where: { $0.kind == .call(key: key) }) else { break }
            calls[position].text += fragment
            let call = calls[position]
            if !call.freeform {
                out += event(
                    "response.function_call_arguments.delta",
                    [
                        ("item_id", .string(call.id)), ("output_index", .int(call.index)), ("delta", .string(fragment)),
                    ])
            }
        case .stop(let reason):
            stop = reason
        }
        return out
    }

    mutating func finish(usage: TokenUsage?) -> String {
        var out = start() + close(open) + closeCalls()
        open = nil
        let items = finished.sorted { $0.index < $1.index }.map(\.item)
        let response = WriteCompletion.responsesObject(
            items: items, stop: stop, usage: usage ?? .zero, model: context.model, id: context.id, created: context.created)
        out += event(stop == .maxTokens ? "response.incomplete" : "response.completed", [("response", response)])
        return out
    }

    private mutating func start() -> String {
        guard !started else { return "" }
        started = true
        let response = WriteCompletion.responsesObject(
            items: [], stop: nil, usage: nil, model: context.model, id: context.id, created: context.created)
        return event("response.created", [("response", response)]) + event("response.in_progress", [("response", response)])
    }

    /// Makes a message or reasoning item the open one (closing calls and the other kind).
    private mutating func openItem(_ kind: OpenItem.Kind, prefix: String) -> String {
        if open?.kind == kind { return "" }
        var out = closeCalls() + close(open)
        let item = OpenItem(kind: kind, id: "\(prefix)_\(context.id)_\(nextIndex)", index: nextIndex)
        nextIndex += 1
        open = item
        let index = JSON.int(item.index)
        if kind == .message {
            out += event(
                "response.output_item.added",
                [
                    ("output_index", index),
                    (
                        "item",
                        .object([
                            ("type", .string("message")), ("id", .string(item.id)), ("status", .string("in_progress")),
                            ("role", .string("assistant")),
                            ("content", .array([])),
                        ])
                    ),
                ])
            out += event(
                "response.content_part.added",
                [
                    ("item_id", .string(item.id)), ("output_index", index), ("content_index", .int(0)),
                    ("part", .object([("type", .string("output_text")), ("text", .string("")), ("annotations", .array([]))])),
                ])
        } else {
            out += event(
                "response.output_item.added",
                [
                    ("output_index", index),
                    (
                        "item",
                        .object([
                            ("type", .string("reasoning")), ("id", .string(item.id)), ("summary", .array([])),
                        ])
                    ),
                ])
            out += event(
                "response.reasoning_summary_part.added",
                [
                    ("item_id", .string(item.id)), ("output_index", index), ("summary_index", .int(0)),
                    ("part", .object([("type", .string("summary_text")), ("text", .string(""))])),
                ])
        }
        return out
    }

    private mutating func closeCalls() -> String {
        let out = calls.map { close($0) }.joined()
        calls = []
        return out
    }

    /// The closing events of an item, which joins the finished ones.
    private mutating func close(_ item: OpenItem?) -> String {
        guard let item else { return "" }
        let index = JSON.int(item.index)
        var out = ""
        let done: JSON
        switch item.kind {
        case .message:
            let part = JSON.object([("type", .string("output_text")), ("text", .string(item.text)), ("annotations", .array([]))])
            out += event(
                "response.output_text.done",
                [
                    ("item_id", .string(item.id)), ("output_index", index), ("content_index", .int(0)), ("text", .string(item.text)),
                    ("logprobs", .array([])),
                ])
            out += event(
                "response.content_part.done", [("item_id", .string(item.id)), ("output_index", index), ("content_index", .int(0)), ("part", part)])
            done = WriteCompletion.responsesMessage(item.text, id: item.id)
        case .reasoning:
            out += event(
                "response.reasoning_summary_text.done",
                [
                    ("item_id", .string(item.id)), ("output_index", index), ("summary_index", .int(0)), ("text", .string(item.text)),
                ])
            out += event(
                "response.reasoning_summary_part.done",
                [
                    ("item_id", .string(item.id)), ("output_index", index), ("summary_index", .int(0)),
                    ("part", .object([("type", .string("summary_text")), ("text", .string(item.text))])),
                ])
            done = WriteCompletion.responsesReasoning(item.text, id: item.id, signature: item.signature)
        case .call:
            let call = ToolCall(id: item.callID, name: item.name, arguments: item.text.isEmpty ? "{}" : item.text)
            done = WriteCompletion.responsesCall(call, id: item.id, freeform: item.freeform)
            if item.freeform {
                out += event("response.output_item.added", [("output_index", index), ("item", done)])
            } else {
                out += event(
                    "response.function_call_arguments.done",
                    [
                        ("item_id", .string(item.id)), ("output_index", index), ("arguments", .string(call.arguments)),
                    ])
            }
        }
        out += event("response.output_item.done", [("output_index", index), ("item", done)])
        finished.append((item.index, done))
        return out
    }

    private mutating func event(_ type: String, _ members: [(String, JSON)]) -> String {
        let json = JSON.object([("type", .string(type)), ("sequence_number", .int(sequence))] + members)
        sequence += 1
        return "event: \(type)\ndata: " + json.text + "\n\n"
    }
}

/// Writes Gemini stream chunks: data lines only, each a whole response chunk.
struct GeminiStreamWriter: Sendable {
    let context: StreamContext
    var stop: StopReason = .end
    /// Gemini sends whole calls: arguments are collected until the call ends.
    var calls: [(key: Int, call: ToolCall)] = []

    mutating func write(_ piece: StreamPiece) -> String {
        switch piece {
        case .text(let text): return flushCalls() + chunk([.text(text)])
        case .thinking(let text): return text.isEmpty ? "" : flushCalls() + chunk([.thinking(text: text, signature: nil)])
        case .signature: return ""
        case .toolCall(let key, let id, let name):
            calls.append((key, ToolCall(id: id, name: name, arguments: "")))
            return ""
        case .toolArguments(let key, let fragment):
            if let index = calls.lastIndex(where: { $0.key == key }) { calls[index].call.arguments += fragment }
            return ""
        case .stop(let reason):
            stop = reason
            return ""
        }
    }

    mutating func finish(usage: TokenUsage?) -> String {
        let parts = calls.map { Part.toolCall($0.call) }
        calls = []
        return frame(WriteCompletion.geminiChunk(parts: parts, stop: stop, usage: usage ?? .zero, model: context.model, id: context.id))
    }

    private mutating func flushCalls() -> String {
        guard !calls.isEmpty else { return "" }
        let parts = calls.map { Part.toolCall($0.call) }
        calls = []
        return chunk(parts)
    }

    private func chunk(_ parts: [Part]) -> String {
        frame(WriteCompletion.geminiChunk(parts: parts, stop: nil, usage: nil, model: context.model, id: context.id))
    }

    private func frame(_ json: JSON) -> String { "data: " + json.text + "\n\n" }
}
