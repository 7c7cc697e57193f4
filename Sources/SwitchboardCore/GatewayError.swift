/// What went wrong with a request, as a fixed code the client's dialect renders.
///
/// Messages are fixed or built from values the client sent itself (a model name);
/// they never carry keys, upstream secrets, prompts or upstream bodies.
public struct GatewayError: Error, Hashable, Sendable {
    /// The fixed codes, each with its HTTP status and meaning.
    public enum Code: String, Sendable, CaseIterable {
        case invalidJSON = "invalid_json"
        case invalidRequest = "invalid_request"
        case missingModel = "missing_model"
        case bodyTooLarge = "body_too_large"
        case unauthorized = "invalid_api_key"
        case modelNotFound = "model_not_found"
        case routeNotFound = "route_not_found"
        case methodNotAllowed = "method_not_allowed"
        case noUsableAccount = "no_usable_account"
        case accountsCoolingDown = "accounts_cooling_down"
        case accountsAtCapacity = "accounts_at_capacity"
        case clientNotAllowed = "client_not_allowed"
        case ipNotAllowed = "ip_not_allowed"
        case modelNotAllowed = "model_not_allowed"
        case providerNotAllowed = "provider_not_allowed"
        case sessionQuarantined = "session_quarantined"
        case keyRateLimited = "key_rate_limited"
        case keyConcurrencyLimited = "key_concurrency_limited"
        case insufficientQuota = "insufficient_quota"
        case upstreamRateLimited = "upstream_rate_limited"
        case upstreamOverloaded = "upstream_overloaded"
        case upstreamUnavailable = "upstream_unavailable"
        case upstreamTimeout = "upstream_timeout"
        case upstreamAuthFailed = "upstream_auth_failed"
        case upstreamBadResponse = "upstream_bad_response"
        case shuttingDown = "shutting_down"
        case ledgerUnavailable = "ledger_unavailable"
        /// The database replicas share limits through cannot be reached: a limited key's request is not admitted unchecked.
        case storeUnavailable = "store_unavailable"
        case internalError = "internal_error"

        /// The HTTP status a client gets for this code.
        public var status: Int {
            switch self {
            case .invalidJSON, .invalidRequest, .missingModel: return 400
            case .unauthorized: return 401
            case .modelNotFound, .routeNotFound: return 404
            case .methodNotAllowed: return 405
            case .bodyTooLarge: return 413
            case .upstreamRateLimited, .accountsCoolingDown, .accountsAtCapacity, .keyRateLimited, .keyConcurrencyLimited,
                .insufficientQuota:
                return 429
            case .clientNotAllowed, .ipNotAllowed, .modelNotAllowed, .providerNotAllowed, .sessionQuarantined: return 403
            case .internalError: return 500
            case .upstreamAuthFailed, .upstreamBadResponse: return 502
            case .noUsableAccount, .upstreamUnavailable, .shuttingDown, .ledgerUnavailable, .storeUnavailable: return 503
            case .upstreamOverloaded: return 529
            case .upstreamTimeout: return 504
            }
        }
    }

    /// The fixed code.
    public var code: Code
    /// A human sentence safe to show the client.
    public var message: String
    /// Seconds after which a retry may succeed, sent as `Retry-After`.
    public var retryAfterSeconds: Int?
    /// The request field at fault, where there is one (OpenAI's `param`).
    public var param: String?

    /// Creates an error; the message defaults to the code's standard sentence.
    public init(_ code: Code, message: String? = nil, retryAfterSeconds: Int? = nil, param: String? = nil) {
        self.code = code
        self.message = message ?? GatewayError.standardMessage(code)
        self.retryAfterSeconds = retryAfterSeconds
        self.param = param
    }

    /// The HTTP status.
    public var status: Int { code.status }

    /// The HTTP status in a dialect: an exhausted quota is Anthropic's 402
    /// `billing_error` but OpenAI's 429 `insufficient_quota`.
    public func status(in dialect: Dialect) -> Int {
        code == .insufficientQuota && dialect == .anthropicMessages ? 402 : code.status
    }

    /// Whether SDKs should not retry it on their own (`x-should-retry: false`):
    /// an exhausted quota does not come back by retrying.
    public var retryIsFutile: Bool { code == .insufficientQuota }

    /// The sentence used when no more specific one is given.
    public static func standardMessage(_ code: Code) -> String {
        switch code {
        case .invalidJSON: return "The request body is not valid JSON."
        case .invalidRequest: return "The request is not valid."
        case .missingModel: return "The request body must name a model in the \"model\" field."
        case .bodyTooLarge: return "The request body is larger than this gateway accepts."
        case .unauthorized: return "Invalid API key. Provide a valid Switchboard key."
        case .modelNotFound: return "The model does not exist or this key cannot use it."
        case .routeNotFound: return "There is no such route on this gateway."
        case .methodNotAllowed: return "This route does not accept that method."
        case .noUsableAccount: return "No upstream account can serve this model right now."
        case .accountsCoolingDown: return "Every upstream account for this model is cooling down after rate limits. Retry after the time given."
        case .clientNotAllowed: return "This key may not be used from this client."
        case .ipNotAllowed: return "This key may not be used from this address."
        case .modelNotAllowed: return "This key may not use this model."
        case .providerNotAllowed: return "This key may not use the providers that serve this model."
        case .sessionQuarantined:
            return "The upstream provider flagged the account serving this session; the session is quarantined until an admin releases it."
        case .keyRateLimited: return "This key's rate limit is reached. Retry after the time given."
        case .keyConcurrencyLimited: return "This key has as many requests in flight as it may. Retry shortly."
        case .insufficientQuota: return "This key's quota is used up. Top up its balance or raise its limit."
        case .accountsAtCapacity: return "Every upstream account for this model is at its request, token or concurrency cap. Retry shortly."
        case .upstreamRateLimited: return "The upstream provider is rate limiting requests. Retry later."
        case .upstreamOverloaded: return "The upstream provider is overloaded. Retry later."
        case .upstreamUnavailable: return "The upstream provider could not be reached."
        case .upstreamTimeout: return "The upstream provider did not answer in time."
        case .upstreamAuthFailed: return "The gateway's upstream credentials were refused."
        case .upstreamBadResponse: return "The upstream provider sent a response the gateway could not use."
        case .shuttingDown: return "The gateway is shutting down. Retry shortly."
        case .ledgerUnavailable: return "The gateway cannot record requests right now. Retry shortly."
        case .storeUnavailable: return "The gateway cannot check this key's shared limits right now; nothing was spent. Retry shortly."
        case .internalError: return "The gateway failed to handle the request."
        }
    }
}
