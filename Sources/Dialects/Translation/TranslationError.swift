import SwitchboardCore

/// The 400s translation gives for what it cannot carry: never dropped silently.
enum TranslationError {
    /// A request field with no counterpart.
    static func field(_ name: String) -> GatewayError {
        GatewayError(
            .invalidRequest,
            message: "The field \(jsonStringLiteral(name)) cannot be translated: this model is served by a provider with another API format. "
                + "Remove the field, or use a model served in this API format.",
            param: name)
    }

    /// A value with no counterpart at the provider that serves the model.
    static func value(_ what: String, param: String? = nil) -> GatewayError {
        GatewayError(
            .invalidRequest,
            message: "\(what) cannot be translated for the provider that serves this model.", param: param)
    }

    /// A malformed part of the request.
    static func invalid(_ what: String, param: String? = nil) -> GatewayError {
        GatewayError(.invalidRequest, message: what, param: param)
    }

    /// Refuses the first member whose name is in neither list.
    static func checkFields(_ json: JSON, carried: Set<String>, ignored: Set<String>, prefix: String = "") throws(GatewayError) {
        for (name, value) in json.members ?? [] where !carried.contains(name) && !ignored.contains(name) && !value.isNull {
            throw field(prefix + name)
        }
    }
}
