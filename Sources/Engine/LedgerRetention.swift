import Foundation
import Logging
import ServiceLifecycle
import Storage
import SwitchboardCore

/// Deletes ledger rows older than `ledger_retention`, every
/// `housekeeping_interval`, in small batches so the ledger's own writes go
/// between them. The hourly rollups and the lifetime totals (what stats,
/// dashboards and admission read) were added up when each row went in and stay.
public struct LedgerRetention: Service {
    let store: any GatewayStore
    /// How long rows are kept.
    let retention: Duration
    let interval: Duration
    /// Rows per transaction.
    let batch: Int
    let logger: Logger

    public init(store: any GatewayStore, retention: Duration, interval: Duration, batch: Int = 1000, logger: Logger) {
        self.store = store
        self.retention = retention
        self.interval = interval
        self.batch = batch
        self.logger = logger
    }

    public func run() async throws {
        await runPeriodically(every: interval, immediately: true) { await sweep(now: Date()) }
    }

    /// Deletes every row made before `now` less the retention; returns how many went.
    @discardableResult
    public func sweep(now: Date) async -> Int {
        let cutoff = now.addingTimeInterval(-Double(retention.wholeMilliseconds) / 1000)
        var deleted = 0
        do {
            while !Task.isCancelled {
                let count = try await store.deleteLedgerRows(before: cutoff, limit: batch)
                deleted += count
                if count < batch { break }
                await Task.yield()
            }
        } catch {
            logger.warning("old ledger rows could not be deleted", metadata: ["error": "\(error)", "deleted": "\(deleted)"])
        }
        if deleted > 0 {
            logger.info("old ledger rows deleted", metadata: ["rows": "\(deleted)", "before": "\(ISO8601DateFormatter().string(from: cutoff))"])
        }
        return deleted
    }
}
