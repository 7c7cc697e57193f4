/// An account's own caps, as an admin set them; nil means no cap.
public struct AccountLimits: Sendable, Equatable {
    /// Requests in any 60-second window.
    public var maxRPM: Int?
    /// Tokens (input, cache and output) in a 60-second window.
    public var maxTPM: Int?
    /// Requests in flight at once.
    public var maxConcurrency: Int?
    /// Requests allowed to queue for a slot when the account is full.
    public var maxWaiting: Int
    /// How long a queued request waits for a slot before it is refused.
    public var waitTimeout: Duration

    /// Creates limits; the defaults cap nothing.
    public init(
        maxRPM: Int? = nil, maxTPM: Int? = nil, maxConcurrency: Int? = nil, maxWaiting: Int = 0,
        waitTimeout: Duration = .seconds(30)
    ) {
        self.maxRPM = maxRPM
        self.maxTPM = maxTPM
        self.maxConcurrency = maxConcurrency
        self.maxWaiting = maxWaiting
        self.waitTimeout = waitTimeout
    }
}
