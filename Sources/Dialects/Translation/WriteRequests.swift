import Foundation
import SwitchboardCore

/// Writes a conversation as each provider's request body.
enum WriteRequest {
    // MARK: OpenAI Chat Completions

    static func openAIChat(_ conversation: Conversation) throws(GatewayError) -> JSON {
        var messages: [JSON] = []
        if !conversation.system.isEmpty {
            messages.append(.object([("role", .string("system")), ("content", .string(conversation.system.joined(separator: "\n\n")))]))
        }
        for turn in conversation.turns {
            switch turn.role {
            case .assistant:
                // Chat Completions takes no reasoning history; images and results have no place here.
                for part in turn.parts {
                    if case .image = part { throw TranslationError.value("An image in an assistant turn", param: "messages") }
                    if case .toolResult = part { throw TranslationError.invalid("A tool result in an assistant turn.", param: "messages") }
                }
                messages.append(WriteCompletion.chatAssistant(turn.parts, answer: false))
            case .user:
                // Tool results are messages of their own and must follow the call; tool
                // messages take only text, so a result's images follow in the user message.
                var rest: [Part] = []
                var images: [Part] = []
                for part in turn.parts {
                    guard case .toolResult(let result) = part else {
                        rest.append(part)
                        continue
                    }
                    var texts: [String] = []
                    var returned: [Part] = []
                    for piece in result.content {
                        if case .text(let text) = piece { texts.append(text) }
                        if case .image = piece { returned.append(piece) }
                    }
                    if !returned.isEmpty { images += [.text("[images returned by tool call \(result.callID)]")] + returned }
                    messages.append(
                        .object([
                            ("role", .string("tool")), ("tool_call_id", .string(result.callID)),
                            ("content", .string((result.isError ? "Error: " : "") + texts.joined(separator: "\n"))),
                        ]))
                }
                rest = images + rest
                guard !rest.isEmpty else { continue }
                messages.append(.object([("role", .string("user")), ("content", try chatContent(rest))]))
            }
        }
        var body: [(String, JSON?)] = [("model", .string(conversation.model)), ("messages", .array(messages))]
        if !conversation.tools.isEmpty {
            body.append(
                (
                    "tools",
                    .array(
                        conversation.tools.map { tool in
                            .object([
                                ("type", .string("function")),
                                (
                                    "function",
                                    object([
                                        ("name", .string(tool.name)), ("description", tool.description.map(JSON.string)),
                                        ("parameters", tool.parameters),
                                    ])
                                ),
                            ])
                        })
                ))
        }
        switch conversation.toolChoice {
        case .auto?: body.append(("tool_choice", .string("auto")))
        case .none?: body.append(("tool_choice", .string("none")))
        case .required?: body.append(("tool_choice", .string("required")))
        case .tool(let name)?:
            body.append(("tool_choice", .object([("type", .string("function")), ("function", .object([("name", .string(name))]))])))
        case nil: break
        }
        if !conversation.tools.isEmpty { body.append(("parallel_tool_calls", conversation.parallelToolCalls.map(JSON.bool))) }
        body.append(("max_completion_tokens", conversation.maxTokens.map(JSON.int)))
        body.append(("temperature", conversation.temperature))
        body.append(("top_p", conversation.topP))
        if conversation.topK != nil { throw TranslationError.value("top_k", param: "top_k") }
        if !conversation.stop.isEmpty { body.append(("stop", .array(conversation.stop.map(JSON.string)))) }
        body.append(("reasoning_effort", conversation.reasoning?.effort.map(JSON.string)))
        body.append(("user", conversation.user.map(JSON.string)))
        switch conversation.responseFormat {
        case .anyJSON?:
            body.append(("response_format", .object([("type", .string("json_object"))])))
        case .schema(let schema, let name, let strict)?:
            body.append(
                (
                    "response_format",
                    .object([
                        ("type", .string("json_schema")),
                        (
                            "json_schema",
                            object([
                                ("name", .string(openAISchemaName(name))), ("schema", schema), ("strict", strict.map(JSON.bool)),
                            ])
                        ),
                    ])
                ))
        case nil:
            break
        }
        if conversation.stream {
            body.append(("stream", .bool(true)))
            body.append(("stream_options", .object([("include_usage", .bool(true))])))
        }
        return object(body)
    }

