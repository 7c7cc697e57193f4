import Logging
import ServiceLifecycle
import Storage
import SwitchboardCore
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Writes ledger rows off the response path, in batches, and closes their
/// requests in the journal once they are in the database.
///
/// `record` only appends to memory; the service flushes every interval. A
/// batch the database refuses is retried row by row: while the database cannot
/// write (full, locked, failing) every row not yet written stays queued (and
/// open in the journal) and is retried; a row it refuses itself is written
/// again with its text fields cut and its numbers in range, or else logged and
/// dropped, so one bad row never blocks the rest. When the oldest
/// row waiting is older than `stallTimeout`, or the queue passes `maxQueuedBytes`,
/// `unavailable` says why and new requests are refused until it recovers by
/// itself. At shutdown it keeps flushing until no request is still open or a
/// hard deadline passes. The store skips request ids it already has, so a retry
/// never doubles a row. The flushes run on `BackgroundThread`, off the event loops.
public final class LedgerWriter: Service, Sendable {
    let store: any LedgerSink
    /// The write-ahead journal whose requests settle here (nil: none kept).
    public let journal: LedgerJournal?
    let interval: Duration
    let logger: Logger
    /// Counts rows as they are stored.
    let metrics: GatewayMetrics?
    /// How long the oldest unwritten row may wait before requests are refused.
    let stallTimeout: Duration
    /// How many bytes of rows may wait before requests are refused.
    let maxQueuedBytes: Int
    /// How long the final drain waits for open requests to settle.
    let drainDeadline: Duration
    private let queue = Mutex(Queue())
    private let openRequests = Atomic<Int>(0)
    private let rejected = Atomic<Int>(0)
    private let failedWrites = Atomic<Int>(0)
    /// One flush at a time, so two flushes never race over the same rows.
    private let flushLock = AsyncLock()

    /// A row waiting, with when it was queued.
    typealias Queued = (row: LedgerRow, at: ContinuousClock.Instant)

    struct Queue: Sendable {
        /// Rows waiting, each with when it was queued.
        var rows: [Queued] = []
        var bytes = 0
        /// When the oldest row of the batch being written was queued.
        var writing: ContinuousClock.Instant?
        /// When the oldest of the rows put back after a failed write was queued (they wait first in line, not oldest first).
        var requeued: ContinuousClock.Instant?
        /// Why the last write failed, while the database takes nothing.
        var failing: String?
        /// Rows that failed alone while others were written, by request id: how often.
        var strikes: [String: Int] = [:]

        /// Counts one more failure of a row alone; returns how many it has.
        mutating func strike(_ requestID: String) -> Int {
            strikes[requestID, default: 0] += 1
            return strikes[requestID, default: 0]
        }

        /// When the oldest row not yet in the database was queued.
        var oldest: ContinuousClock.Instant? {
            // Asked on every request: compared in place, not through an array.
            func earlier(_ a: ContinuousClock.Instant?, _ b: ContinuousClock.Instant?) -> ContinuousClock.Instant? {
                guard let a else { return b }
                guard let b else { return a }
                return min(a, b)
            }
            return earlier(earlier(writing, requeued), rows.first?.at)
        }
    }

    /// Creates the writer.
    public init(
        store: any LedgerSink, journal: LedgerJournal? = nil, interval: Duration = .milliseconds(100), stallTimeout: Duration = .seconds(5),
        maxQueuedBytes: Int = 256 << 20, drainDeadline: Duration = .seconds(10), metrics: GatewayMetrics? = nil, logger: Logger
    ) {
        self.metrics = metrics
        self.store = store
        self.journal = journal
        self.interval = interval
        self.stallTimeout = stallTimeout
        self.maxQueuedBytes = maxQueuedBytes
        self.drainDeadline = drainDeadline
        self.logger = logger
    }

    /// A request started; it will `record` exactly one row.
    func opened() { openRequests.add(1, ordering: .relaxed) }

    /// Queues the row of a request that `opened`. Never blocks, never fails.
    func record(_ row: LedgerRow) {
        let size = Self.size(of: row)
        queue.withLock {
            $0.rows.append((row, .now))
            $0.bytes += size
        }
        openRequests.subtract(1, ordering: .relaxed)
    }

    /// Rows waiting to be written.
    public var pendingCount: Int { queue.withLock { $0.rows.count } }

    /// Requests that have not settled yet.
    public var openCount: Int { openRequests.load(ordering: .relaxed) }

    /// Rows the database refused even cut down (logged, never silently).
    public var rejectedCount: Int { rejected.load(ordering: .relaxed) }

    /// Batch writes the database failed (each retried row by row).
    public var failedWriteCount: Int { failedWrites.load(ordering: .relaxed) }

