import SwitchboardCore
import Synchronization

/// What the hot path knows about one upstream account: its `Fields`, read and
/// set as the entry's own (`entry.name`), kept in one shared box (`SharedFields`):
/// an entry is copied several times per request (candidates, skips, the lease).
@dynamicMemberLookup
public struct AccountEntry: Sendable, Equatable {
    public struct Fields: Sendable, Equatable {
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
        public var weight: Int = 1
        /// Headers added to or replacing the upstream request's (`headers`), lower-cased names.
        public var headers: [String: String] = [:]
        /// Top-level upstream body fields set to fixed JSON (`body_overrides`), name → JSON text.
        public var bodyOverrides: [String: String] = [:]
        /// Pools, model list and egress settings (`pools`, `model_list`, `auth_header`, Azure's).
        public var options: AccountOptions = AccountOptions()
        /// The proxy's password, opened from its seal (never shown).
        public var proxyPassword: String?
        /// Responses `instructions` for requests that bring none (Codex's excepted).
        public var defaultInstructions: String?
    }

    @usableFromInline var shared: SharedFields<Fields>

    @inlinable public subscript<Value>(dynamicMember field: WritableKeyPath<Fields, Value>) -> Value {
        get { shared[field] }
        set { shared.fields[keyPath: field] = newValue }
    }

    /// The pools the account belongs to; none makes it shared.
    public var pools: [String] { self.options.pools ?? [] }

    /// Header names an account may not set: the credential, and what HTTP itself manages.
    public static let reservedHeaders: Set<String> = [
        "authorization", "x-api-key", "api-key", "x-goog-api-key", "host", "content-length", "content-type", "connection", "keep-alive",
        "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization", "proxy-authenticate", "proxy-connection", "cookie",
    ]

    /// The headers providers read credentials from.
    public static let credentialHeaders: Set<String> = ["authorization", "x-api-key", "api-key", "x-goog-api-key"]

    /// The weights accepted.
    public static let weights: ClosedRange<Int64> = 1...1000

    /// Creates an entry.
    public init(
        id: Int64, name: String, provider: Provider, baseURL: String, secret: String?,
        models: [String], modelMap: [String: String] = [:], priority: Int = 0, enabled: Bool = true,
        unusableReason: String? = nil, limits: AccountLimits = .init(), generation: Int64 = 0
    ) {
        shared = SharedFields(
            Fields(
                id: id, name: name, provider: provider, baseURL: baseURL, secret: secret, models: models, modelMap: modelMap,
                priority: priority, enabled: enabled, unusableReason: unusableReason, limits: limits, generation: generation))
    }

    /// The name to send upstream for a client's model name: its exact entry in
    /// `model_map`, else the longest glob entry matching it (with what its `*`s
    /// matched carried into the target's), else the name itself.
    public func upstreamModel(for model: String) -> String {
        if self.modelMap.isEmpty { return model }
        if let exact = self.modelMap[model] { return exact }
        let glob = self.modelMap.filter { Glob.isPattern($0.key) && Glob.matches($0.key, model) }
            .max { ($0.key.count, $1.key) < ($1.key.count, $0.key) }
        guard let glob, let captures = Glob.captures(glob.key, model) else { return model }
        return Glob.substitute(glob.value, captures: captures)
    }

    /// Whether the account serves `model`: listed by name or by a glob (`claude-*`, `*`).
    public func serves(_ model: String) -> Bool { self.models.contains { $0 == model || (Glob.isPattern($0) && Glob.matches($0, model)) } }

    /// The concrete models it can be asked for: its names, and the `model_list`
    /// entries its globs admit.
    public var concreteModels: [String] {
        let names = self.models.filter { !Glob.isPattern($0) }
        let globs = self.models.filter(Glob.isPattern)
        guard !globs.isEmpty else { return names }
        return names + (self.options.modelList ?? []).filter { model in globs.contains { Glob.matches($0, model) } }
    }
}

extension AccountEntry: CustomStringConvertible {
    /// The account without its secret, safe to log.
    public var description: String { "Account(\(self.name), \(self.provider.rawValue), \(self.baseURL))" }
}

