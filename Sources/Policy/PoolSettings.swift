/// How the account pool reacts to failures and keeps sessions; one set per server.
public struct PoolSettings: Sendable, Equatable {
    /// Cooldown after a 429 that names no wait; doubles on each further 429 without a hint.
    public var rateLimitCooldown: Duration = .seconds(60)
    /// The longest a 429 cools an account, hinted or not, so no answer locks it out for hours.
    public var rateLimitCooldownMax: Duration = .seconds(600)
    /// Cooldown after an "overloaded" answer (529, 503 overloaded) that names no wait.
    public var overloadCooldown: Duration = .seconds(5)
    /// Transient failures (refused, reset, 5xx, timeouts) within `transientWindow` that cool an account.
    public var transientFailures = 3
    /// The window transient failures are counted in.
    public var transientWindow: Duration = .seconds(60)
    /// How long an account with too many transient failures rests.
    public var transientCooldown: Duration = .seconds(30)
    /// How long a session stays on its account after its last request.
    public var sessionTTL: Duration = .seconds(3600)
    /// The most sessions remembered; beyond it the expired, then the oldest, are forgotten.
    public var maxSessions = 100_000

    /// The longest overload cooldown there is, whatever the upstream says.
    public static let overloadCooldownCap: Duration = .seconds(10)

    /// The defaults.
    public init() {}
}
