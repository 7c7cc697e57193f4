public import NIOCore
public import SwitchboardCore

/// Renders gateway errors in each dialect's own shape, as JSON bodies and as
/// the final event of a stream that already started.
public enum ErrorBody {
    /// The JSON body of an error response.
    public static func json(_ error: GatewayError, dialect: Dialect, requestID: String) -> ByteBuffer {
        ByteBuffer(string: jsonText(error, dialect: dialect, requestID: requestID))
    }

    /// The SSE event that ends a stream with this error. `opening`: nothing of
    /// the stream has been sent yet (a request refused while it waited), so a
    /// Responses stream first gets the `response.created` its SDK expects.
    public static func streamEvent(_ error: GatewayError, dialect: Dialect, requestID: String, opening: Bool = false) -> ByteBuffer {
        streamEvent(json: jsonText(error, dialect: dialect, requestID: requestID), dialect: dialect, opening: opening)
    }

    /// An error body already in the dialect's JSON shape, framed as the stream's final event.
    public static func streamEvent(json body: String, dialect: Dialect, opening: Bool = false) -> ByteBuffer {
        switch dialect {
        case .openAIChat, .gemini: return ByteBuffer(string: "data: \(body)\n\n")
        case .anthropicMessages: return ByteBuffer(string: "event: error\ndata: \(body)\n\n")
        case .openAIResponses:
            let created = #"{"type":"response.created","sequence_number":0,"response":\#(failedResponse(status: "in_progress", error: "null"))}"#
            let failed = "event: response.failed\ndata: \(responseFailed(errorJSON: body, sequence: opening ? 1 : 0))\n\n"
            return ByteBuffer(string: opening ? "event: response.created\ndata: \(created)\n\n" + failed : failed)
        }
    }

    /// The response object of a failed (or, at first, in-progress) gateway-made stream.
    static func failedResponse(status: String, error: String) -> String {
        #"{"id":"resp_failed","object":"response","created_at":0,"status":"\#(status)","error":\#(error),"#
            + #""incomplete_details":null,"output":[],"usage":null}"#
    }

    /// A Responses `response.failed` event carrying an OpenAI-shaped error body's
    /// code and message.
    static func responseFailed(errorJSON body: String, sequence: Int) -> String {
        var text = body
        let (code, message) = text.withUTF8 { bytes -> (String, String) in
            let reader = JSONReader(UnsafeRawBufferPointer(bytes))
            guard let root = try? reader.validateDocument(), let error = reader.member("error", of: root) else {
                return ("server_error", "The upstream stream failed.")
            }
            func field(_ name: String) -> String? { reader.member(name, of: error).flatMap(reader.string) }
            return (field("code") ?? field("type") ?? field("status") ?? "server_error", field("message") ?? "The upstream stream failed.")
        }
        let error = #"{"code":\#(jsonStringLiteral(code)),"message":\#(jsonStringLiteral(message))}"#
        return #"{"type":"response.failed","sequence_number":\#(sequence),"response":\#(failedResponse(status: "failed", error: error))}"#
    }

    static func jsonText(_ error: GatewayError, dialect: Dialect, requestID: String) -> String {
        let message = jsonStringLiteral(error.message)
        switch dialect {
        case .openAIChat, .openAIResponses:
            let param = error.param.map(jsonStringLiteral) ?? "null"
            let type = error.code == .insufficientQuota ? "insufficient_quota" : openAIType(error.status(in: dialect))
            return #"{"error":{"message":\#(message),"type":"\#(type)","param":\#(param),"code":"\#(error.code.rawValue)"}}"#
        case .anthropicMessages:
            return #"{"type":"error","error":{"type":"\#(anthropicType(error.status(in: dialect)))","message":\#(message)}}"#
        case .gemini:
            let status = error.status(in: dialect)
            return #"{"error":{"code":\#(status),"message":\#(message),"status":"\#(geminiStatus(status))"}}"#
        }
    }

    /// Google's canonical status name for an HTTP status.
    static func geminiStatus(_ status: Int) -> String {
        switch status {
        case 401: return "UNAUTHENTICATED"
        case 403: return "PERMISSION_DENIED"
        case 404: return "NOT_FOUND"
        case 429: return "RESOURCE_EXHAUSTED"
        case 400..<500: return "INVALID_ARGUMENT"
        case 501: return "UNIMPLEMENTED"
        case 503, 529: return "UNAVAILABLE"
        case 504: return "DEADLINE_EXCEEDED"
        default: return "INTERNAL"
        }
    }

    /// OpenAI's error `type` for a status.
    static func openAIType(_ status: Int) -> String {
        switch status {
        case 401: return "authentication_error"
        case 403: return "permission_error"
        case 429: return "rate_limit_error"
        case 400..<500: return "invalid_request_error"
        default: return "server_error"
        }
    }

    /// Anthropic's error `type` for a status.
    static func anthropicType(_ status: Int) -> String {
        switch status {
        case 401: return "authentication_error"
        case 402: return "billing_error"
        case 403: return "permission_error"
        case 404: return "not_found_error"
        case 413: return "request_too_large"
        case 429: return "rate_limit_error"
        case 400..<500: return "invalid_request_error"
        case 504: return "timeout_error"
        case 529: return "overloaded_error"
        default: return "api_error"
        }
    }
}
