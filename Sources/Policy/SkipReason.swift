#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Why a cooldown started.
public enum CooldownCause: String, Sendable, Equatable {
    /// The upstream answered 429.
    case rateLimited = "rate_limited"
    /// The upstream said it is overloaded (529, 503 overloaded).
    case overloaded
    /// Too many refused connections, timeouts or 5xx answers in a short time.
    case transientFailures = "transient_failures"
    /// The upstream answered 404 (no such route or model) repeatedly.
    case notFound = "not_found"
}

/// Why the pool passed over an account for a request.
public enum SkipReason: Sendable, Equatable {
    /// An admin disabled it.
    case disabled
    /// It cannot serve until an admin acts (its secret does not open, the upstream refused its credentials).
    case unhealthy(String)
    /// It is cooling down until the given time.
    case coolingDown(until: Date, cause: CooldownCause)
    /// It reached its requests-per-minute cap; a slot frees at the given time.
    case requestCap(until: Date)
    /// It reached its tokens-per-minute cap; tokens free at the given time.
    case tokenCap(until: Date)
    /// Every concurrency slot is taken; `canWait` when its queue has room.
    case full(canWait: Bool)
    /// This request already tried it.
    case alreadyTried

    /// Whether the account will serve again without an admin.
    public var isTemporary: Bool {
        switch self {
        case .disabled, .unhealthy: return false
        case .coolingDown, .requestCap, .tokenCap, .full, .alreadyTried: return true
        }
    }

    /// When the account is expected to serve again, where that is known.
    public var recovery: Date? {
        switch self {
        case .coolingDown(let until, _), .requestCap(let until), .tokenCap(let until): return until
        default: return nil
        }
    }

    /// A short form for ledger rows and logs, e.g. `cooling(rate_limited,12s)`.
    public func compact(now: Date) -> String {
        func left(_ until: Date) -> String { "\(max(0, Int((until.timeIntervalSince(now)).rounded(.up))))s" }
        switch self {
        case .disabled: return "disabled"
        case .unhealthy: return "unhealthy"
        case .coolingDown(let until, let cause): return "cooling(\(cause.rawValue),\(left(until)))"
        case .requestCap(let until): return "rpm_cap(\(left(until)))"
        case .tokenCap(let until): return "tpm_cap(\(left(until)))"
        case .full: return "full"
        case .alreadyTried: return "tried"
        }
    }
}
