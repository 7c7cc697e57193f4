import SwitchboardCore

/// An account's routing and egress settings that the hot path reads but no
/// query filters on: stored together as one JSON document (`options`), so a new
/// one needs no migration.
public struct AccountOptions: Sendable, Equatable, Codable {
    /// The pools the account belongs to (`pools`); an account in none is shared.
    public var pools: [String]?
    /// The concrete models behind its globs (`model_list`), for `/v1/models`:
    /// fetched by `accounts sync-models` or set by hand.
    public var modelList: [String]?
    /// The header the credential goes in (`auth_header`), for OpenAI-compatible
    /// upstreams that do not read `Authorization: Bearer`.
    public var authHeader: String?
    /// Azure OpenAI: the deployment requests go to (`{model}` stands for the
    /// upstream model name; the default), and the `api-version` query value.
    public var deployment: String?
    public var apiVersion: String?
    /// Text in an upstream refusal that means this account is banned (`ban_patterns`, case-insensitive).
    public var banPatterns: [String]?
    /// The proxy its requests go through (`http://HOST:PORT`, `socks5://HOST:PORT`),
    /// or `direct` to bypass the gateway's `upstream_proxy`; nil: the gateway's.
    public var proxy: String?

    public init() {}

    /// Whether nothing is set.
    public var isEmpty: Bool { self == AccountOptions() }
}

/// Which accounts a key, user or group may route to (`pools`, `accounts`,
/// `fallback_to_shared`). Unbound, a request goes to shared accounts (those in
/// no pool); bound, only to its pools' and named accounts, and to shared ones
/// after them only when `fallbackToShared`.
public struct AccountBinding: Sendable, Hashable, Codable {
    public var pools: [String]
    public var accounts: [String]
    public var fallbackToShared: Bool

    public init(pools: [String] = [], accounts: [String] = [], fallbackToShared: Bool = false) {
        self.pools = pools
        self.accounts = accounts
        self.fallbackToShared = fallbackToShared
    }

    /// Whether it binds to nothing (and so means "shared accounts", as none does).
    public var isEmpty: Bool { pools.isEmpty && accounts.isEmpty }

    /// Whether the binding reserves this account for its holder.
    public func reserves(_ account: AccountEntry) -> Bool {
        accounts.contains(account.name) || account.pools.contains { pools.contains($0) }
    }

    /// The binding that decides for a key: its own, else its user's, else its group's.
    public static func effective(key: KeyPolicy, owner: Owner?) -> AccountBinding? {
        [key.binding, owner?.user.binding, owner?.group?.binding].lazy.compactMap { $0 }.first { !$0.isEmpty }
    }
}
