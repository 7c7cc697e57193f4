import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SwitchboardCore
import Testing

/// Tasks that prefer a loop's executor run on that loop, every job of them,
/// whichever thread resumes them: the executor hands its queued jobs to the
/// loop in batches.
@Suite struct LoopTaskExecutorTests {
    @Test func everyJobOfManyTasksRunsOnTheLoop() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let loop = group.next()
        let other = group.next()
        let executor = LoopTaskExecutor.of(loop)
        #expect(LoopTaskExecutor.of(loop) === executor, "one executor per loop")
        let offLoop = NIOLockedValueBox(0)
        let steps = NIOLockedValueBox(0)
        await withTaskGroup(of: Void.self) { tasks in
            for _ in 0..<200 {
                tasks.addTask(executorPreference: executor) {
                    for step in 0..<20 {
                        if step % 2 == 0 {
                            await Task.yield()
                        } else {
                            // Resumed by the other loop's thread.
                            try? await other.submit {}.get()
                        }
                        if !loop.inEventLoop { offLoop.withLockedValue { $0 += 1 } }
                        steps.withLockedValue { $0 += 1 }
                    }
                }
            }
        }
        #expect(steps.withLockedValue { $0 } == 4_000)
        #expect(offLoop.withLockedValue { $0 } == 0)
        try await group.shutdownGracefully()
    }
}
