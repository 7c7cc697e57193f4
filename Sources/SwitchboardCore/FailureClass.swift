/// How a failed upstream attempt is understood; it alone drives retry, cooldown and
/// failover, and it is decided in one place (`FailureClass.classify`).
public enum FailureClass: String, Sendable, Hashable {
    /// The upstream refused the account's credentials (401, 403).
    case credential
    /// The upstream rate limited the account (429).
    case rateLimited = "rate_limited"
    /// The upstream is overloaded (529, 503 overloaded).
    case overloaded
    /// The connection failed, timed out, or the upstream broke (other 5xx).
    case transient
    /// The upstream has no such route or model (404): the account's base URL
    /// or model mapping is wrong, not the client's request. Fails over and
    /// cools the account like transient failures, under a cause of its own.
    case notFound = "not_found"
    /// The client's own request was at fault (other 4xx); never the account's fault.
    case callerFault = "caller_fault"

    /// Classifies an upstream HTTP status that is not a success.
    ///
    /// `bodyHint` is a short prefix of the error body, consulted only to tell a 503
    /// "overloaded" answer from other 503s; it is never logged or shown.
    public static func classify(status: Int, bodyHint: String = "") -> FailureClass {
        switch status {
        case 401, 402, 403: return .credential  // 402: the account is out of credit
        case 404: return .notFound
        case 429: return .rateLimited
        case 529: return .overloaded
        case 503 where bodyHint.lowercased().contains("overload"): return .overloaded
        case 408: return .transient
        case 400..<500: return .callerFault
        default: return .transient
        }
    }

    /// Classifies an error an upstream reported inside a stream (the `type` of an
    /// Anthropic `event: error` or an OpenAI `{"error":…}` chunk).
    public static func classify(errorType: String) -> FailureClass {
        switch errorType {
        // Anthropic and OpenAI error types, then Gemini's status names.
        case "overloaded_error", "UNAVAILABLE": return .overloaded
        case "rate_limit_error", "rate_limit_exceeded", "requests", "tokens", "RESOURCE_EXHAUSTED": return .rateLimited
        case "authentication_error", "permission_error", "billing_error", "insufficient_quota", "UNAUTHENTICATED", "PERMISSION_DENIED":
            return .credential
        case "invalid_request_error", "request_too_large", "not_found_error", "invalid_prompt", "context_length_exceeded",
            "INVALID_ARGUMENT", "FAILED_PRECONDITION", "NOT_FOUND":
            return .callerFault
        default: return .transient
        }
    }

    /// Classifies a transport failure (nothing usable came back).
    public static func classify(transport: TransportFailure) -> FailureClass { .transient }

    /// The error the client sees when every attempt ended in this class.
    public var clientError: GatewayError.Code {
        switch self {
        case .credential: return .upstreamAuthFailed
        case .rateLimited: return .upstreamRateLimited
        case .overloaded: return .upstreamOverloaded
        case .transient, .notFound: return .upstreamUnavailable
        case .callerFault: return .invalidRequest
        }
    }
}

/// A failure to talk to the upstream at all, independent of the HTTP client used.
public enum TransportFailure: String, Sendable, Hashable, Error {
    /// The connection was refused or could not be made.
    case connectFailed = "connect_failed"
    /// No response head arrived before the first-byte deadline.
    case firstByteTimeout = "first_byte_timeout"
    /// The stream went silent longer than the idle timeout.
    case idleTimeout = "idle_timeout"
    /// The connection was reset or closed early.
    case connectionReset = "connection_reset"
    /// The response could not be read (bad framing, too large).
    case badResponse = "bad_response"
    /// The upstream's address is not one accounts may reach (private, loopback, link-local).
    case addressRefused = "address_refused"
    /// This process could not open a socket (out of file descriptors): the
    /// gateway's own trouble, which no account is blamed for and another
    /// account would meet as well.
    case outOfDescriptors = "out_of_descriptors"
    /// Anything else.
    case other
}
