import SwitchboardCore

/// A JSON Schema as Anthropic's structured output takes it. Anthropic enforces
/// a subset: every object closed (`additionalProperties: false`), and no
/// numeric, length or item-count bounds. As Anthropic's own SDKs do, an object
/// that says nothing about extra properties is closed, and the bounds move
/// into the description (the model still reads them; the decoder no longer
/// enforces them). An object that allows extra properties cannot be carried.
enum AnthropicSchema {
    /// Keywords Anthropic does not enforce, moved into the description.
    static let unenforced: Set<String> = [
        "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "maxItems",
        "minProperties", "maxProperties",
    ]

    /// The schema as Anthropic takes it; `param` names the client's field in a refusal.
    static func carried(_ schema: JSON, param: String) throws(GatewayError) -> JSON {
        switch schema {
        case .array(let items):
            return .array(try items.map { item throws(GatewayError) in try carried(item, param: param) })
        case .object(let members):
            var kept: [(String, JSON)] = []
            var notes: [String] = []
            for (name, value) in members {
                switch name {
                case _ where unenforced.contains(name), "minItems" where (value.int ?? 0) > 1:
                    notes.append("\(name): \(value.text)")
                case _ where SchemaKeywords.maps.contains(name):
                    kept.append(
                        (name, .object(try (value.members ?? []).map { item throws(GatewayError) in (item.0, try carried(item.1, param: param)) })))
                case _ where SchemaKeywords.values.contains(name), "type", "$ref":
                    kept.append((name, value))
                case "additionalProperties":
                    guard value == .bool(false) else {
                        throw TranslationError.value("A schema whose objects allow additional properties", param: param)
                    }
                    kept.append((name, value))
                default:
                    kept.append((name, try carried(value, param: param)))
                }
            }
            let type = schema["type"]
            let isObject = type?.string == "object" || type?.array?.contains(.string("object")) == true || schema["properties"] != nil
            if isObject, schema["additionalProperties"] == nil { kept.append(("additionalProperties", .bool(false))) }
            if !notes.isEmpty {
                let note = "{" + notes.joined(separator: ", ") + "}"
                if let index = kept.firstIndex(where: { $0.0 == "description" }) {
                    kept[index].1 = .string((kept[index].1.string.map { $0 + " " } ?? "") + note)
                } else {
                    kept.append(("description", .string(note)))
                }
            }
            return .object(kept)
        default:
            return schema
        }
    }
}
