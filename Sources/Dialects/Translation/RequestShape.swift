import SwitchboardCore

/// The shape a request must have before it is read for translation: the
/// readers take what they understand and pass over the rest, so a conversation
/// of the wrong type (`"messages": {}`, `"system": 5`, `"parts": {}`) would
/// otherwise reach the provider empty, and be billed. Refused with 400 instead,
/// naming the field, as the providers themselves do.
enum RequestShape {
    static func check(_ body: JSON, dialect: Dialect) throws(GatewayError) {
        switch dialect {
        case .openAIChat:
            try turns(body, "messages", content: "content", allowsNullContent: true)
        case .anthropicMessages:
            try turns(body, "messages", content: "content", allowsNullContent: false)
            try textOrBlocks(body["system"], "system")
        case .openAIResponses:
            switch body["input"] {
            case nil, .null?, .string?: break
            case .array(let items)?:
                guard items.allSatisfy(isObjectOrString) else { throw wrong("input", "a string or a list of items") }
            default: throw wrong("input", "a string or a list of items")
            }
            guard isStringOrNull(body["instructions"]) else { throw wrong("instructions", "a string") }
        case .gemini:
            let contents = body["contents"]
            switch contents {
            case nil, .null?: break
            case .array(let items)?:
                for item in items {
                    guard case .object = item else { throw wrong("contents", "a list of content objects") }
                    try parts(item["parts"], "contents[].parts")
                }
            default: throw wrong("contents", "a list of content objects")
            }
            let instruction = body["systemInstruction"] ?? body["system_instruction"]
            switch instruction {
            case nil, .null?, .string?: break
            case .object?: try parts(instruction?["parts"], "systemInstruction.parts")
            default: throw wrong("systemInstruction", "a content object")
            }
        }
    }

    /// A list of turns, each an object whose content is text or a list of blocks.
    private static func turns(_ body: JSON, _ name: String, content: String, allowsNullContent: Bool) throws(GatewayError) {
        guard let list = body[name] else { return }
        guard case .array(let turns) = list else { throw wrong(name, "a list of message objects") }
        for turn in turns {
            guard case .object = turn else { throw wrong(name, "a list of message objects") }
            guard case .string? = turn["role"] else { throw wrong("\(name)[].role", "a string") }
            switch turn[content] {
            case .string?: continue
            case .null? where allowsNullContent, nil where allowsNullContent: continue
            case .array(let blocks)?:
                guard blocks.allSatisfy(isObjectOrString) else { throw wrong("\(name)[].\(content)", "text or a list of content blocks") }
            default: throw wrong("\(name)[].\(content)", "text or a list of content blocks")
            }
        }
    }

    /// Text, or a list of text blocks (Anthropic's `system`).
    private static func textOrBlocks(_ value: JSON?, _ name: String) throws(GatewayError) {
        switch value {
        case nil, .null?, .string?: return
        case .array(let blocks)?:
            guard blocks.allSatisfy({ if case .object = $0 { return true } else { return false } }) else {
                throw wrong(name, "text or a list of text blocks")
            }
        default: throw wrong(name, "text or a list of text blocks")
        }
    }

    /// Gemini's `parts`: a list of part objects.
    private static func parts(_ value: JSON?, _ name: String) throws(GatewayError) {
        switch value {
        case nil, .null?: return
        case .array(let parts)?:
            guard parts.allSatisfy({ if case .object = $0 { return true } else { return false } }) else {
                throw wrong(name, "a list of part objects")
            }
        default: throw wrong(name, "a list of part objects")
        }
    }

    private static func isObjectOrString(_ value: JSON) -> Bool {
        switch value {
        case .object, .string: return true
        default: return false
        }
    }

    private static func isStringOrNull(_ value: JSON?) -> Bool {
        switch value {
        case nil, .null?, .string?: return true
        default: return false
        }
    }

    private static func wrong(_ field: String, _ shape: String) -> GatewayError {
        TranslationError.invalid("\(jsonStringLiteral(field)) must be \(shape).", param: field)
    }
}
