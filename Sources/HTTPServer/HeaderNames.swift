import Engine
import HTTPTypes
import Upstream

/// Header names used on every request, made once.
enum HeaderNames {
    static let requestID = HTTPField.Name("x-request-id")!
    static let anthropicRequestID = HTTPField.Name("request-id")!
    static let apiKey = HTTPField.Name("x-api-key")!
    static let googAPIKey = HTTPField.Name("x-goog-api-key")!
    /// Sent by Google's SDKs (google-genai, LangChain's integration) with every request.
    static let googAPIClient = HTTPField.Name("x-goog-api-client")!
    static let anthropicVersion = HTTPField.Name("anthropic-version")!
    static let retryAfter = HTTPField.Name("retry-after")!
    /// Set by browsers on every request: where the page that made it came from.
    static let fetchSite = HTTPField.Name("sec-fetch-site")!
    /// Read (every occurrence) for the client's address behind a trusted proxy; never forwarded.
    static let forwardedFor = HTTPField.Name("x-forwarded-for")!

    /// Request headers the engine may need (those it forwards upstream, those
    /// that name a session, W3C trace context), by lowercase name.
    static let passedToEngine: Set<String> = Set(
        UpstreamRequest.forwardableHeaders + Gateway.sessionHeaders + ["originator"] + Gateway.traceHeaders)

    /// A name for a header the engine returns; the common ones are not rebuilt.
    static func name(_ text: String) -> HTTPField.Name? {
        switch text {
        case "content-type": return .contentType
        case "cache-control": return .cacheControl
        case "retry-after": return retryAfter
        case "connection": return .connection
        default: return HTTPField.Name(text)
        }
    }
}
