import Logging
import Policy
import Storage
import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Turns requests the journal found open at start (the process died while they
/// ran) into their ledger rows, marked `interrupted`, so budgets do not forget
/// them: charged an estimate from what was delivered when the journal knows,
/// else what the request held.
public enum JournalRecovery {
    /// Records every request the journal holds open as an `interrupted` row,
    /// then lets the journal forget them. Before the server starts serving.
    public static func settle(_ journal: LedgerJournal, store: any GatewayStore, prices: PriceTable, logger: Logger) async throws {
        let interrupted = try journal.interrupted()
        if !interrupted.isEmpty {
            // A row that did reach the database before the crash is kept as it was (one row per request id).
            try await store.appendLedger(interrupted.map { row($0, prices: prices) })
            logger.warning("requests interrupted by the last stop were recorded", metadata: ["count": "\(interrupted.count)"])
        }
        journal.clearRecovered()
    }

    static func row(_ interrupted: LedgerJournal.Interrupted, prices: PriceTable) -> LedgerRow {
        let entry = interrupted.entry
        let progress = interrupted.progress
        var row = LedgerRow(
            requestID: entry.requestID, createdAt: entry.createdAt, keyID: entry.keyID, keyName: entry.keyName,
            accountID: progress?.accountID, accountName: progress?.accountName, provider: progress?.provider, dialect: entry.dialect,
            model: entry.model, upstreamModel: progress?.upstreamModel, status: 0, outcome: .interrupted, errorCode: "interrupted",
            stream: entry.stream, usageIncomplete: true, userName: entry.userName)
        row.usageSource = .estimated
        row.clientAddress = entry.clientAddress
        row.userAgent = entry.userAgent
        row.session = entry.session
        row.deliveredBytes = progress?.deliveredBytes ?? 0
        let group = GroupEntry(id: 0, name: "", multiplierPPM: entry.multiplierPPM)
        if let progress, progress.deliveredTextBytes > 0,
            let price = prices.price(for: progress.upstreamModel ?? entry.model ?? "", provider: progress.provider.flatMap(Provider.init(rawValue:)))
                ?? prices.price(for: entry.model ?? "", provider: progress.provider.flatMap(Provider.init(rawValue:)))
        {
            let usage = UsageEstimate.merge(reported: nil, promptBytes: entry.promptBytes, outputTextBytes: progress.deliveredTextBytes)
            row.usage = usage
            row.listCosts = price.costs(usage)
            row.upstreamCost = row.listCosts.total
            row.cost = group.charge(row.upstreamCost)
            row.priced = true
        } else {
            // Nothing known of what was delivered: the hold, which covered the worst case.
            let input = UsageEstimate.tokens(bytes: Int64(entry.promptBytes))
            row.usage = TokenUsage(inputUncached: input, output: max(0, entry.holdTokens.saturatingAdd(-input)))
            row.cost = entry.hold
            row.upstreamCost = entry.hold
            row.priced = entry.hold > .zero
        }
        return row
    }
}
