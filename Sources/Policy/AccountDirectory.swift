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

    /// Creates an entry.
    public init(
        id: Int64, name: String, provider: Provider, baseURL: String, secret: String?,
        models: [String], modelMap: [String: String] = [:], priority: Int = 0, enabled: Bool = true,
        unusableReason: String? = nil
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
    }

    /// The name to send upstream for a client's model name.
    public func upstreamModel(for model: String) -> String { modelMap[model] ?? model }
}

extension AccountEntry: CustomStringConvertible {
    /// The account without its secret, safe to log.
    public var description: String { "Account(\(name), \(provider.rawValue), \(baseURL))" }
}

/// The outcome of choosing accounts for a request.
public enum Selection: Sendable, Equatable {
    /// Accounts to try, in order.
    case candidates([AccountEntry])
    /// No account lists the model at all.
    case unknownModel
    /// Accounts list the model but only speak other dialects.
    case otherDialectOnly
    /// Accounts list the model but none can serve now; each skipped one and why.
    case noneUsable([(account: String, reason: String)])

    public static func == (lhs: Selection, rhs: Selection) -> Bool {
        switch (lhs, rhs) {
        case let (.candidates(a), .candidates(b)): return a == b
        case (.unknownModel, .unknownModel), (.otherDialectOnly, .otherDialectOnly): return true
        case let (.noneUsable(a), .noneUsable(b)): return a.map(\.account) == b.map(\.account) && a.map(\.reason) == b.map(\.reason)
        default: return false
        }
    }
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

    /// Chooses the accounts that may serve `model` for a client speaking `dialect`,
    /// in the order to try them: lower priority value first, then older account.
    public func select(model: String, dialect: Dialect) -> Selection {
        guard let listed = byModel[model], !listed.isEmpty else { return .unknownModel }
        let sameDialect = listed.filter { $0.provider.nativeDialect == dialect }
        guard !sameDialect.isEmpty else { return .otherDialectOnly }
        var skipped: [(account: String, reason: String)] = []
        var usable: [AccountEntry] = []
        for account in sameDialect {
            if !account.enabled {
                skipped.append((account.name, "disabled"))
            } else if let reason = account.unusableReason {
                skipped.append((account.name, reason))
            } else {
                usable.append(account)
            }
        }
        return usable.isEmpty ? .noneUsable(skipped) : .candidates(usable)
    }

    /// The models a client speaking `dialect` can be served now (by an enabled,
    /// usable account of that dialect), with their provider, sorted.
    public func servableModels(dialect: Dialect) -> [(model: String, provider: Provider)] {
        byModel.compactMap { model, accounts in
            accounts.first { $0.enabled && $0.unusableReason == nil && $0.provider.nativeDialect == dialect }
                .map { (model, $0.provider) }
        }.sorted { $0.model < $1.model }
    }
}