    /// Why new requests cannot be recorded now (the journal cannot be written,
    /// rows wait too long or too many wait), or nil when they can.
    public var unavailable: String? {
        if let journal = journal?.unavailable { return journal }
        return queue.withLock { queue -> String? in
            if queue.bytes > maxQueuedBytes {
                return "The ledger has \(queue.rows.count) rows waiting to be written; requests are refused until it catches up."
            }
            if let oldest = queue.oldest, oldest.duration(to: .now) > stallTimeout {
                let cause = queue.failing.map { " (\($0))" } ?? ""
                return "The ledger has not been written for over \(DurationSyntax.format(stallTimeout))\(cause); requests are refused until it is."
            }
            return nil
        }
    }

    public func run() async throws {
        await withTaskExecutorPreference(BackgroundThread.executor) {
            while !Task.isShuttingDownGracefully, !Task.isCancelled {
                try? await LoopTimer.sleep(for: interval)
                await flush()
            }
        }
        // The final drain runs in a task of its own: shutdown cancels this service
        // when its time is up, and cancelled database calls would drop the rows.
        await Task.detached(executorPreference: BackgroundThread.executor) { await self.drainBeforeExit() }.value
    }

    /// Writes until nothing is queued and no request is open, or the deadline passes.
    private func drainBeforeExit() async {
        let deadline = ContinuousClock.now + drainDeadline
        while pendingCount > 0 || openCount > 0, ContinuousClock.now < deadline {
            await flush()
            if pendingCount > 0 || openCount > 0 { try? await LoopTimer.sleep(for: .milliseconds(50)) }
        }
        if pendingCount > 0 || openCount > 0 {
            // Their journal entries stay open: the next start records them as interrupted.
            logger.critical("ledger rows could not be written before exit", metadata: ["queued": "\(pendingCount)", "open": "\(openCount)"])
        }
    }

    /// The request log: one line per request once its row is stored, with who
    /// served it and why (never keys, prompts or upstream bodies).
    private func logRequest(_ row: LedgerRow) {
        guard logger.logLevel <= .info else { return }
        var metadata: Logger.Metadata = [
            "request": "\(row.requestID)", "status": "\(row.status)", "outcome": "\(row.outcome.rawValue)",
            "latency_ms": "\(row.latencyMs)",
        ]
        if let key = row.keyName { metadata["key"] = "\(key)" }
        if let model = row.model { metadata["model"] = "\(model)" }
        if let account = row.accountName { metadata["account"] = "\(account)" }
        if let route = row.route { metadata["route"] = "\(route)" }
        if let code = row.errorCode { metadata["error"] = "\(code)" }
        if row.usage.total > 0 { metadata["tokens"] = "\(row.usage.total)" }
        if row.cost > .zero { metadata["cost_usd"] = "\(row.cost.dollarsString)" }
        if row.usageSource == .estimated { metadata["usage"] = "estimated" }
        logger.info("request", metadata: metadata)
    }

    /// Writes every queued row now.
    public func flush() async {
        await flushLock.withLock {
            let batch = queue.withLock { queue -> [Queued] in
                defer {
                    queue.rows.removeAll(keepingCapacity: true)
                    queue.bytes = 0
                }
                queue.writing = queue.rows.map(\.at).min()
                queue.requeued = nil
                return queue.rows
            }
            guard !batch.isEmpty else { return }
            do {
                let rows = batch.map(\.row)
                try await store.appendLedger(rows)
                written(rows)
            } catch {
                failedWrites.add(1, ordering: .relaxed)
                await writeOneByOne(batch, batchError: error)
            }
            queue.withLock { $0.writing = nil }
        }
    }

    /// A failure of one row alone while other rows are written marks it; after
    /// this many such rounds it is taken for a row the database refuses.
    static let strikesBeforeRefusal = 3

