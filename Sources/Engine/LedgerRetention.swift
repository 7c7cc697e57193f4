import Logging
import ServiceLifecycle
import Storage
import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Deletes ledger rows (and audit entries) older than `ledger_retention`, every
/// `housekeeping_interval`, in small batches so the ledger's own writes go
/// between them. The hourly rollups and the lifetime totals (what stats,
/// dashboards and admission read) were added up when each row went in and stay;
/// the minute rollups go after two days, whatever the retention.
public struct LedgerRetention: Service {
    let store: any GatewayStore
    /// How long rows are kept; nil: for ever.
    let retention: Duration?
    let interval: Duration
    /// Rows per transaction.
    let batch: Int
    let logger: Logger

    public init(store: any GatewayStore, retention: Duration?, interval: Duration, batch: Int = 1000, logger: Logger) {
        self.store = store
        self.retention = retention
        self.interval = interval
        self.batch = batch
        self.logger = logger
    }

    public func run() async throws {
        await runPeriodically(every: interval, immediately: true) { await sweep(now: Date()) }
    }

    /// Deletes every ledger row and audit entry made before `now` less the
    /// retention; returns how many rows went. With replicas, one sweeps at a
    /// time (the others find it taken and skip this round).
    @discardableResult
    public func sweep(now: Date) async -> Int {
        do {
            return try await store.leading("ledger_retention") { await sweepAll(now: now) } ?? 0
        } catch {
            logger.warning("the retention sweep could not start", metadata: ["error": "\(error)"])
            return 0
        }
    }

    private func sweepAll(now: Date) async -> Int {
        await deleteAll("minute rollups") { try await store.deleteMinuteRollups(before: now.addingTimeInterval(-2 * 86400), limit: batch) }
        guard let retention else { return 0 }
        let cutoff = now.addingTimeInterval(-Double(retention.wholeMilliseconds) / 1000)
        let rows = await deleteAll("ledger rows") { try await store.deleteLedgerRows(before: cutoff, limit: batch) }
        await deleteAll("audit entries") { try await store.deleteAudit(before: cutoff, limit: batch) }
        return rows
    }

    /// Runs `deleteBatch` until a batch comes back short; returns how many went.
    @discardableResult
    private func deleteAll(_ what: String, _ deleteBatch: () async throws -> Int) async -> Int {
        var deleted = 0
        do {
            while !Task.isCancelled {
                let count = try await deleteBatch()
                deleted += count
                if count < batch { break }
                await Task.yield()
            }
        } catch {
            logger.warning("old \(what) could not be deleted", metadata: ["error": "\(error)", "deleted": "\(deleted)"])
        }
        if deleted > 0 { logger.info("old \(what) deleted", metadata: ["count": "\(deleted)"]) }
        return deleted
    }
}
