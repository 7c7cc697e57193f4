import NIOCore
import Synchronization

/// Runs tasks on one event loop's thread: a client connection's task, and the
/// request tasks it starts, on the connection's own loop, where its upstream
/// connections also live (`HTTP1Transport` pools per loop); batch work on
/// `BackgroundThread`.
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
        var jobs: [UnownedJob] = []
        /// The storage of the last batch run, kept for the next.
        var spare: [UnownedJob] = []
        /// Whether a drain is on the loop's queue.
        var scheduled = false
    }

    private init(_ loop: any EventLoop) {
        self.loop = loop
        // Unowned: executors live as long as the process (`byLoop` keeps them).
        drainer = { [unowned self] in self.drain() }
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
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
        for job in batch { job.runSynchronously(on: executor) }
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
