import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// A thread of its own for the gateway's batch work: the ledger's flushes,
/// hundreds of rows every 100 ms, filed into rollups and metrics.
///
/// On an event loop, a batch held up every request queued behind it; on a
/// thread of its own it still held a core for a millisecond or more at a time,
/// and the scheduler (this 2-core VM's kernel gives a running thread a 3 ms
/// slice before a woken one of equal weight may preempt it) left a request's
/// loop, woken on that core, waiting behind it: one request in a hundred took
/// 1–3 ms more at one client. Batch work therefore also runs in pieces and
/// calls `yieldProcessor()` between them, so a thread waiting for the core
/// goes first.
public enum BackgroundThread {
    /// One thread, started on first use and never stopped (as NIO's singletons):
    /// an event loop, for futures that complete where the batch work waits.
    public static let eventLoop: any EventLoop = MultiThreadedEventLoopGroup(numberOfThreads: 1).next()

    /// The thread as a task executor (`withTaskExecutorPreference`).
    public static var executor: LoopTaskExecutor { LoopTaskExecutor.of(eventLoop) }

    /// Lets any thread waiting for this core run first (`sched_yield`; cheap
    /// when none waits). For batch work between pieces, never on a request's path.
    public static func yieldProcessor() {
        #if canImport(Glibc)
            sched_yield()
        #endif
    }
}
