import NIOCore
import Synchronization

/// Runs tasks on one event loop's thread: a client connection's task, and the
/// request tasks it starts, on the connection's own loop, where its upstream
/// connections also live (`HTTP1Transport` pools per loop); batch work on
/// `BackgroundThread`. The shipped binary also runs Swift's global executor's
/// jobs here (`enqueueGlobal`).
///
/// Without it, Hummingbird starts a connection's task on the listener's loop,
/// half the time not the connection's: each read, each write (every event of
/// a stream) then crossed between the two loops and woke the other thread.
public final class LoopTaskExecutor: TaskExecutor {
    public let loop: any EventLoop
    /// Jobs waiting for the loop, run in one go by `drain`: a job handed to
    /// the loop one by one would cost a closure allocation each (a request
    /// hops several times).
    private let queue = Mutex(Queue())
    /// `drain`, made once.
    private nonisolated(unsafe) var drainer: (@Sendable () -> Void)?

    private struct Queue {
        var jobs: [Queued] = []
        /// The storage of the last batch run, kept for the next.
        var spare: [Queued] = []
        /// Whether a drain is on the loop's queue.
        var scheduled = false
    }

    /// A job, and whether it came through Swift's global executor (`enqueueGlobal`).
    private struct Queued {
        let job: UnownedJob
        let global: Bool
    }

    /// The executor a global job runs as. A job run as this loop's task
    /// executor, or as the loop itself (NIO's serial executor), would hop again
    /// at each `await` of a task that prefers no executor: the runtime sees the
    /// executor it runs on differ from the one the task wants, and enqueues it
    /// once more (about three extra hops per request, in the ledger journal's
    /// batches).
    private static let globalExecutor = globalConcurrentExecutor.asUnownedTaskExecutor()

    private init(_ loop: any EventLoop) {
        self.loop = loop
        // Unowned: executors live as long as the process (`byLoop` keeps them).
        drainer = { [unowned self] in self.drain() }
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        add(Queued(job: UnownedJob(job), global: false))
    }

    /// Runs a job of Swift's global executor on this loop (`EventLoopExecutor`'s
    /// hook), as the global executor's: tasks that prefer no executor then run
    /// their nonisolated code without hopping.
    public func enqueueGlobal(_ job: UnownedJob) {
        add(Queued(job: job, global: true))
    }

    private func add(_ job: Queued) {
        let schedule = queue.withLock { queue in
            queue.jobs.append(job)
            defer { queue.scheduled = true }
            return !queue.scheduled
        }
        if schedule, let drainer { loop.execute(drainer) }
    }

    /// Runs the jobs queued so far; later ones wait for the next drain, so
    /// the loop's I/O is served in between.
    private func drain() {
        var batch = queue.withLock { queue in
            queue.scheduled = false
            let batch = queue.jobs
            queue.jobs = queue.spare
            queue.spare = []
            return batch
        }
        let executor = asUnownedTaskExecutor()
        for queued in batch { queued.job.runSynchronously(on: queued.global ? Self.globalExecutor : executor) }
        batch.removeAll(keepingCapacity: true)
        queue.withLock { queue in
            if queue.spare.capacity < batch.capacity { queue.spare = batch }
        }
    }

    private static let byLoop = Mutex<[ObjectIdentifier: LoopTaskExecutor]>([:])

    /// The executor of a loop (one per loop, made on first use).
    public static func of(_ loop: any EventLoop) -> LoopTaskExecutor {
        byLoop.withLock { table in
            if let known = table[ObjectIdentifier(loop)] { return known }
            let made = LoopTaskExecutor(loop)
            table[ObjectIdentifier(loop)] = made
            return made
        }
    }
}
