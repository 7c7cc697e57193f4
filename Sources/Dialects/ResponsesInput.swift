import SwitchboardCore

/// Checks on a Responses request's `input` items the upstream would otherwise
/// refuse with a message clients cannot act on.
enum ResponsesInput {
    /// A 400 for the first tool output whose call the upstream cannot find: not in
    /// `input` and no `previous_response_id`, `conversation` or `item_reference` to
    /// find it through (a reference names an item id, not a call id, so any
    /// reference lets the request through). Nil when every output has its context.
    static func unpairedToolOutput(reader: JSONReader, root: JSONSpan) -> GatewayError? {
        for stored in ["previous_response_id", "conversation"] {
            if let span = reader.member(stored, of: root), span.kind != .null, reader.string(span) != "" { return nil }
        }
        guard let input = reader.member("input", of: root), input.kind == .array else { return nil }
        var calls: Set<String> = []
        var outputs: [(type: String, callID: String)] = []
        for item in reader.elements(of: input) where item.kind == .object {
            guard let type = reader.member("type", of: item).flatMap(reader.string) else { continue }
            if type == "item_reference" { return nil }
            let callID = reader.member("call_id", of: item).flatMap(reader.string)
            if type.hasSuffix("_output") {
                outputs.append((type, callID ?? ""))
            } else if let callID {
                // Any call (function, custom tool, local shell, computer…) is answered by an output with its call_id.
                calls.insert(callID)
            }
        }
        guard let orphan = outputs.first(where: { !calls.contains($0.callID) }) else { return nil }
        return GatewayError(
            .invalidRequest,
            message: "The \(orphan.type) for call_id \(jsonStringLiteral(orphan.callID)) has no matching call: "
                + "include the call item with that call_id in input, set previous_response_id to the response that made the call, "
                + "or add an item_reference to it.",
            param: "input")
    }
}
