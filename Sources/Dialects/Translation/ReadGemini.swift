import SwitchboardCore

/// Reads Gemini `generateContent` requests (the model comes from the path).
enum ReadGemini {
    /// Top-level fields carried (in camelCase: `GeminiSpelling` renames snake_case first).
    static let carried: Set<String> = ["contents", "systemInstruction", "tools", "toolConfig", "generationConfig"]
    /// Google's content-safety thresholds and cache names: nothing to carry.
    static let ignored: Set<String> = ["safetySettings", "model"]
    static let generationCarried: Set<String> = [
        "maxOutputTokens", "temperature", "topP", "topK", "stopSequences", "thinkingConfig", "candidateCount", "responseMimeType",
        "responseSchema", "responseJsonSchema", "responseModalities",
    ]

    /// Reads a request whose member names `GeminiSpelling` made camelCase.
    static func generateContent(_ body: JSON, model: String) throws(GatewayError) -> Conversation {
        try TranslationError.checkFields(body, carried: carried, ignored: ignored)
        var conversation = Conversation(model: model)
        if let system = body["systemInstruction"] {
            conversation.system = (system["parts"]?.array ?? []).compactMap { $0["text"]?.string }
        }
        var callNumber = 0
        for content in body["contents"]?.array ?? [] {
            let role: Turn.Role = content["role"]?.string == "model" ? .assistant : .user
            var parts: [Part] = []
            for part in content["parts"]?.array ?? [] {
                if let text = part["text"]?.string {
                    parts.append(part["thought"]?.bool == true ? .thinking(text: text, signature: nil) : .text(text))
                } else if let inline = part["inlineData"] {
                    parts.append(.image(.base64(mediaType: inline["mimeType"]?.string ?? "image/png", data: inline["data"]?.string ?? "")))
                } else if let file = part["fileData"], let uri = file["fileUri"]?.string {
                    parts.append(.image(.url(uri)))
                } else if let call = part["functionCall"] {
                    callNumber += 1
                    parts.append(
                        .toolCall(
                            ToolCall(
                                id: call["id"]?.string ?? "call_\(callNumber)", name: call["name"]?.string ?? "",
                                arguments: (call["args"] ?? .object([])).text)))
                } else if let response = part["functionResponse"] {
                    let name = response["name"]?.string ?? ""
                    let callID = response["id"]?.string ?? conversation.openCall(named: name, pending: parts) ?? "call_\(name)"
                    let (text, isError) = toolOutput(response["response"])
                    parts.append(.toolResult(ToolResult(callID: callID, name: name, content: [.text(text)], isError: isError)))
                } else {
                    throw TranslationError.value("A part of this kind (\(part.members?.first?.0 ?? "empty"))", param: "contents")
                }
            }
            conversation.append(role, parts)
        }
        for tool in body["tools"]?.array ?? [] {
            guard let declarations = tool["functionDeclarations"]?.array, tool.members?.count == 1 else {
                throw TranslationError.value("A tool other than function declarations (\(tool.members?.first?.0 ?? ""))", param: "tools")
            }
            for declaration in declarations {
                let schema =
                    declaration["parametersJsonSchema"] ?? declaration["parameters"].map(jsonSchema) ?? .object([("type", .string("object"))])
                conversation.tools.append(
                    Tool(name: declaration["name"]?.string ?? "", description: declaration["description"]?.string, parameters: schema))
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
            if let count = generation["candidateCount"], !count.isNull, count.int != 1 {
                throw TranslationError.value("More than one candidate", param: "generationConfig.candidateCount")
            }
            // Text is what every provider answers with; images and audio cannot be carried.
            for modality in generation["responseModalities"]?.array ?? [] where modality.string?.uppercased() != "TEXT" {
                throw TranslationError.value("A response modality of \(modality.text)", param: "generationConfig.responseModalities")
            }
            conversation.responseFormat = try responseFormat(generation)
            conversation.responseFormatField = "generationConfig.responseMimeType"
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

    /// The structured output a generation config asks for: JSON (with
    /// `responseJsonSchema`, or an OpenAPI `responseSchema`), or plain text.
    static func responseFormat(_ generation: JSON) throws(GatewayError) -> ResponseFormat? {
        let schema = generation["responseJsonSchema"] ?? generation["responseSchema"].map(jsonSchema)
        switch generation["responseMimeType"]?.string {
        case nil, "text/plain"?:
            guard schema == nil else {
                throw TranslationError.invalid(
                    "A response schema needs \"responseMimeType\": \"application/json\".", param: "generationConfig.responseMimeType")
            }
            return nil
        case "application/json"?:
            return schema.map { .schema($0, name: nil, strict: nil) } ?? .anyJSON
        case let mime?:
            throw TranslationError.value("A response MIME type of \(mime)", param: "generationConfig.responseMimeType")
        }
    }

    /// A function response as a tool result's text: Google documents
    /// `{"output": …}` and `{"error": …}`; the value inside is the result
    /// (text as it is, anything else as JSON), and an `error` marks it failed.
    /// Any other object is the result itself, as JSON.
    static func toolOutput(_ response: JSON?) -> (text: String, isError: Bool) {
        guard let response, let members = response.members else { return (response?.text ?? "{}", false) }
        if members.count == 1, let (name, value) = members.first, name == "output" || name == "error" {
            return (value.string ?? value.text, name == "error")
        }
        return (response.text, false)
    }

    /// Gemini's OpenAPI-style schema as JSON Schema: its type names are upper
    /// case, and `propertyOrdering` (Google's alone) goes: the order of
    /// `properties` says the same. Only keywords are touched: the client's
    /// names (under `properties`, `$defs`, …) and values (`enum`, `example`,
    /// `default`, …) stay as written.
    static func jsonSchema(_ schema: JSON) -> JSON {
        switch schema {
        case .object(let members):
            return .object(
                members.filter { $0.0 != "propertyOrdering" }.map { name, value in
                    switch name {
                    case "type": return (name, value.string.map { .string($0.lowercased()) } ?? value)
                    case _ where SchemaKeywords.maps.contains(name):
                        return (name, .object((value.members ?? []).map { ($0.0, jsonSchema($0.1)) }))
                    case _ where SchemaKeywords.values.contains(name): return (name, value)
                    default: return (name, jsonSchema(value))
                    }
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
