import SwitchboardCore

/// Which client addresses a key or a user may be used from: `ip_deny` ranges
/// are refused first, then, when `ip_allow` is set, only its ranges pass. The
/// address is the one the ledger records (`X-Forwarded-For` only from
/// `trusted_proxies`); a request whose address is unknown passes only where no
/// `ip_allow` is set.
public struct AddressRules: Sendable, Equatable, Codable {
    public var allow: [CIDR]?
    public var deny: [CIDR]?

    public init(allow: [CIDR]? = nil, deny: [CIDR]? = nil) {
        self.allow = allow
        self.deny = deny
    }

    /// Whether there is any rule at all (most keys have none, and skip the address).
    public var isEmpty: Bool { allow == nil && (deny ?? []).isEmpty }

    /// Whether a request from `address` passes.
    public func admits(_ address: IPAddress?) -> Bool {
        guard let address else { return allow == nil }
        if let deny, deny.contains(where: { $0.contains(address) }) { return false }
        guard let allow else { return true }
        return allow.contains { $0.contains(address) }
    }
}
