import Dialects
import Policy
import SwitchboardCore

extension Gateway {
    /// Where a request may go, or why nowhere.
    enum Routing: Sendable {
        /// Candidate accounts, tier by tier.
        case tiers([RouteTier])
        /// No account this key may use lists the model.
        case unknownModel
        /// Accounts list it but speak other formats, and this operation is not translated.
        case otherDialectOnly
    }

    /// The accounts a key's request for `model` may use: those of its binding
    /// (its own, its user's or its group's pools and named accounts) and then,
    /// with `fallback_to_shared`, the shared ones; unbound, the shared ones
    /// (accounts in no pool), since a pool's accounts are reserved for it.
    func routing(model: String, key: KeyEntry, dialect: Dialect, translate: Bool) -> Routing {
        let snapshot = snapshots.snapshot
        let directory = snapshot.accounts
        guard let binding = AccountBinding.effective(key: key.policy, owner: snapshot.owner(of: key)) else {
            return Self.routing(model: model, directory.select(model: model, dialect: dialect, translate: translate) { $0.pools.isEmpty })
        }
        let bound = directory.select(model: model, dialect: dialect, translate: translate) { binding.reserves($0) }
        guard binding.fallbackToShared else { return Self.routing(model: model, bound) }
        let shared = directory.select(model: model, dialect: dialect, translate: translate) { $0.pools.isEmpty && !binding.reserves($0) }
        switch (bound, shared) {
        case (.candidates(let first), .candidates(let then)):
            return .tiers([RouteTier(model: model, accounts: first), RouteTier(model: model, accounts: then)])
        case (.candidates, _): return Self.routing(model: model, bound)
        case (_, .candidates): return Self.routing(model: model, shared)
        case (.otherDialectOnly, _), (_, .otherDialectOnly): return .otherDialectOnly
        default: return .unknownModel
        }
    }

    private static func routing(model: String, _ selection: Selection) -> Routing {
        switch selection {
        case .candidates(let accounts): return .tiers([RouteTier(model: model, accounts: accounts)])
        case .unknownModel: return .unknownModel
        case .otherDialectOnly: return .otherDialectOnly
        }
    }

    /// The accounts a key may reach at all (its binding's, or the shared ones), for `/v1/models`.
    func reachable(by key: KeyEntry) -> (AccountEntry) -> Bool {
        let snapshot = snapshots.snapshot
        guard let binding = AccountBinding.effective(key: key.policy, owner: snapshot.owner(of: key)) else { return { $0.pools.isEmpty } }
        return { binding.reserves($0) || (binding.fallbackToShared && $0.pools.isEmpty) }
    }
}
