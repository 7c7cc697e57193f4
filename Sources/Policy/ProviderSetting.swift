import SwitchboardCore

/// What applies to all of one provider's accounts (`providers: {anthropic: {max_failovers: 1}}`).
public struct ProviderSetting: Sendable, Equatable {
    public var provider: Provider
    /// Attempts after the first that one request may make on this provider's
    /// accounts before only other providers' accounts may serve it; nil: no cap
    /// beyond the gateway's (or the alias's) `max_failovers`.
    public var maxFailovers: Int?

    public init(provider: Provider, maxFailovers: Int? = nil) {
        self.provider = provider
        self.maxFailovers = maxFailovers
    }
}
