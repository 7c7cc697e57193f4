import Policy
import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Why this account: the accounts a request passed over or failed on, in order,
/// for the ledger row and the request log.
struct Route {
    private var parts: [String] = []
    private var seen: Set<String> = []

    /// Notes skipped accounts (once each; tried ones are already noted as failed).
    mutating func note(_ skipped: [AccountPool.Skipped], now: Date) {
        for entry in skipped where entry.reason != .alreadyTried && seen.insert(entry.account.name).inserted {
            parts.append("\(entry.account.name)=\(entry.reason.compact(now: now))")
        }
    }

    /// Notes an alias target passed over before any account was asked (`gpt-4o=context(…)`).
    mutating func passed(_ model: String, _ reason: String) {
        parts.append("\(model)=\(reason)")
    }

    /// Notes an account that was tried and failed.
    mutating func failed(_ name: String, _ failureClass: FailureClass) {
        seen.insert(name)
        parts.append("\(name)=failed(\(failureClass.rawValue))")
    }

    /// The compact form, nil when the first choice served.
    var text: String? { parts.isEmpty ? nil : parts.joined(separator: " ") }
}
