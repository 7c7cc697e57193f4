import SwitchboardCore

/// Checks on a Responses request's `input` items the upstream would otherwise
/// refuse with a message clients cannot act on.
enum ResponsesInput {
    /// Tool outputs and the calls they answer (`function_call` ↔ `function_call_output`,
    /// `custom_tool_call` ↔ `custom_tool_call_output`).
    static let outputTypes = ["function_call_output": "function_call", "custom_tool_call_output": "custom_tool_call"]

    /// A 400 for the first tool output whose call the upstream cannot find: not in
    /// `input`, not referenced by an `item_reference`, and no `previous_response_id`
    /// to look it up in. Nil when every output has its context.
    static func unpairedToolOutput(reader: JSONReader, root: JSONSpan) -> GatewayError? {
        if let previous = reader.member("previous_response_id", of: root).flatMap(reader.string), !previous.isEmpty { return nil }
        guard let input = reader.member("input", of: root), input.kind == .array else { return nil }
        var calls: Set<String> = []
        var references: Set<String> = []
        var outputs: [(type: String, callID: String)] = []
        for item in reader.elements(of: input) where item.kind == .object {
            guard let type = reader.member("type", of: item).flatMap(reader.string) else { continue }
            let callID = reader.member("call_id", of: item).flatMap(reader.string)
            switch type {
            case "function_call", "custom_tool_call":
                if let callID { calls.insert(type + "\u{0}" + callID) }
            case "item_reference":
                if let id = reader.member("id", of: item).flatMap(reader.string) { references.insert(id) }
            default:
                if outputTypes[type] != nil { outputs.append((type, callID ?? "")) }
            }
        }
        for output in outputs {
            let call = outputTypes[output.type]!
            if calls.contains(call + "\u{0}" + output.callID) || references.contains(output.callID) { continue }
            return GatewayError(
                .invalidRequest,
                message: "The \(output.type) for call_id \(jsonStringLiteral(output.callID)) has no matching \(call): "
                    + "include the \(call) item with that call_id in input, set previous_response_id to the response that made the call, "
                    + "or add an item_reference to it.",
                param: "input")
        }
        return nil
    }
}