    /// A schema name as OpenAI takes it (`^[a-zA-Z0-9_-]{1,64}$`).
    static func openAISchemaName(_ name: String?) -> String {
        let cleaned = String(
            (name ?? "").unicodeScalars.map { scalar -> Character in
                scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || scalar == "_" || scalar == "-") ? Character(scalar) : "_"
            }.prefix(64))
        return cleaned.isEmpty ? "response" : cleaned
    }

    static func chatContent(_ parts: [Part]) throws(GatewayError) -> JSON {
        if parts.count == 1, case .text(let text) = parts[0] { return .string(text) }
        return .array(
            try parts.map { part throws(GatewayError) -> JSON in
                switch part {
                case .text(let text): return .object([("type", .string("text")), ("text", .string(text))])
                case .image(let image): return .object([("type", .string("image_url")), ("image_url", .object([("url", .string(image.urlText))]))])
                default: throw TranslationError.invalid("A tool call in a user turn.", param: "messages")
                }
            })
    }

    // MARK: Anthropic Messages

    /// The output cap sent when the client set none: Anthropic requires one.
    public static let anthropicDefaultMaxTokens = 8_192

    /// The thinking budget an Anthropic request carries, if it thinks: at least
    /// Anthropic's minimum, and never when the tool loop lacks signed thinking.
    static func anthropicThinkingBudget(_ conversation: Conversation) -> Int? {
        // Anthropic continues a tool loop with thinking only after its own signed
        // thinking; reasoning another provider did cannot be replayed, so that turn goes without.
        guard let budget = conversation.reasoning?.budget, budget > 0, !conversation.lastToolTurnLacksSignedThinking else { return nil }
        return max(1_024, budget)
    }

    /// The `max_tokens` an Anthropic request carries: the client's cap, or the
    /// default, raised past a thinking budget (which counts inside it).
    static func anthropicMaxTokens(_ conversation: Conversation) -> Int {
        let cap = conversation.maxTokens ?? anthropicDefaultMaxTokens
        guard let budget = anthropicThinkingBudget(conversation), cap <= budget else { return cap }
        return budget + cap
    }

    static func anthropic(_ conversation: Conversation) throws(GatewayError) -> JSON {
        var messages: [JSON] = []
        for turn in conversation.turns {
            var blocks: [JSON] = []
            // Tool results lead a user turn, as Anthropic requires.
            let ordered =
                turn.parts.filter { if case .toolResult = $0 { return true } else { return false } }
                + turn.parts.filter { if case .toolResult = $0 { return false } else { return true } }
            for part in ordered {
                switch part {
                case .text(let text):
                    if !text.isEmpty { blocks.append(.object([("type", .string("text")), ("text", .string(text))])) }
                case .image(let image):
                    blocks.append(anthropicImage(image))
                case .toolCall(let call):
                    blocks.append(
                        .object([
                            ("type", .string("tool_use")), ("id", .string(call.id)), ("name", .string(call.name)),
                            ("input", try arguments(call)),
                        ]))
                case .toolResult(let result):
                    let content: [JSON] = result.content.map { part in
                        switch part {
                        case .image(let image): return anthropicImage(image)
                        case .text(let text): return .object([("type", .string("text")), ("text", .string(text))])
                        default: return .object([("type", .string("text")), ("text", .string(""))])
                        }
                    }
                    blocks.append(
                        object([
                            ("type", .string("tool_result")), ("tool_use_id", .string(result.callID)), ("content", .array(content)),
                            ("is_error", result.isError ? .bool(true) : nil),
                        ]))
                case .thinking(let text, let signature):
                    // Anthropic checks signatures: reasoning from elsewhere cannot be replayed.
                    if let signature {
                        blocks.append(.object([("type", .string("thinking")), ("thinking", .string(text)), ("signature", .string(signature))]))
                    }
                }
            }
            guard !blocks.isEmpty else { continue }
            messages.append(.object([("role", .string(turn.role.rawValue)), ("content", .array(blocks))]))
        }
        let maxTokens = anthropicMaxTokens(conversation)
        var body: [(String, JSON?)] = [("model", .string(conversation.model))]
        if !conversation.system.isEmpty {
            body.append(("system", .array(conversation.system.map { .object([("type", .string("text")), ("text", .string($0))]) })))
        }
        body.append(("messages", .array(messages)))
        if !conversation.tools.isEmpty {
            body.append(
                (
                    "tools",
                    .array(
                        conversation.tools.map { tool in
                            object([
                                ("name", .string(tool.name)), ("description", tool.description.map(JSON.string)), ("input_schema", tool.parameters),
                            ])
                        })
                ))
        }
        let disableParallel: JSON? = conversation.parallelToolCalls == false ? .bool(true) : nil
        switch conversation.toolChoice {
        case .auto?: body.append(("tool_choice", object([("type", .string("auto")), ("disable_parallel_tool_use", disableParallel)])))
        case .none?: body.append(("tool_choice", .object([("type", .string("none"))])))
        case .required?: body.append(("tool_choice", object([("type", .string("any")), ("disable_parallel_tool_use", disableParallel)])))
        case .tool(let name)?:
            body.append(
                ("tool_choice", object([("type", .string("tool")), ("name", .string(name)), ("disable_parallel_tool_use", disableParallel)])))
        case nil:
            if disableParallel != nil, !conversation.tools.isEmpty {
                body.append(("tool_choice", object([("type", .string("auto")), ("disable_parallel_tool_use", disableParallel)])))
            }
        }
        var thinking = false
        if let budget = anthropicThinkingBudget(conversation) {
            body.append(("thinking", .object([("type", .string("enabled")), ("budget_tokens", .int(budget))])))
            thinking = true
        }
        body.insert(("max_tokens", .int(maxTokens)), at: 1)
        if let temperature = conversation.temperature, let value = Double(temperature.numberText ?? ""), value > 1 {
            throw TranslationError.value("A temperature above 1", param: "temperature")
        }
        // With thinking on Anthropic takes no sampling settings, and its newer models
        // take temperature or top_p, not both: temperature wins.
        if !thinking {
            body.append(("temperature", conversation.temperature))
            body.append(("top_p", conversation.temperature == nil ? conversation.topP : nil))
            body.append(("top_k", conversation.topK))
        }
        if !conversation.stop.isEmpty { body.append(("stop_sequences", .array(conversation.stop.map(JSON.string)))) }
        if let user = conversation.user { body.append(("metadata", .object([("user_id", .string(user))]))) }
        switch conversation.responseFormat {
        case .schema(let schema, _, _)?:
            body.append(
                (
                    "output_config",
                    .object([
                        (
                            "format",
                            .object([
                                ("type", .string("json_schema")),
                                ("schema", try AnthropicSchema.carried(schema, param: conversation.responseFormatField)),
                            ])
                        )
                    ])
                ))
        case .anyJSON?:
            throw TranslationError.value("JSON output without a schema (give a JSON Schema)", param: conversation.responseFormatField)
        case nil:
            break
        }
        if conversation.stream { body.append(("stream", .bool(true))) }
        return object(body)
    }

    static func anthropicImage(_ image: Image) -> JSON {
        switch image {
        case .base64(let mediaType, let data):
            return .object([
                ("type", .string("image")),
                (
                    "source",
                    .object([
                        ("type", .string("base64")), ("media_type", .string(mediaType)), ("data", .string(data)),
                    ])
                ),
            ])
        case .url(let url):
            return .object([("type", .string("image")), ("source", .object([("type", .string("url")), ("url", .string(url))]))])
        }
    }

    /// A call's arguments as a JSON object (Anthropic and Gemini take objects, not text).
    static func arguments(_ call: ToolCall) throws(GatewayError) -> JSON {
        let text = call.arguments.isEmpty ? "{}" : call.arguments
        guard let parsed = try? JSON.parse(text), parsed.members != nil else {
            throw TranslationError.invalid("The arguments of tool call \(jsonStringLiteral(call.id)) are not a JSON object.", param: "messages")
        }
        return parsed
    }

    // MARK: Gemini

    static func gemini(_ conversation: Conversation) throws(GatewayError) -> JSON {
        var contents: [JSON] = []
        for turn in conversation.turns {
            var parts: [JSON] = []
            for part in turn.parts {
                switch part {
                case .text(let text): parts.append(.object([("text", .string(text))]))
                case .image(.base64(let mediaType, let data)):
                    parts.append(.object([("inlineData", .object([("mimeType", .string(mediaType)), ("data", .string(data))]))]))
                case .image(.url):
                    throw TranslationError.value("An image given by URL (Gemini takes inline images: send it as base64)", param: "messages")
                case .toolCall(let call):
                    // Gemini 3 wants its own thought signature back with every call; calls
                    // from another provider have none, so they carry Google's documented
                    // "skip validation" value instead.
                    parts.append(
                        .object([
                            ("functionCall", .object([("name", .string(call.name)), ("args", try arguments(call))])),
                            ("thoughtSignature", .string(geminiSkipSignature)),
                        ]))
                case .toolResult(let result):
                    guard let name = result.name ?? conversation.toolName(forCall: result.callID) else {
                        throw TranslationError.invalid(
                            "The tool result for \(jsonStringLiteral(result.callID)) answers no call in the conversation.", param: "messages")
                    }
                    parts.append(.object([("functionResponse", .object([("name", .string(name)), ("response", try geminiResponse(result))]))]))
                    // A function response holds JSON only: the result's images follow it inline.
                    for case .image(let image) in result.content {
                        guard case .base64(let mediaType, let data) = image else {
                            throw TranslationError.value("An image given by URL (Gemini takes inline images: send it as base64)", param: "messages")
                        }
                        parts.append(.object([("inlineData", .object([("mimeType", .string(mediaType)), ("data", .string(data))]))]))
                    }
                case .thinking:
                    continue  // Gemini takes no reasoning history without its own signatures
                }
            }
            guard !parts.isEmpty else { continue }
            contents.append(.object([("role", .string(turn.role == .assistant ? "model" : "user")), ("parts", .array(parts))]))
        }
        var body: [(String, JSON?)] = [("contents", .array(contents))]
        if !conversation.system.isEmpty {
            body.append(("systemInstruction", .object([("parts", .array(conversation.system.map { .object([("text", .string($0))]) }))])))
        }
        if !conversation.tools.isEmpty {
            body.append(
                (
                    "tools",
                    .array([
                        .object([
                            (
                                "functionDeclarations",
                                .array(
                                    conversation.tools.map { tool in
                                        object([
                                            ("name", .string(tool.name)), ("description", tool.description.map(JSON.string)),
                                            ("parametersJsonSchema", tool.parameters),
                                        ])
                                    })
                            )
                        ])
                    ])
                ))
        }
        switch conversation.toolChoice {
        case .auto?: body.append(("toolConfig", .object([("functionCallingConfig", .object([("mode", .string("AUTO"))]))])))
        case .none?: body.append(("toolConfig", .object([("functionCallingConfig", .object([("mode", .string("NONE"))]))])))
        case .required?: body.append(("toolConfig", .object([("functionCallingConfig", .object([("mode", .string("ANY"))]))])))
        case .tool(let name)?:
            body.append(
                (
                    "toolConfig",
                    .object([
                        (
                            "functionCallingConfig",
                            .object([
                                ("mode", .string("ANY")), ("allowedFunctionNames", .array([.string(name)])),
                            ])
                        )
                    ])
                ))
        case nil: break
        }
        var thinking: JSON?
        switch conversation.reasoning {
        case .disabled?: thinking = .object([("thinkingBudget", .int(0))])
        case let reasoning?: thinking = reasoning.budget.map { .object([("thinkingBudget", .int($0)), ("includeThoughts", .bool(true))]) }
        case nil: break
        }
        let generation = object([
            ("maxOutputTokens", conversation.maxTokens.map(JSON.int)), ("temperature", conversation.temperature), ("topP", conversation.topP),
            ("topK", conversation.topK), ("stopSequences", conversation.stop.isEmpty ? nil : .array(conversation.stop.map(JSON.string))),
            ("thinkingConfig", thinking),
            ("responseMimeType", conversation.responseFormat == nil ? nil : .string("application/json")),
            ("responseJsonSchema", { if case .schema(let schema, _, _)? = conversation.responseFormat { return schema } else { return nil } }()),
        ])
        if generation.members?.isEmpty == false { body.append(("generationConfig", generation)) }
        return object(body)
    }

    /// The thought signature Google documents for calls replayed without their own.
    static let geminiSkipSignature = "skip_thought_signature_validator"

    /// A tool result as Gemini's `response` object: a JSON object as it is,
    /// other text under `output` (or `error`), the keys Google documents.
    static func geminiResponse(_ result: ToolResult) throws(GatewayError) -> JSON {
        var texts: [String] = []
        for case .text(let text) in result.content { texts.append(text) }
        let text = texts.joined(separator: "\n")
        if !result.isError, let parsed = try? JSON.parse(text), parsed.members != nil { return parsed }
        return .object([(result.isError ? "error" : "output", .string(text))])
    }
}
