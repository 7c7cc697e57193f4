/// Waits for something that may never come, for at most `timeout`: runs
/// `operation` against a timer, cancels the loser, and hands a result that
/// arrived too late to `discard` so nothing it holds (a slot) is lost.
enum TimedWait {
    static func run<T: Sendable>(
        timeout: Duration, discard: @escaping @Sendable (T) -> Void, _ operation: @escaping @Sendable () async -> T?
    ) async -> T? {
        await withTaskGroup(of: T?.self) { group -> T? in
            group.addTask { await operation() }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            var result: T?
            while let next = await group.next() {
                group.cancelAll()
                if let next {
                    if result == nil { result = next } else { discard(next) }
                }
            }
            return result
        }
    }
}

/// Parks a task in a queue until someone resumes it, cancellation-safe: the one
/// shape both the account pool's and the key limiter's queues share.
enum QueuedWait {
    /// `enqueue` runs under the caller's lock with the continuation: it answers
    /// at once (true: granted, false: refused) or returns nil having queued it.
    /// `dequeue` removes it again on cancellation and returns it if it was still
    /// queued. A task already cancelled is never queued.
    static func park(
        enqueue: (CheckedContinuation<Bool, Never>) -> Bool?,
        dequeue: @Sendable () -> CheckedContinuation<Bool, Never>?
    ) async -> Bool {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                if let immediate = enqueue(continuation) { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            dequeue()?.resume(returning: false)
        }
    }
}
