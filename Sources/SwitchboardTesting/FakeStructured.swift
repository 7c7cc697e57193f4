import Foundation

/// Structured output as each provider takes it: asked for in the provider's
/// own field, the fake answers with JSON text that matches the schema (every
/// property present, first enum value, first `anyOf` branch, `$ref`s
/// followed). A field of another provider's format is not read, as the real
/// provider would not read it: only a translation that writes the right field
/// gets JSON back.
enum FakeStructured {
    /// The JSON text a request's structured-output field asks for, or nil.
    static func answer(format: FakeUpstream.Format, request: [String: Any]) -> String? {
        let value: Any
        switch asked(format: format, request: request) {
        case nil: return nil
        case .anyJSON?: value = ["answer": "ok"]
        case .schema(let schema)?: value = instance(schema, root: schema, depth: 0)
        }
        guard let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed]) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// What a request asks its answer to be.
    private enum Asked {
        case anyJSON
        case schema([String: Any])
    }

    private static func asked(format: FakeUpstream.Format, request: [String: Any]) -> Asked? {
        switch format {
        case .openAI:
            guard let format = request["response_format"] as? [String: Any] else { return nil }
            switch format["type"] as? String {
            case "json_object": return .anyJSON
            case "json_schema": return .schema((format["json_schema"] as? [String: Any])?["schema"] as? [String: Any] ?? [:])
            default: return nil
            }
        case .responses:
            guard let format = (request["text"] as? [String: Any])?["format"] as? [String: Any] else { return nil }
            switch format["type"] as? String {
            case "json_object": return .anyJSON
            case "json_schema": return .schema(format["schema"] as? [String: Any] ?? [:])
            default: return nil
            }
        case .anthropic:
            // Generally available as `output_config.format`; the beta's `output_format` too.
            let format = (request["output_config"] as? [String: Any])?["format"] as? [String: Any] ?? request["output_format"] as? [String: Any]
            guard let format, format["type"] as? String == "json_schema" else { return nil }
            return .schema(format["schema"] as? [String: Any] ?? [:])
        case .gemini:
            guard let config = (request["generationConfig"] ?? request["generation_config"]) as? [String: Any] else { return nil }
            let mime = (config["responseMimeType"] ?? config["response_mime_type"]) as? String
            guard mime == "application/json" else { return nil }
            let schema = (config["responseJsonSchema"] ?? config["response_json_schema"] ?? config["responseSchema"] ?? config["response_schema"])
            return (schema as? [String: Any]).map(Asked.schema) ?? .anyJSON
        }
    }

    /// A value that matches `schema`.
    private static func instance(_ schema: [String: Any], root: [String: Any], depth: Int) -> Any {
        guard depth < 16 else { return NSNull() }
        if let ref = schema["$ref"] as? String { return instance(resolve(ref, in: root), root: root, depth: depth + 1) }
        for keyword in ["anyOf", "oneOf", "allOf"] {
            if let branches = schema[keyword] as? [[String: Any]],
                let first = branches.first(where: { ($0["type"] as? String) != "null" }) ?? branches.first
            {
                return instance(first, root: root, depth: depth + 1)
            }
        }
        if let values = schema["enum"] as? [Any], let first = values.first { return first }
        if let constant = schema["const"] { return constant }
        var type = (schema["type"] as? String)?.lowercased()
        if let types = schema["type"] as? [String] { type = types.first { $0 != "null" }?.lowercased() }
        switch type {
        case "string": return "text"
        case "integer": return 1
        case "number": return 1.5
        case "boolean": return true
        case "null": return NSNull()
        case "array":
            return [instance(schema["items"] as? [String: Any] ?? [:], root: root, depth: depth + 1)]
        default:
            var object: [String: Any] = [:]
            for (name, property) in schema["properties"] as? [String: Any] ?? [:] {
                object[name] = instance(property as? [String: Any] ?? [:], root: root, depth: depth + 1)
            }
            return object
        }
    }

    /// The schema a local `$ref` (`#/$defs/Name`, `#/definitions/Name`) names.
    private static func resolve(_ ref: String, in root: [String: Any]) -> [String: Any] {
        guard ref.hasPrefix("#/") else { return [:] }
        var node: Any = root
        for part in ref.dropFirst(2).split(separator: "/") {
            guard let object = node as? [String: Any], let next = object[String(part)] else { return [:] }
            node = next
        }
        return node as? [String: Any] ?? [:]
    }

    /// Structured text in three pieces, as a stream would deliver it.
    static func pieces(_ text: String) -> [String] {
        let characters = Array(text)
        let size = max(1, (characters.count + 2) / 3)
        return stride(from: 0, to: characters.count, by: size).map { String(characters[$0..<min($0 + size, characters.count)]) }
    }
}
