import ServiceLifecycle

/// Runs `work` every `interval` (the first time at once when `immediately`)
/// until graceful shutdown, which never waits out an interval: the background
/// services' one loop.
func runPeriodically(every interval: Duration, immediately: Bool, _ work: @escaping @Sendable () async -> Void) async {
    try? await cancelWhenGracefulShutdown {
        if immediately { await work() }
        while !Task.isCancelled {
            try await Task.sleep(for: interval)
            await work()
        }
    }
}