    /// After a failed batch: each row alone, to tell rows the database refuses
    /// from a database that cannot write now.
    ///
    /// - refused (`rejected`): written again cut down, or logged and dropped;
    /// - failing otherwise: two rows in a row and the database is taken to be
    ///   down (full, locked, failing): every row not yet written stays queued,
    ///   its journal entry open, and is retried; a row that fails alone while
    ///   others are written goes to the back of the queue with a strike, and
    ///   after `strikesBeforeRefusal` strikes is handled as refused, so no one
    ///   row can hold back the rest for ever.
    private func writeOneByOne(_ batch: [Queued], batchError: any Error) async {
        var stored: [LedgerRow] = []
        var refused: [Queued] = []
        var suspects: [Queued] = []
        var untried: [Queued] = []
        var cause = batchError
        var failuresInARow = 0
        for (index, queued) in batch.enumerated() {
            do {
                try await store.appendLedger([queued.row])
                stored.append(queued.row)
                failuresInARow = 0
            } catch let error as StoreError where error.code == .rejected {
                refused.append(queued)
                failuresInARow = 0
            } catch {
                cause = error
                suspects.append(queued)
                failuresInARow += 1
                if failuresInARow >= 2 {
                    untried = Array(batch[(index + 1)...])
                    break
                }
            }
        }
        written(stored)
        if !stored.isEmpty {
            // The database writes: a row that failed alone is suspect.
            let struck = queue.withLock { queue in
                Set(suspects.map(\.row.requestID).filter { queue.strike($0) >= Self.strikesBeforeRefusal })
            }
            refused += suspects.filter { struck.contains($0.row.requestID) }
            suspects.removeAll { struck.contains($0.row.requestID) }
        }
        if untried.isEmpty {
            for queued in refused where await !writeCutDown(queued.row) { suspects.append(queued) }
        } else {
            untried += refused  // the database is failing: not the moment to judge rows
        }
        // Suspects last, so the rows behind them are written first next time.
        requeue(untried + suspects, cause: cause)
    }

    /// Writes a refused row with its text cut and its numbers in range; a row
    /// refused even so is logged and dropped. False when the database could not
    /// write at all (the row stays queued, with a strike).
    private func writeCutDown(_ row: LedgerRow) async -> Bool {
        let cut = Self.cutDown(row)
        do {
            try await store.appendLedger([cut])
            written([cut])
            logger.warning("ledger row stored cut down", metadata: ["request": "\(row.requestID)"])
            return true
        } catch let error as StoreError where error.code != .rejected {
            if queue.withLock({ $0.strike(row.requestID) }) < Self.strikesBeforeRefusal { return false }
        } catch {}
        rejected.add(1, ordering: .relaxed)
        queue.withLock { _ = $0.strikes.removeValue(forKey: row.requestID) }
        journal?.close([row.requestID])
        logger.critical(
            "ledger row refused by the database",
            metadata: [
                "request": "\(row.requestID)", "key": "\(row.keyName ?? "-")", "cost_usd": "\(row.cost.dollarsString)",
            ])
        return true
    }

    /// Puts rows not yet written back at the head of the queue.
    private func requeue(_ rows: [Queued], cause: any Error) {
        guard !rows.isEmpty else { return }
        let reason = String(String(describing: cause).prefix(200))
        let first = queue.withLock { queue -> Bool in
            let first = queue.failing == nil
            queue.failing = reason
            queue.rows.insert(contentsOf: rows, at: 0)
            queue.requeued = rows.map(\.at).min()
            queue.bytes += rows.reduce(0) { $0 + Self.size(of: $1.row) }
            return first
        }
        if first { logger.error("ledger write failed; rows stay queued and are retried", metadata: ["rows": "\(rows.count)", "error": "\(reason)"]) }
    }

    /// Rows now in the database: logged, and closed in the journal.
    private func written(_ rows: [LedgerRow]) {
        guard !rows.isEmpty else { return }
        queue.withLock { queue in
            queue.failing = nil
            if !queue.strikes.isEmpty { for row in rows { queue.strikes[row.requestID] = nil } }
        }
        journal?.close(rows.map(\.requestID))
        BackgroundThread.inPieces(rows) { piece in
            metrics?.observe(piece)
            for row in piece { logRequest(row) }
        }
    }

    /// A row with its text fields cut short and its numbers in range.
    static func cutDown(_ row: LedgerRow) -> LedgerRow {
        func cut(_ text: String?) -> String? { text.map { String($0.unicodeScalars.prefix(128)) } }
        var row = row
        row.keyName = cut(row.keyName)
        row.accountName = cut(row.accountName)
        row.model = cut(row.model)
        row.upstreamModel = cut(row.upstreamModel)
        row.errorCode = cut(row.errorCode)
        row.route = cut(row.route)
        row.userName = cut(row.userName)
        row.latencyMs = max(0, row.latencyMs)
        row.firstByteMs = row.firstByteMs.map { max(0, $0) }
        return row
    }

    /// Roughly how much memory a queued row takes.
    static func size(of row: LedgerRow) -> Int {
        256 + row.requestID.utf8.count + (row.keyName?.utf8.count ?? 0) + (row.model?.utf8.count ?? 0)
            + (row.upstreamModel?.utf8.count ?? 0) + (row.route?.utf8.count ?? 0) + (row.errorCode?.utf8.count ?? 0)
            + (row.capture?.combined.count ?? 0)
    }
}
