import NIOCore
import NIOPosix

/// The gateway's waits: a timer on an event loop of NIO's shared group, not
/// `Task.sleep`.
///
/// Why: on Linux `Task.sleep` arms a libdispatch timer and wakes the task from
/// libdispatch's global queues, and libdispatch's worker monitor traps the whole
/// process (SIGILL, no message) when it cannot open `/proc/<tid>/stat` while work
/// waits on those queues, that is, when the process is out of descriptors. A
/// gateway must live through running out of descriptors, so its own code queues
/// nothing on libdispatch (NIO runs its tasks; `ThreadPoolResolver` its lookups).
public enum LoopTimer {
    /// Suspends for `duration` (negative counts as zero); throws
    /// `CancellationError` when the task is cancelled first.
    public static func sleep(for duration: Duration) async throws {
        try Task.checkCancellation()
        let loop = MultiThreadedEventLoopGroup.singleton.any()
        let timer = loop.scheduleTask(in: TimeAmount(saturating: duration)) {}
        try await withTaskCancellationHandler {
            do {
                try await timer.futureResult.get()
            } catch {
                // Cancelled, or the group is shutting down: either way the wait is off.
                throw CancellationError()
            }
        } onCancel: {
            timer.cancel()
        }
    }
}

extension TimeAmount {
    /// A duration in nanoseconds, saturating at the largest `TimeAmount` and at zero.
    public init(saturating duration: Duration) {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0, attoseconds >= 0 else {
            self = .zero
            return
        }
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let (total, carry) = whole.addingReportingOverflow(attoseconds / 1_000_000_000)
        self = overflow || carry ? .nanoseconds(.max) : .nanoseconds(total)
    }
}
