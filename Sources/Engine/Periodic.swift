import ServiceLifecycle
import SwitchboardCore

/// Runs `work` every `interval` (the first time at once when `immediately`)
/// until graceful shutdown, which never waits out an interval: the background
/// services' one loop.
func runPeriodically(every interval: Duration, immediately: Bool, _ work: @escaping @Sendable () async -> Void) async {
    try? await cancelWhenGracefulShutdown {
        if immediately { await work() }
        while !Task.isCancelled {
            try await LoopTimer.sleep(for: interval)
            await work()
        }
    }
}

/// Runs `body` until graceful shutdown cancels it; its cancellation is the normal end.
func cancelWhenGracefulShutdownIgnoringErrors(_ body: @escaping @Sendable () async throws -> Void) async {
    try? await cancelWhenGracefulShutdown { try await body() }
}