/// The accounts that list a model, before the pool looks at their live state.
public enum Selection: Sendable, Equatable {
    /// Accounts that serve the model, by priority then age; disabled ones
    /// included, so the pool can say why it skipped them. `translated`: accounts
    /// of other formats, tried after all of `accounts` (empty when the request
    /// cannot be translated).
    case candidates([AccountEntry], translated: [AccountEntry])
    /// No account lists the model at all.
    case unknownModel
    /// Accounts list the model but only speak other dialects, and this request
    /// cannot be translated.
    case otherDialectOnly
}

/// Which accounts a selection may draw on: the shared ones (in no pool),
/// those a binding reserves, or the shared ones a binding falls back to.
public enum SelectionScope: Sendable, Hashable {
    case shared
    case bound(AccountBinding)
    case sharedBeside(AccountBinding)

    /// Whether an account is in scope.
    public func admits(_ account: AccountEntry) -> Bool {
        switch self {
        case .shared: return account.pools.isEmpty
        case .bound(let binding): return binding.reserves(account)
        case .sharedBeside(let binding): return account.pools.isEmpty && !binding.reserves(account)
        }
    }
}

/// Every account, indexed by model; an immutable snapshot swapped in as a whole.
///
/// Selections are remembered, so a request's selection costs a lookup or two
/// however many accounts, pools and globs there are. A model name maps to its
/// signature (its exact listing and which globs match it): names that match
/// the same globs share one selection, so random names that only `*` matches
/// cost one entry, not one each. Every memo is bounded (names by count and
/// length, selections by the candidates they hold): hostile model names
/// cannot grow memory.
public final class AccountDirectory: Sendable {
    /// All accounts, by id order.
    public let accounts: [AccountEntry]
    private let byModel: [String: [AccountEntry]]
    /// Accounts that list globs, by glob (kept as UTF-8, matched without converting).
    private let byGlob: [(glob: [UInt8], accounts: [AccountEntry])]
    private let memo = Mutex(Memo())

    /// Which accounts list a model: its exact name when some account lists it, and the globs that match it.
    private struct Signature: Hashable {
        var exact: String?
        var globs: [Int]
    }

    private struct SelectionKey: Hashable {
        var signature: Int
        var dialect: Dialect
        var translate: Bool
        var scope: SelectionScope
    }

    private struct Memo {
        var names: [String: Int] = [:]
        var signatures: [Signature: Int] = [:]
        var list: [Signature] = []
        var selections: [SelectionKey: Selection] = [:]
        /// Candidates the remembered selections hold, together.
        var held = 0

        mutating func clear() { self = Memo() }
    }

    /// The most model names remembered, the longest one remembered, and the
    /// most candidates the remembered selections may hold together.
    static let memoNames = 4096
    static let memoNameBytes = 256
    static let memoCandidates = 262_144

    /// Indexes the given accounts.
    public init(accounts: [AccountEntry] = []) {
        self.accounts = accounts.sorted { $0.id < $1.id }
        var byModel: [String: [AccountEntry]] = [:]
        var byGlob: [String: [AccountEntry]] = [:]
        for account in self.accounts {
            for model in Set(account.models) {
                if Glob.isPattern(model) { byGlob[model, default: []].append(account) } else { byModel[model, default: []].append(account) }
            }
        }
        self.byModel = byModel.mapValues(Self.ranked)
        self.byGlob = byGlob.sorted { $0.key < $1.key }.map { (Array($0.key.utf8), $0.value) }
    }

    private static func ranked(_ list: [AccountEntry]) -> [AccountEntry] {
        list.sorted { ($0.priority, $0.id) < ($1.priority, $1.id) }
    }

    /// Every account that lists `model`, by name or glob, by priority then age.
    public func listing(_ model: String) -> [AccountEntry] { listing(signature(of: model)) }

    private func signature(of model: String) -> Signature {
        let text = Array(model.utf8)
        return Signature(exact: byModel[model] == nil ? nil : model, globs: byGlob.indices.filter { Glob.matches(byGlob[$0].glob, text) })
    }

