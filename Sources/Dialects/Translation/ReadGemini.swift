import SwitchboardCore

/// Reads Gemini `generateContent` requests (the model comes from the path).
enum ReadGemini {
    static let carried: Set<String> = ["contents", "systemInstruction", "system_instruction", "tools", "toolConfig", "generationConfig"]
    /// Google's content-safety thresholds and cache names: nothing to carry.
    static let ignored: Set<String> = ["safetySettings", "model"]
    static let generationCarried: Set<String> = [
        "maxOutputTokens", "temperature", "topP", "topK", "stopSequences", "thinkingConfig", "candidateCount", "responseMimeType",
    ]

    static func generateContent(_ body: JSON, model: String) throws(GatewayError) -> Conversation {
        try TranslationError.checkFields(body, carried: carried, ignored: ignored)
        var conversation = Conversation(model: model)
        if let system = body["systemInstruction"] ?? body["system_instruction"] {
            conversation.system = (system["parts"]?.array ?? []).compactMap { $0["text"]?.string }
        }
        var callNumber = 0
        for content in body["contents"]?.array ?? [] {
            let role: Turn.Role = content["role"]?.string == "model" ? .assistant : .user
            var parts: [Part] = []
            for part in content["parts"]?.array ?? [] {
                if let text = part["text"]?.string {
                    parts.append(part["thought"]?.bool == true ? .thinking(text: text, signature: nil) : .text(text))
                } else if let inline = part["inlineData"] ?? part["inline_data"] {
                    parts.append(.image(.base64(
                        mediaType: (inline["mimeType"] ?? inline["mime_type"])?.string ?? "image/png", data: inline["data"]?.string ?? "")))
                } else if let file = part["fileData"] ?? part["file_data"], let uri = (file["fileUri"] ?? file["file_uri"])?.string {
                    parts.append(.image(.url(uri)))
                } else if let call = part["functionCall"] ?? part["function_call"] {
                    callNumber += 1
                    parts.append(.toolCall(ToolCall(
                        id: call["id"]?.string ?? "call_\(callNumber)", name: call["name"]?.string ?? "", arguments: (call["args"] ?? .object([])).text)))
                } else if let response = part["functionResponse"] ?? part["function_response"] {
                    let name = response["name"]?.string ?? ""
                    let callID = response["id"]?.string ?? conversation.openCall(named: name, pending: parts) ?? "call_\(name)"
                    parts.append(.toolResult(ToolResult(
                        callID: callID, name: name, content: [.text((response["response"] ?? .object([])).text)], isError: false)))
                } else {
                    throw TranslationError.value("A part of this kind (\(part.members?.first?.0 ?? "empty"))", param: "contents")
                }
            }
            conversation.append(role, parts)
        }
        for tool in body["tools"]?.array ?? [] {
            guard let declarations = (tool["functionDeclarations"] ?? tool["function_declarations"])?.array, tool.members?.count == 1 else {
                throw TranslationError.value("A tool other than function declarations (\(tool.members?.first?.0 ?? ""))", param: "tools")
            }
            for declaration in declarations {
                let schema = declaration["parametersJsonSchema"] ?? declaration["parameters"].map(jsonSchema) ?? .object([("type", .string("object"))])
                conversation.tools.append(Tool(name: declaration["name"]?.string ?? "", description: declaration["description"]?.string, parameters: schema))
            }
        }
        if let config = body["toolConfig"]?["functionCallingConfig"] {
            switch config["mode"]?.string {
            case "NONE": conversation.toolChoice = ToolChoice.none
            case "ANY":
                let allowed = (config["allowedFunctionNames"]?.array ?? []).compactMap(\.string)
                conversation.toolChoice = allowed.count == 1 ? .tool(allowed[0]) : .required
            case "AUTO": conversation.toolChoice = .auto
            default: break
            }
        }
        if let generation = body["generationConfig"] {
            try TranslationError.checkFields(generation, carried: generationCarried, ignored: [], prefix: "generationConfig.")
            if let count = generation["candidateCount"], !count.isNull, count.int != 1 { throw TranslationError.value("More than one candidate", param: "generationConfig.candidateCount") }
            if let mime = generation["responseMimeType"]?.string, mime != "text/plain" {
                throw TranslationError.value("A response MIME type of \(mime)", param: "generationConfig.responseMimeType")
            }
            conversation.maxTokens = generation["maxOutputTokens"]?.int
            conversation.temperature = generation["temperature"]
            conversation.topP = generation["topP"]
            conversation.topK = generation["topK"]
            conversation.stop = (generation["stopSequences"]?.array ?? []).compactMap(\.string)
            if let budget = generation["thinkingConfig"]?["thinkingBudget"]?.int {
                conversation.reasoning = budget == 0 ? .disabled : budget < 0 ? .effort("medium") : .budget(budget)
            } else if let level = generation["thinkingConfig"]?["thinkingLevel"]?.string {
                conversation.reasoning = .effort(level.lowercased())
            }
        }
        return conversation
    }

    /// Gemini's OpenAPI-style schema as JSON Schema: its type names are upper case.
    static func jsonSchema(_ schema: JSON) -> JSON {
        switch schema {
        case .object(let members):
            return .object(members.map { name, value in
                if name == "type", let type = value.string { return (name, .string(type.lowercased())) }
                return (name, jsonSchema(value))
            })
        case .array(let items): return .array(items.map(jsonSchema))
        default: return schema
        }
    }
}

extension Conversation {
    /// The id of the earliest call to a tool that has no result yet (Gemini pairs
    /// responses to calls by name, in the order of the calls).
    func openCall(named name: String, pending: [Part]) -> String? {
        var answered: Set<String> = []
        for case .toolResult(let result) in turns.flatMap(\.parts) + pending { answered.insert(result.callID) }
        for case .toolCall(let call) in turns.flatMap(\.parts) + pending where call.name == name && !answered.contains(call.id) {
            return call.id
        }
        return nil
    }
}
