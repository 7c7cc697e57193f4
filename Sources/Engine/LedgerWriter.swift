import Logging
import ServiceLifecycle
import Storage
import Synchronization
import SwitchboardCore

/// Writes ledger rows off the response path, in batches.
///
/// `record` only appends to memory; the service flushes every interval. At
/// shutdown it keeps flushing until no request is still open (every open
/// request settles, however it ends) or a hard deadline passes. A failed batch
/// stays queued and is retried; the store skips request ids it already has, so a
/// retry never doubles a row.
public final class LedgerWriter: Service, Sendable {
    let store: any GatewayStore
    let interval: Duration
    let logger: Logger
    /// Rows queued beyond this mean the database is failing; new requests are refused.
    let backlogLimit: Int
    /// How long the final drain waits for open requests to settle.
    let drainDeadline: Duration
    private let queue = Mutex<[LedgerRow]>([])
    private let openRequests = Atomic<Int>(0)
    /// One flush at a time, so two flushes never race over the same rows.
    private let flushLock = AsyncLock()

    /// Creates the writer.
    public init(
        store: any GatewayStore, interval: Duration = .milliseconds(100), backlogLimit: Int = 100_000,
        drainDeadline: Duration = .seconds(10), logger: Logger
    ) {
        self.store = store
        self.interval = interval
        self.backlogLimit = backlogLimit
        self.drainDeadline = drainDeadline
        self.logger = logger
    }

    /// A request started; it will `record` exactly one row.
    func opened() { openRequests.add(1, ordering: .relaxed) }

    /// Queues the row of a request that `opened`. Never blocks, never fails.
    func record(_ row: LedgerRow) {
        queue.withLock { $0.append(row) }
        openRequests.subtract(1, ordering: .relaxed)
    }

    /// Rows waiting to be written.
    public var pendingCount: Int { queue.withLock { $0.count } }

    /// Requests that have not settled yet.
    public var openCount: Int { openRequests.load(ordering: .relaxed) }

    /// Whether so many rows wait that the database is evidently not taking them.
    public var isBacklogged: Bool { pendingCount > backlogLimit }

    /// Why new requests cannot be recorded now, or nil when they can.
    public var unavailable: String? { isBacklogged ? "The ledger is not keeping up; requests are refused until it does." : nil }

    public func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            try? await Task.sleep(for: interval)
            await flush()
        }
        // The final drain runs in a task of its own: shutdown cancels this service
        // when its time is up, and cancelled database calls would drop the rows.
        await Task.detached { await self.drainBeforeExit() }.value
    }

    /// Writes until nothing is queued and no request is open, or the deadline passes.
    private func drainBeforeExit() async {
        let deadline = ContinuousClock.now + drainDeadline
        while pendingCount > 0 || openCount > 0, ContinuousClock.now < deadline {
            await flush()
            if pendingCount > 0 || openCount > 0 { try? await Task.sleep(for: .milliseconds(50)) }
        }
        if pendingCount > 0 || openCount > 0 {
            logger.critical("ledger rows could not be written before exit", metadata: ["queued": "\(pendingCount)", "open": "\(openCount)"])
        }
    }

    /// The request log: one line per request once its row is stored, with who
    /// served it and why (never keys, prompts or upstream bodies).
    private func logRequest(_ row: LedgerRow) {
        guard logger.logLevel <= .info else { return }
        var metadata: Logger.Metadata = [
            "request": "\(row.requestID)", "status": "\(row.status)", "outcome": "\(row.outcome)",
            "latency_ms": "\(row.latencyMs)",
        ]
        if let key = row.keyName { metadata["key"] = "\(key)" }
        if let model = row.model { metadata["model"] = "\(model)" }
        if let account = row.accountName { metadata["account"] = "\(account)" }
        if let route = row.route { metadata["route"] = "\(route)" }
        if let code = row.errorCode { metadata["error"] = "\(code)" }
        if row.usage.total > 0 { metadata["tokens"] = "\(row.usage.total)" }
        logger.info("request", metadata: metadata)
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
                for row in batch { logRequest(row) }
            } catch {
                logger.error("ledger write failed; will retry", metadata: ["rows": "\(batch.count)", "error": "\(error)"])
                queue.withLock { $0.insert(contentsOf: batch, at: 0) }
            }
        }
    }
}
