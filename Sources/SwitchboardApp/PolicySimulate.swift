import Admin
import Engine

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension Admin {
    /// Replays the ledger's rows from `since` against a proposed configuration:
    /// its keys, users and groups (replacing the stored ones of the same name)
    /// and its prices. Reads only.
    public func simulate(_ proposal: Configuration, since: Date, until: Date = Date()) async throws -> PolicySimulation.Report {
        let prices = try proposal.priceTable()
        let policy = PolicyAdmin(store: context.store, prices: prices)
        return try await policy.simulate(
            PolicyAdmin.Proposal(
                keys: proposal.keys.map { ($0.name, $0.policy, $0.expiresAt) }, users: proposal.users, groups: proposal.groups, prices: prices),
            since: since, until: until)
    }
}
