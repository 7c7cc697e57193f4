import SwitchboardCore

/// Reads OpenAI Chat Completions and Responses requests.
enum ReadOpenAI {
    static let chatCarried: Set<String> = [
        "model", "messages", "tools", "tool_choice", "parallel_tool_calls", "max_tokens", "max_completion_tokens", "temperature",
        "top_p", "stop", "stream", "reasoning_effort", "user", "n", "response_format",
    ]
    /// Fields that steer only OpenAI's own service (storage, caching, tiers, tracing): nothing to carry.
    static let chatIgnored: Set<String> = [
        "stream_options", "store", "metadata", "prompt_cache_key", "service_tier", "safety_identifier", "prompt_cache_retention",
    ]

    static func chat(_ body: JSON) throws(GatewayError) -> Conversation {
        try TranslationError.checkFields(body, carried: chatCarried, ignored: chatIgnored)
        var conversation = Conversation(model: body["model"]?.string ?? "")
        if let n = body["n"], !n.isNull, n.int != 1 { throw TranslationError.value("More than one choice (n)", param: "n") }
        for message in body["messages"]?.array ?? [] {
            let role = message["role"]?.string ?? ""
            let content = message["content"]
            switch role {
            case "system", "developer":
                conversation.system.append(try text(of: content, param: "messages"))
            case "user":
                conversation.append(.user, try userParts(content))
            case "assistant":
                var parts: [Part] = []
                if let content, !content.isNull {
                    let text = try text(of: content, param: "messages")
                    if !text.isEmpty { parts.append(.text(text)) }
                }
                for call in message["tool_calls"]?.array ?? [] {
                    guard call["type"]?.string ?? "function" == "function", let function = call["function"] else {
                        throw TranslationError.value("A tool call that is not a function call", param: "messages")
                    }
                    parts.append(
                        .toolCall(
                            ToolCall(
                                id: call["id"]?.string ?? "", name: function["name"]?.string ?? "", arguments: function["arguments"]?.string ?? "{}"))
                    )
                }
                conversation.append(.assistant, parts)
            case "tool":
                let callID = message["tool_call_id"]?.string ?? ""
                let result = ToolResult(
                    callID: callID, name: conversation.toolName(forCall: callID), content: try userParts(content), isError: false)
                conversation.append(.user, [.toolResult(result)])
            default:
                throw TranslationError.invalid("A message has the unknown role \(jsonStringLiteral(role)).", param: "messages")
            }
        }
        conversation.tools = try (body["tools"]?.array ?? []).map { tool throws(GatewayError) in
            guard tool["type"]?.string == "function", let function = tool["function"] else {
                throw TranslationError.value(
                    "A tool of type \(jsonStringLiteral(tool["type"]?.string ?? "")) (only function tools are)", param: "tools")
            }
            return Tool(
                name: function["name"]?.string ?? "", description: function["description"]?.string, parameters: function["parameters"] ?? .object([]))
        }
        conversation.toolChoice = try toolChoice(body["tool_choice"]) { $0["function"]?["name"]?.string }
        conversation.parallelToolCalls = body["parallel_tool_calls"]?.bool
        conversation.maxTokens = (body["max_completion_tokens"] ?? body["max_tokens"])?.int
        conversation.temperature = body["temperature"].flatMap { $0.isNull ? nil : $0 }
        conversation.topP = body["top_p"].flatMap { $0.isNull ? nil : $0 }
        conversation.stop = stopList(body["stop"])
        conversation.reasoning = body["reasoning_effort"]?.string.map(Reasoning.effort)
        conversation.stream = body["stream"]?.bool ?? false
        conversation.user = body["user"]?.string
        if let format = body["response_format"], !format.isNull {
            conversation.responseFormat = try responseFormat(format, schema: format["json_schema"], param: "response_format")
        }
        return conversation
    }

