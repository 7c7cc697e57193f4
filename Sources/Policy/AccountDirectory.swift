import SwitchboardCore

/// What the hot path knows about one upstream account.
public struct AccountEntry: Sendable, Equatable {
    /// The account's database id.
    public var id: Int64
    /// The account's unique name.
    public var name: String
    /// The provider it belongs to.
    public var provider: Provider
    /// The API root requests go to.
    public var baseURL: String
    /// The decrypted credential; nil when it could not be decrypted.
    public var secret: String?
    /// The model names clients may ask this account for.
    public var models: [String]
    /// Client model name → name sent upstream, for the models that differ.
    public var modelMap: [String: String]
    /// Lower goes first.
    public var priority: Int
    /// Whether an admin allows the account to serve.
    public var enabled: Bool
    /// Why the account cannot serve even though enabled (e.g. its secret does not
    /// decrypt); nil when it can.
    public var unusableReason: String?
    /// Its own caps on requests, tokens and concurrency.
    public var limits: AccountLimits
    /// Grows each time an admin enables the account; the pool clears the
    /// account's cooldown and health mark when it sees a new value.
    public var generation: Int64
    /// Whether Claude Code's warmup requests are answered without the upstream.
    public var interceptWarmup: Bool = false
    /// Its share of traffic among accounts of equal priority (`weight`, 1 to 1,000).
    public var weight = 1

    /// Headers added to or replacing the upstream request's (`headers`), lower-cased names.
    public var headers: [String: String] = [:]
    /// Top-level upstream body fields set to fixed JSON (`body_overrides`), name → JSON text.
    public var bodyOverrides: [String: String] = [:]

    /// Header names an account may not set: the credential, and what HTTP itself manages.
    public static let reservedHeaders: Set<String> = [
        "authorization", "x-api-key", "api-key", "x-goog-api-key", "host", "content-length", "content-type", "connection", "keep-alive",
        "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization", "proxy-authenticate", "proxy-connection", "cookie",
    ]

    /// The weights accepted.
    public static let weights: ClosedRange<Int64> = 1...1000
    /// Responses `instructions` for requests that bring none (Codex's excepted).
    public var defaultInstructions: String?

    /// Creates an entry.
    public init(
        id: Int64, name: String, provider: Provider, baseURL: String, secret: String?,
        models: [String], modelMap: [String: String] = [:], priority: Int = 0, enabled: Bool = true,
        unusableReason: String? = nil, limits: AccountLimits = .init(), generation: Int64 = 0
    ) {
        self.id = id
        self.name = name
        self.provider = provider
        self.baseURL = baseURL
        self.secret = secret
        self.models = models
        self.modelMap = modelMap
        self.priority = priority
        self.enabled = enabled
        self.unusableReason = unusableReason
        self.limits = limits
        self.generation = generation
    }

    /// The name to send upstream for a client's model name.
    public func upstreamModel(for model: String) -> String { modelMap[model] ?? model }
}

extension AccountEntry: CustomStringConvertible {
    /// The account without its secret, safe to log.
    public var description: String { "Account(\(name), \(provider.rawValue), \(baseURL))" }
}

/// The accounts that list a model, before the pool looks at their live state.
public enum Selection: Sendable, Equatable {
    /// Accounts that serve the model, by priority then age; disabled ones
    /// included, so the pool can say why it skipped them.
    case candidates([AccountEntry])
    /// No account lists the model at all.
    case unknownModel
    /// Accounts list the model but only speak other dialects, and this request
    /// cannot be translated.
    case otherDialectOnly
}

/// Every account, indexed by model; an immutable snapshot swapped in as a whole.
public struct AccountDirectory: Sendable {
    /// All accounts, by id order.
    public let accounts: [AccountEntry]
    private let byModel: [String: [AccountEntry]]

    /// Indexes the given accounts.
    public init(accounts: [AccountEntry] = []) {
        self.accounts = accounts.sorted { $0.id < $1.id }
        var byModel: [String: [AccountEntry]] = [:]
        for account in self.accounts {
            for model in Set(account.models) { byModel[model, default: []].append(account) }
        }
        self.byModel = byModel.mapValues { list in
            list.sorted { ($0.priority, $0.id) < ($1.priority, $1.id) }
        }
    }

    /// The accounts that list `model` for a client speaking `dialect`, by priority
    /// then age; which of them can serve now is the pool's decision. Accounts
    /// that speak the dialect relay it untouched, so they are the candidates
    /// whenever there are any; otherwise, when `translate` allows, every account
    /// listing the model is.
    public func select(model: String, dialect: Dialect, translate: Bool) -> Selection {
        guard let listed = byModel[model], !listed.isEmpty else { return .unknownModel }
        let sameDialect = listed.filter { $0.provider.speaks(dialect) }
        guard sameDialect.isEmpty else { return .candidates(sameDialect) }
        return translate ? .candidates(listed) : .otherDialectOnly
    }

    /// The models a client can be served now (by an enabled, usable account),
    /// with their provider, sorted; `translate` counts accounts of other dialects.
    public func servableModels(dialect: Dialect, translate: Bool) -> [(model: String, provider: Provider)] {
        byModel.compactMap { model, accounts in
            let usable = accounts.filter { $0.enabled && $0.unusableReason == nil }
            return (usable.first { $0.provider.speaks(dialect) } ?? (translate ? usable.first : nil)).map { (model, $0.provider) }
        }.sorted { $0.model < $1.model }
    }
}
