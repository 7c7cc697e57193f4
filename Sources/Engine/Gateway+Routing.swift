import Dialects
import Policy
import SwitchboardCore

extension Gateway {
    /// Where a request may go, or why nowhere.
    enum Routing: Sendable {
        /// Candidate accounts, tier by tier; `skipped`: alias targets passed
        /// over before any account was asked, with why (for the route).
        case tiers([RouteTier], skipped: [(model: String, reason: String)])
        /// No account this key may use lists the model.
        case unknownModel
        /// Accounts list it but speak other formats, and this operation is not translated.
        case otherDialectOnly
    }

    /// The accounts a key's request for `model` may use, tier by tier. An alias
    /// (`models:`) stands for its targets: in order, or the one whose weighted
    /// turn it is first; a fallback target whose context window the prompt
    /// exceeds is skipped. For each model: the accounts of the client's format,
    /// then those a translation reaches.
    func routing(model: String, key: KeyEntry, dialect: Dialect, translate: Bool, promptBytes: Int = 0) -> Routing {
        let snapshot = snapshots.snapshot
        guard let alias = snapshot.aliases[model] else { return routing(target: model, key: key, dialect: dialect, translate: translate) }
        var tiers: [RouteTier] = []
        var skipped: [(model: String, reason: String)] = []
        var otherDialect = false
        // About four bytes a token: an estimate that errs towards trying a target, not skipping it.
        let promptTokens = Int64(promptBytes / 4)
        for (index, target) in aliasRotation.order(alias).enumerated() {
            if index > 0, let window = prices.price(for: target.model)?.maxInputTokens, promptTokens > window {
                skipped.append((target.model, "context(\(promptTokens)>\(window))"))
                continue
            }
            switch routing(target: target.model, key: key, dialect: dialect, translate: translate) {
            case .tiers(let found, _): tiers += found
            case .otherDialectOnly: otherDialect = true
            case .unknownModel: break
            }
        }
        guard !tiers.isEmpty else { return otherDialect ? .otherDialectOnly : .unknownModel }
        return .tiers(tiers, skipped: skipped)
    }

    /// The accounts for one concrete model: those of the key's binding (its
    /// own, its user's or its group's pools and named accounts) and then, with
    /// `fallback_to_shared`, the shared ones; unbound, the shared ones (accounts
    /// in no pool), since a pool's accounts are reserved for it.
    private func routing(target model: String, key: KeyEntry, dialect: Dialect, translate: Bool) -> Routing {
        let snapshot = snapshots.snapshot
        func select(_ scope: SelectionScope) -> Selection {
            snapshot.accounts.select(model: model, dialect: dialect, translate: translate, scope: scope)
        }
        guard let binding = AccountBinding.effective(key: key.policy, owner: snapshot.owner(of: key)) else {
            return Self.routing(model: model, select(.shared))
        }
        guard binding.fallbackToShared else { return Self.routing(model: model, select(.bound(binding))) }
        return Self.routing(model: model, select(.bound(binding)), then: select(.sharedBeside(binding)))
    }

    /// Tiers from one or two selections in order of preference: each one's
    /// own-format accounts, then its translated ones. (Runs for every request:
    /// no lists are made beside the tiers.)
    private static func routing(model: String, _ first: Selection, then second: Selection? = nil) -> Routing {
        var tiers: [RouteTier] = []
        func add(_ selection: Selection?) {
            guard case .candidates(let accounts, let translated)? = selection else { return }
            if !accounts.isEmpty { tiers.append(RouteTier(model: model, accounts: accounts)) }
            if !translated.isEmpty { tiers.append(RouteTier(model: model, accounts: translated)) }
        }
        add(first)
        add(second)
        if !tiers.isEmpty { return .tiers(tiers, skipped: []) }
        return first == .otherDialectOnly || second == .otherDialectOnly ? .otherDialectOnly : .unknownModel
    }

    /// The accounts a key may reach at all (its binding's, or the shared ones), for `/v1/models`.
    func reachable(by key: KeyEntry) -> (AccountEntry) -> Bool {
        let snapshot = snapshots.snapshot
        guard let binding = AccountBinding.effective(key: key.policy, owner: snapshot.owner(of: key)) else { return SelectionScope.shared.admits }
        // The scopes `routing` selects from, as one test.
        return { SelectionScope.bound(binding).admits($0) || (binding.fallbackToShared && SelectionScope.sharedBeside(binding).admits($0)) }
    }
}
