import Logging
import ServiceLifecycle
import Storage
import Synchronization
import SwitchboardCore

/// Writes ledger rows off the response path, in batches.
///
/// `record` only appends to memory; the service flushes every interval and once
/// more after graceful shutdown, when the HTTP server (shut down first) has no
/// request left that could add a row. A failed batch stays queued and is retried;
/// the store skips request ids it already has, so a retry never doubles a row.
public final class LedgerWriter: Service, Sendable {
    let store: any GatewayStore
    let interval: Duration
    let logger: Logger
    private let queue = Mutex<[LedgerRow]>([])
    /// One flush at a time, so two flushes never race over the same rows.
    private let flushLock = AsyncLock()

    /// Creates the writer.
    public init(store: any GatewayStore, interval: Duration = .milliseconds(100), logger: Logger) {
        self.store = store
        self.interval = interval
        self.logger = logger
    }

    /// Queues a row. Never blocks, never fails.
    public func record(_ row: LedgerRow) {
        queue.withLock { $0.append(row) }
    }

    /// Rows waiting to be written.
    public var pendingCount: Int { queue.withLock { $0.count } }

    public func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            try? await Task.sleep(for: interval)
            await flush()
        }
        // The final drain runs in a task of its own: shutdown cancels this service
        // when its time is up, and cancelled database calls would drop the rows.
        await Task.detached { await self.drainBeforeExit() }.value
    }

    /// Writes what is left, retrying a few times so a busy database loses nothing.
    private func drainBeforeExit() async {
        for _ in 0..<50 where pendingCount > 0 {
            await flush()
            if pendingCount > 0 { try? await Task.sleep(for: .milliseconds(100)) }
        }
        if pendingCount > 0 {
            logger.critical("ledger rows could not be written before exit", metadata: ["rows": "\(pendingCount)"])
        }
    }

    /// Writes every queued row now.
    public func flush() async {
        await flushLock.withLock {
            let batch = queue.withLock { rows -> [LedgerRow] in
                defer { rows.removeAll(keepingCapacity: true) }
                return rows
            }
            guard !batch.isEmpty else { return }
            do {
                try await store.appendLedger(batch)
            } catch {
                logger.error("ledger write failed; will retry", metadata: ["rows": "\(batch.count)", "error": "\(error)"])
                queue.withLock { $0.insert(contentsOf: batch, at: 0) }
            }
        }
    }
}

