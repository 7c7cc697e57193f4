#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One account's live state, as admins see it.
public struct AccountStatus: Sendable, Equatable, Codable {
    public var id: Int64
    public var name: String
    /// The enable generation this state belongs to.
    public var generation: Int64
    /// `ready`, `disabled`, `unhealthy`, `cooling_down`, `rpm_cap`, `tpm_cap` or `full`.
    public var state: String
    /// Why the account is not ready, in words; nil when ready.
    public var reason: String?
    public var inFlight: Int
    public var waiting: Int
    public var windowRequests: Int
    public var windowTokens: Int64
    public var totalRequests: Int64
    public var totalTokens: Int64
    public var totalFailures: Int64
    public var lastUsed: Date?
    public var lastError: String?
    public var lastErrorAt: Date?
    /// When the upstream last answered 429.
    public var last429At: Date?
    public var cooldownUntil: Date?
    public var cooldownCause: String?
    /// The pool's own health mark (the upstream refused the credentials), apart
    /// from reasons the configuration gives (disabled, secret unusable).
    public var healthMark: String?

    /// The names as written; `last_429_at` spelled out, since snake-casing `last429At` would not put the underscore before 429.
    enum CodingKeys: String, CodingKey {
        case id, name, generation, state, reason, inFlight, waiting, windowRequests, windowTokens, totalRequests, totalTokens, totalFailures
        case lastUsed, lastError, lastErrorAt, cooldownUntil, cooldownCause, healthMark
        case last429At = "last_429_at"
    }

    init(entry: AccountEntry, state current: AccountState, reason skip: SkipReason?, now: Date) {
        id = entry.id
        name = entry.name
        generation = current.generation
        switch skip {
        case nil: (state, reason) = ("ready", nil)
        case .disabled: (state, reason) = ("disabled", "disabled by an admin")
        case .unhealthy(let why): (state, reason) = ("unhealthy", why)
        case .coolingDown(_, let cause): (state, reason) = ("cooling_down", cause.rawValue)
        case .requestCap: (state, reason) = ("rpm_cap", "at its requests-per-minute cap")
        case .tokenCap: (state, reason) = ("tpm_cap", "at its tokens-per-minute cap")
        case .full, .alreadyTried: (state, reason) = ("full", "every concurrency slot is taken")
        }
        inFlight = current.inFlight
        waiting = current.waiters.count
        let window = current.window.totals(at: now)
        windowRequests = window.requests
        windowTokens = window.tokens
        totalRequests = current.totalRequests
        totalTokens = current.totalTokens
        totalFailures = current.totalFailures
        lastUsed = current.lastUsed
        lastError = current.lastError
        lastErrorAt = current.lastErrorAt
        last429At = current.lastRateLimitedAt
        cooldownUntil = current.cooldownUntil.flatMap { $0 > now ? $0 : nil }
        cooldownCause = cooldownUntil == nil ? nil : current.cooldownCause?.rawValue
        healthMark = current.unhealthy
    }
}