    /// A Chat `response_format` or a Responses `text.format` (whose schema
    /// members sit beside `type` rather than under `json_schema`).
    static func responseFormat(_ format: JSON, schema spec: JSON?, param: String) throws(GatewayError) -> ResponseFormat? {
        switch format["type"]?.string {
        case "text": return nil
        case "json_object": return .anyJSON
        case "json_schema":
            guard let schema = spec?["schema"], schema.members != nil else {
                throw TranslationError.invalid("A json_schema format needs its JSON Schema object under \"schema\".", param: param)
            }
            return .schema(schema, name: spec?["name"]?.string, strict: spec?["strict"]?.bool)
        default:
            throw TranslationError.value("A response format of type \(jsonStringLiteral(format["type"]?.string ?? ""))", param: param + ".type")
        }
    }

    static let responsesCarried: Set<String> = [
        "model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls", "max_output_tokens", "temperature", "top_p",
        "stream", "reasoning", "user", "text",
    ]
    static let responsesIgnored: Set<String> = [
        "store", "include", "metadata", "prompt_cache_key", "service_tier", "safety_identifier", "truncation", "stream_options",
        "prompt_cache_retention",
    ]

    static func responses(_ body: JSON) throws(GatewayError) -> Conversation {
        try TranslationError.checkFields(body, carried: responsesCarried, ignored: responsesIgnored)
        var conversation = Conversation(model: body["model"]?.string ?? "")
        if let instructions = body["instructions"]?.string, !instructions.isEmpty { conversation.system.append(instructions) }
        if let text = body["text"] {
            // `verbosity` only tunes the length of OpenAI's own models' answers.
            try TranslationError.checkFields(text, carried: ["format"], ignored: ["verbosity"], prefix: "text.")
            if let format = text["format"], !format.isNull {
                conversation.responseFormat = try responseFormat(format, schema: format, param: "text.format")
                conversation.responseFormatField = "text.format"
            }
        }
        switch body["input"] {
        case .string(let text)?:
            conversation.append(.user, [.text(text)])
        case .array(let items)?:
            for item in items { try readInputItem(item, into: &conversation) }
        default:
            break
        }
        conversation.tools = try (body["tools"]?.array ?? []).map { tool throws(GatewayError) in
            switch tool["type"]?.string {
            case "function":
                return Tool(name: tool["name"]?.string ?? "", description: tool["description"]?.string, parameters: tool["parameters"] ?? .object([]))
            case "custom":
                return Tool(
                    name: tool["name"]?.string ?? "", description: tool["description"]?.string,
                    parameters: .object([
                        ("type", .string("object")), ("properties", .object([("input", .object([("type", .string("string"))]))])),
                        ("required", .array([.string("input")])),
                    ]),
                    freeform: true)
            default:
                throw TranslationError.value(
                    "A tool of type \(jsonStringLiteral(tool["type"]?.string ?? "")) (only function and custom tools are)", param: "tools")
            }
        }
        conversation.toolChoice = try toolChoice(body["tool_choice"]) { $0["name"]?.string }
        conversation.parallelToolCalls = body["parallel_tool_calls"]?.bool
        conversation.maxTokens = body["max_output_tokens"]?.int
        conversation.temperature = body["temperature"].flatMap { $0.isNull ? nil : $0 }
        conversation.topP = body["top_p"].flatMap { $0.isNull ? nil : $0 }
        conversation.reasoning = body["reasoning"]?["effort"]?.string.map(Reasoning.effort)
        conversation.stream = body["stream"]?.bool ?? false
        conversation.user = body["user"]?.string
        return conversation
    }