    private func listing(_ signature: Signature) -> [AccountEntry] {
        let named = signature.exact.flatMap { byModel[$0] } ?? []
        guard !signature.globs.isEmpty else { return named }
        var seen = Set(named.map(\.id))
        var all = named
        for index in signature.globs {
            for account in byGlob[index].accounts where seen.insert(account.id).inserted { all.append(account) }
        }
        return Self.ranked(all)
    }

    /// The accounts in `scope` that list `model` for a client speaking
    /// `dialect`, by priority then age; which of them can serve now is the
    /// pool's decision. Accounts that speak the dialect relay it untouched, so
    /// they come first; those of other formats follow when `translate` allows
    /// (a failover across providers).
    public func select(model: String, dialect: Dialect, translate: Bool, scope: SelectionScope = .shared) -> Selection {
        let remembered = memo.withLock { memo -> (Signature?, Selection?) in
            guard let id = memo.names[model] else { return (nil, nil) }
            return (memo.list[id], memo.selections[SelectionKey(signature: id, dialect: dialect, translate: translate, scope: scope)])
        }
        if let selection = remembered.1 { return selection }
        let signature = remembered.0 ?? signature(of: model)
        // A new name whose globs an earlier name matched shares that name's selection.
        if remembered.0 == nil,
            let shared = memo.withLock({ memo -> Selection? in
                guard let id = memo.signatures[signature] else { return nil }
                if model.utf8.count <= Self.memoNameBytes, memo.names.count < Self.memoNames { memo.names[model] = id }
                return memo.selections[SelectionKey(signature: id, dialect: dialect, translate: translate, scope: scope)]
            })
        {
            return shared
        }
        let selection = Self.selection(listing(signature).filter(scope.admits), dialect: dialect, translate: translate)
        var size = 0
        if case .candidates(let first, let then) = selection { size = first.count + then.count }
        memo.withLock { memo in
            // Names start over when full; selections when they hold too much (signature ids go with them).
            if memo.names.count >= Self.memoNames { memo.names.removeAll(keepingCapacity: true) }
            if memo.held + size > Self.memoCandidates || memo.list.count >= Self.memoNames { memo.clear() }
            let id = memo.signatures[signature] ?? memo.list.count
            if id == memo.list.count {
                memo.signatures[signature] = id
                memo.list.append(signature)
            }
            if model.utf8.count <= Self.memoNameBytes { memo.names[model] = id }
            let key = SelectionKey(signature: id, dialect: dialect, translate: translate, scope: scope)
            if memo.selections.updateValue(selection, forKey: key) == nil { memo.held += size }
        }
        return selection
    }

    /// How much the memo holds: names, selections, and the candidates in them (for tests).
    public var remembered: (names: Int, selections: Int, candidates: Int) {
        memo.withLock { ($0.names.count, $0.selections.count, $0.held) }
    }

    private static func selection(_ listed: [AccountEntry], dialect: Dialect, translate: Bool) -> Selection {
        guard !listed.isEmpty else { return .unknownModel }
        let sameDialect = listed.filter { $0.provider.speaks(dialect) }
        let others = translate ? listed.filter { !$0.provider.speaks(dialect) } : []
        if sameDialect.isEmpty, others.isEmpty { return .otherDialectOnly }
        return sameDialect.isEmpty ? .candidates(others, translated: []) : .candidates(sameDialect, translated: others)
    }

    /// The models a client can be served now (by an enabled, usable account that
    /// `admits` lets through), with their provider, sorted; accounts of other
    /// dialects count (requests to them are translated). Accounts with globs
    /// contribute their `model_list`.
    public func servableModels(dialect: Dialect, admits: (AccountEntry) -> Bool = { _ in true }) -> [(model: String, provider: Provider)] {
        var best: [String: AccountEntry] = [:]
        for account in accounts where account.enabled && account.unusableReason == nil && admits(account) {
            for model in account.concreteModels {
                // The first account of the client's own dialect names the provider; else any.
                if let current = best[model], current.provider.speaks(dialect) || !account.provider.speaks(dialect) { continue }
                best[model] = account
            }
        }
        return best.map { ($0.key, $0.value.provider) }.sorted { $0.model < $1.model }
    }
}
