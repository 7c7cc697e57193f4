import Policy

/// Accounts a request may go to for one model, tried as a group: a later tier
/// serves only when no account of the earlier ones can (a key's shared
/// fallback after its pools; an alias's fallback models after its first).
struct RouteTier: Sendable {
    /// The model asked of these accounts (an alias's target; else the client's).
    var model: String
    /// The accounts, by priority then age.
    var accounts: [AccountEntry]
}

extension Array where Element == RouteTier {
    /// Every account of every tier, once each, in tier order.
    var allAccounts: [AccountEntry] {
        var seen = Set<Int64>()
        return flatMap(\.accounts).filter { seen.insert($0.id).inserted }
    }
}
