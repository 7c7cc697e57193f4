import SwitchboardCore

/// Reads Anthropic Messages requests.
enum ReadAnthropic {
    static let carried: Set<String> = [
        "model", "messages", "system", "tools", "tool_choice", "max_tokens", "temperature", "top_p", "top_k", "stop_sequences",
        "stream", "thinking", "metadata", "output_config", "output_format",
    ]
    /// Hints for Anthropic's own service (tiers, cache defaults, container reuse), and
    /// its server-side context editing, which Claude Code always sends and which no
    /// other provider has: the request simply goes whole.
    static let ignored: Set<String> = ["service_tier", "cache_control", "container", "context_management"]

    static func messages(_ body: JSON) throws(GatewayError) -> Conversation {
        try TranslationError.checkFields(body, carried: carried, ignored: ignored)
        var conversation = Conversation(model: body["model"]?.string ?? "")
        switch body["system"] {
        case .string(let text)?: conversation.system = [text]
        case .array(let blocks)?: conversation.system = blocks.compactMap { $0["text"]?.string }
        default: break
        }
        for message in body["messages"]?.array ?? [] {
            switch message["role"]?.string {
            case "system":
                // Claude Code adds system messages mid-conversation: they join the system prompt.
                for case .text(let text) in try parts(message["content"], in: conversation) { conversation.system.append(text) }
            case "assistant":
                conversation.append(.assistant, try parts(message["content"], in: conversation))
            default:
                conversation.append(.user, try parts(message["content"], in: conversation))
            }
        }
        conversation.tools = try (body["tools"]?.array ?? []).map { tool throws(GatewayError) in
            if let type = tool["type"]?.string, type != "custom" {
                throw TranslationError.value("The server tool \(jsonStringLiteral(type))", param: "tools")
            }
            return Tool(name: tool["name"]?.string ?? "", description: tool["description"]?.string, parameters: tool["input_schema"] ?? .object([]))
        }
        if let choice = body["tool_choice"] {
            switch choice["type"]?.string {
            case "auto": conversation.toolChoice = .auto
            case "any": conversation.toolChoice = .required
            case "none": conversation.toolChoice = ToolChoice.none
            case "tool": conversation.toolChoice = .tool(choice["name"]?.string ?? "")
            default: break
            }
            if choice["disable_parallel_tool_use"]?.bool == true { conversation.parallelToolCalls = false }
        }
        conversation.maxTokens = body["max_tokens"]?.int
        conversation.temperature = body["temperature"]
        conversation.topP = body["top_p"]
        conversation.topK = body["top_k"]
        conversation.stop = (body["stop_sequences"]?.array ?? []).compactMap(\.string)
        switch body["thinking"]?["type"]?.string {
        case "enabled": conversation.reasoning = body["thinking"]?["budget_tokens"]?.int.map(Reasoning.budget)
        case "disabled": conversation.reasoning = .disabled
        case "adaptive": conversation.reasoning = .effort("medium")
        default: break
        }
        if let output = body["output_config"] {
            // Claude Code sends its effort level here (low … high, max); structured output its format.
            try TranslationError.checkFields(output, carried: ["effort", "format"], ignored: [], prefix: "output_config.")
            if let effort = output["effort"]?.string, conversation.reasoning != .disabled { conversation.reasoning = .effort(effort) }
            if let format = output["format"], !format.isNull {
                conversation.responseFormat = try outputFormat(format, param: "output_config.format")
                conversation.responseFormatField = "output_config.format"
            }
        }
        // The structured-outputs beta's spelling of the same.
        if let format = body["output_format"], !format.isNull {
            conversation.responseFormat = try outputFormat(format, param: "output_format")
            conversation.responseFormatField = "output_format"
        }
        conversation.stream = body["stream"]?.bool ?? false
        conversation.user = body["metadata"]?["user_id"]?.string
        return conversation
    }

    /// Anthropic's structured output: `{type: "json_schema", schema}`.
    static func outputFormat(_ format: JSON, param: String) throws(GatewayError) -> ResponseFormat {
        guard format["type"]?.string == "json_schema" else {
            throw TranslationError.value("An output format of type \(jsonStringLiteral(format["type"]?.string ?? ""))", param: param + ".type")
        }
        guard let schema = format["schema"], schema.members != nil else {
            throw TranslationError.invalid("A json_schema output format needs its JSON Schema object under \"schema\".", param: param + ".schema")
        }
        // Not `strict` for OpenAI: its strict mode wants every property required,
        // which Anthropic does not; the schema still steers the answer.
        return .schema(schema, name: nil, strict: nil)
    }

    /// The parts of one message's content.
    static func parts(_ content: JSON?, in conversation: Conversation) throws(GatewayError) -> [Part] {
        switch content {
        case .string(let text)?: return [.text(text)]
        case .array(let blocks)?:
            var parts: [Part] = []
            for block in blocks {
                switch block["type"]?.string {
                case "text":
                    parts.append(.text(block["text"]?.string ?? ""))
                case "image":
                    parts.append(.image(try image(block["source"])))
                case "tool_use":
                    parts.append(
                        .toolCall(
                            ToolCall(
                                id: block["id"]?.string ?? "", name: block["name"]?.string ?? "", arguments: (block["input"] ?? .object([])).text)))
                case "tool_result":
                    let callID = block["tool_use_id"]?.string ?? ""
                    let content: [Part]
                    switch block["content"] {
                    case .string(let text)?: content = [.text(text)]
                    case nil: content = []
                    default: content = try Self.parts(block["content"], in: conversation)
                    }
                    parts.append(
                        .toolResult(
                            ToolResult(
                                callID: callID, name: conversation.toolName(forCall: callID), content: content,
                                isError: block["is_error"]?.bool ?? false)))
                case "thinking":
                    let signature = block["signature"]?.string ?? ""
                    parts.append(.thinking(text: block["thinking"]?.string ?? "", signature: signature.isEmpty ? nil : signature))
                case "redacted_thinking":
                    // Encrypted reasoning only Anthropic can read: nothing another provider can use.
                    continue
                default:
                    throw TranslationError.value("A content block of type \(jsonStringLiteral(block["type"]?.string ?? ""))", param: "messages")
                }
            }
            return parts
        default:
            return []
        }
    }

    static func image(_ source: JSON?) throws(GatewayError) -> Image {
        switch source?["type"]?.string {
        case "base64": return .base64(mediaType: source?["media_type"]?.string ?? "image/png", data: source?["data"]?.string ?? "")
        case "url": return .url(source?["url"]?.string ?? "")
        default: throw TranslationError.value("An image source of type \(jsonStringLiteral(source?["type"]?.string ?? ""))", param: "messages")
        }
    }
}
