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
