import NIOCore
import Synchronization

/// Runs a request's task on the event loop of its client's connection, where
/// its upstream connection also lives (`HTTP1Transport` pools per loop).
///
/// Without it, a task resumed by work finished off the loops (the journal's
/// fdatasync, SQLite on the thread pool) lands on whichever loop the global
/// executor picks, and each step after that hops between the two loops: the
/// upstream request submitted across, its answer resumed across, the response
/// written across.
final class LoopTaskExecutor: TaskExecutor {
    let loop: any EventLoop

    init(_ loop: any EventLoop) { self.loop = loop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

/// One executor per event loop, made on first use.
final class LoopTaskExecutors: Sendable {
    private let byLoop = Mutex<[ObjectIdentifier: LoopTaskExecutor]>([:])

    func executor(for loop: any EventLoop) -> LoopTaskExecutor {
        byLoop.withLock { table in
            if let known = table[ObjectIdentifier(loop)] { return known }
            let made = LoopTaskExecutor(loop)
            table[ObjectIdentifier(loop)] = made
            return made
        }
    }
}
