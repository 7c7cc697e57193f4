import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A thread of its own for the gateway's batch work: the ledger's flushes,
/// hundreds of rows every 100 ms, filed into rollups and metrics.
///
/// On an event loop, a batch held up every request queued behind it; on a
/// thread of its own it still held a core for a millisecond or more at a time,
/// and the scheduler (this 2-core VM's kernel gives a running thread a 3 ms
/// slice before a woken one of equal weight may preempt it) left a request's
/// loop, woken on that core, waiting behind it: one request in a hundred took
/// 1–3 ms more at one client. Batch work therefore also runs in pieces
/// (`inPieces`), yielding the processor between them, so a thread waiting for
/// the core goes first.
public enum BackgroundThread {
    /// One thread, started on first use and never stopped (as NIO's singletons):
    /// an event loop, for futures that complete where the batch work waits.
    public static let eventLoop: any EventLoop = MultiThreadedEventLoopGroup(numberOfThreads: 1).next()

    /// The thread as a task executor (`withTaskExecutorPreference`).
    public static var executor: LoopTaskExecutor { LoopTaskExecutor.of(eventLoop) }

    /// Items of batch work (ledger rows) handled between yields of the processor.
    public static let itemsPerPiece = 64

    /// Calls `body` with `items` a piece at a time, letting any thread waiting
    /// for this core run between pieces (`sched_yield`: cheap when none waits).
    /// For batch work, not for a request's own.
    public static func inPieces<Items: Collection>(_ items: Items, _ body: (Items.SubSequence) -> Void) {
        var start = items.startIndex
        while start != items.endIndex {
            let end = items.index(start, offsetBy: itemsPerPiece, limitedBy: items.endIndex) ?? items.endIndex
            body(items[start..<end])
            start = end
            if start != items.endIndex { _ = sched_yield() }
        }
    }
}
