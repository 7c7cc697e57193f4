import Synchronization

/// Work that did not finish within its deadline.
public struct DeadlineExceeded: Error, CustomStringConvertible {
    public let limit: Duration
    public var description: String { "no answer within \(limit)" }
}

/// Runs `work` and returns its result, or throws `DeadlineExceeded` once
/// `limit` passes, without waiting for `work` to notice: a statement queued
/// behind a database that is down must not hold a request for the pool's own
/// minute-long retries. `work` goes on in the background (it is cancelled);
/// `abandoned`, if given, runs with the task after a timeout, for cleaning up
/// what it may still do.
public func withDeadline<T: Sendable>(
    _ limit: Duration, abandoned: (@Sendable (Task<T, any Error>) -> Void)? = nil, _ work: @escaping @Sendable () async throws -> T
) async throws -> T {
    let task = Task { try await work() }
    let settled = Once()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let timer = Task {
                try? await LoopTimer.sleep(for: limit)
                guard settled.claim() else { return }
                task.cancel()
                abandoned?(task)
                continuation.resume(throwing: DeadlineExceeded(limit: limit))
            }
            Task {
                let result = await task.result
                guard settled.claim() else { return }
                timer.cancel()
                continuation.resume(with: result)
            }
        }
    } onCancel: {
        task.cancel()
    }
}

/// Lets exactly one of several racers through.
private final class Once: Sendable {
    private let taken = Atomic<Bool>(false)

    /// True for the first caller only.
    func claim() -> Bool { !taken.exchange(true, ordering: .acquiringAndReleasing) }
}
