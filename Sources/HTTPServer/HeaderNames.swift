import HTTPTypes

/// Header names used on every request, made once.
enum HeaderNames {
    static let requestID = HTTPField.Name("x-request-id")!
    static let anthropicRequestID = HTTPField.Name("request-id")!
    static let apiKey = HTTPField.Name("x-api-key")!
    static let googAPIKey = HTTPField.Name("x-goog-api-key")!
    static let anthropicVersion = HTTPField.Name("anthropic-version")!
    static let anthropicBeta = HTTPField.Name("anthropic-beta")!
    static let retryAfter = HTTPField.Name("retry-after")!

    /// Request headers the engine may need, by lowercase name.
    static let passedToEngine: [(HTTPField.Name, String)] = [
        (anthropicVersion, "anthropic-version"),
        (anthropicBeta, "anthropic-beta"),
        (.userAgent, "user-agent"),
    ]

    /// A name for a header the engine returns; the common ones are not rebuilt.
    static func name(_ text: String) -> HTTPField.Name? {
        switch text {
        case "content-type": return .contentType
        case "cache-control": return .cacheControl
        case "retry-after": return retryAfter
        default: return HTTPField.Name(text)
        }
    }
}