    /// One Responses input item.
    static func readInputItem(_ item: JSON, into conversation: inout Conversation) throws(GatewayError) {
        let type = item["type"]?.string ?? (item["role"] != nil ? "message" : "")
        switch type {
        case "message":
            let role = item["role"]?.string ?? "user"
            switch role {
            case "system", "developer": conversation.system.append(try text(of: item["content"], param: "input"))
            case "assistant": conversation.append(.assistant, try userParts(item["content"]))
            default: conversation.append(.user, try userParts(item["content"]))
            }
        case "function_call":
            conversation.append(
                .assistant,
                [
                    .toolCall(
                        ToolCall(
                            id: item["call_id"]?.string ?? "", name: item["name"]?.string ?? "", arguments: item["arguments"]?.string ?? "{}"))
                ])
        case "custom_tool_call":
            let input = JSON.object([("input", .string(item["input"]?.string ?? ""))])
            conversation.append(
                .assistant, [.toolCall(ToolCall(id: item["call_id"]?.string ?? "", name: item["name"]?.string ?? "", arguments: input.text))])
        case "function_call_output", "custom_tool_call_output":
            let callID = item["call_id"]?.string ?? ""
            var content: [Part] = []
            if let text = item["output"]?.string { content = [.text(text)] } else { content = try userParts(item["output"]) }
            conversation.append(
                .user, [.toolResult(ToolResult(callID: callID, name: conversation.toolName(forCall: callID), content: content, isError: false))])
        case "reasoning":
            // Reasoning items carry OpenAI's encrypted state, which no other provider can read;
            // the summary text is the visible part.
            let summary = (item["summary"]?.array ?? []).compactMap { $0["text"]?.string }.joined(separator: "\n")
            // A signature the gateway carried for Anthropic comes back with its reasoning.
            let carried = item["encrypted_content"]?.string.flatMap {
                $0.hasPrefix(WriteCompletion.signaturePrefix) ? String($0.dropFirst(WriteCompletion.signaturePrefix.count)) : nil
            }
            if !summary.isEmpty { conversation.append(.assistant, [.thinking(text: summary, signature: carried)]) }
        case "item_reference":
            throw TranslationError.value("An item_reference (items stored at OpenAI)", param: "input")
        default:
            throw TranslationError.value("An input item of type \(jsonStringLiteral(type))", param: "input")
        }
    }

    /// Text and images of a user (or assistant) message, in Chat or Responses form.
    static func userParts(_ content: JSON?) throws(GatewayError) -> [Part] {
        switch content {
        case nil, .null?: return []
        case .string(let text)?: return [.text(text)]
        case .array(let parts)?:
            var result: [Part] = []
            for part in parts {
                switch part["type"]?.string {
                case "text", "input_text", "output_text":
                    result.append(.text(part["text"]?.string ?? ""))
                case "refusal":
                    result.append(.text(part["refusal"]?.string ?? ""))
                case "image_url":
                    result.append(.image(.fromURL(part["image_url"]?["url"]?.string ?? part["image_url"]?.string ?? "")))
                case "input_image":
                    guard let url = part["image_url"]?.string else { throw TranslationError.value("An input_image given by file_id", param: "input") }
                    result.append(.image(.fromURL(url)))
                default:
                    throw TranslationError.value("A content part of type \(jsonStringLiteral(part["type"]?.string ?? ""))", param: "messages")
                }
            }
            return result
        default:
            throw TranslationError.invalid("Message content must be a string or an array of parts.", param: "messages")
        }
    }

    /// The text of system content (a string or text parts).
    static func text(of content: JSON?, param: String) throws(GatewayError) -> String {
        let parts = try userParts(content)
        var texts: [String] = []
        for part in parts {
            guard case .text(let text) = part else { throw TranslationError.value("An image in a system message", param: param) }
            texts.append(text)
        }
        return texts.joined(separator: "\n")
    }

    /// `tool_choice` in either OpenAI form; `name` finds the forced tool's name.
    static func toolChoice(_ value: JSON?, name: (JSON) -> String?) throws(GatewayError) -> ToolChoice? {
        switch value {
        case nil, .null?: return nil
        case .string("auto")?: return .auto
        case .string("none")?: return ToolChoice.none
        case .string("required")?: return .required
        case .object?:
            guard let forced = value.flatMap(name) else { throw TranslationError.value("This tool_choice", param: "tool_choice") }
            return .tool(forced)
        default:
            throw TranslationError.value("This tool_choice", param: "tool_choice")
        }
    }

    static func stopList(_ value: JSON?) -> [String] {
        switch value {
        case .string(let text)?: return [text]
        case .array(let items)?: return items.compactMap(\.string)
        default: return []
        }
    }
}

extension Conversation {
    /// Adds parts as a turn, joining them to the last turn when it has the same
    /// role (providers that require alternation get it; nothing is lost).
    mutating func append(_ role: Turn.Role, _ parts: [Part]) {
        guard !parts.isEmpty else { return }
        if let last = turns.last, last.role == role {
            turns[turns.count - 1].parts += parts
        } else {
            turns.append(Turn(role, parts))
        }
    }
}
