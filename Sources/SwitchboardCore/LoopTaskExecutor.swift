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

    private init(_ loop: any EventLoop) { self.loop = loop }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
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
