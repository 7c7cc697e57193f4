/// Google's API takes every request field in camelCase or in snake_case (the
/// protobuf JSON mapping), and clients send either: google-genai writes a tool's
/// schema as `parameters_json_schema`, LangChain `function_response`. Translation
/// reads one spelling, so a Gemini request is first rewritten with Google's
/// member names in camelCase, leaving alone what the client wrote as data:
/// function arguments and responses, JSON Schemas, and the property names
/// inside OpenAPI schemas.
enum GeminiSpelling {
    /// The request with Google's member names in camelCase.
    static func camelCased(_ request: JSON) -> JSON { rename(request, as: .message) }

    /// What a value is, which decides whether its member names are Google's.
    private enum Kind {
        /// A request message: every member name is Google's.
        case message
        /// An OpenAPI schema (`parameters`, `responseSchema`): keywords are
        /// Google's, the names under `properties` are the client's.
        case schema
        /// The client's data: nothing renamed.
        case data
    }

    /// Members whose values are the client's data (after renaming).
    private static let data: Set<String> = ["args", "response", "parametersJsonSchema", "responseJsonSchema", "labels"]
    /// Members whose values are OpenAPI schemas (after renaming).
    private static let schemas: Set<String> = ["parameters", "responseSchema"]
    private static func rename(_ value: JSON, as kind: Kind) -> JSON {
        switch (value, kind) {
        case (_, .data):
            return value
        case (.array(let items), _):
            return .array(items.map { rename($0, as: kind) })
        case (.object(let members), .message):
            return .object(
                members.map { name, value in
                    let name = camel(name)
                    return (name, rename(value, as: data.contains(name) ? .data : schemas.contains(name) ? .schema : .message))
                })
        case (.object(let members), .schema):
            return .object(
                members.map { name, value in
                    let name = camel(name)
                    switch name {
                    case _ where SchemaKeywords.maps.contains(name):
                        // The client's names, each with a schema.
                        return (name, .object((value.members ?? []).map { ($0.0, rename($0.1, as: .schema)) }))
                    case _ where SchemaKeywords.values.contains(name):
                        return (name, value)
                    default:
                        return (name, rename(value, as: .schema))
                    }
                })
        default:
            return value
        }
    }

    /// `function_declarations` → `functionDeclarations`; a name without `_` as it is.
    static func camel(_ name: String) -> String {
        guard name.utf8.contains(UInt8(ascii: "_")) else { return name }
        var result = ""
        var upper = false
        for character in name {
            if character == "_", !result.isEmpty {
                upper = true
            } else if upper {
                result += character.uppercased()
                upper = false
            } else {
                result.append(character)
            }
        }
        return result
    }
}
