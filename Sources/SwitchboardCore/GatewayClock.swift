#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Where decisions that depend on time (cooldowns, windows, session expiry) read
/// the time, and where waits sleep, so tests move a mock clock instead of
/// sleeping in real time.
public protocol GatewayClock: Sendable {
    /// The current time.
    func now() -> Date
    /// Suspends for `duration` of this clock's time; throws `CancellationError`
    /// when the task is cancelled first.
    func sleep(for duration: Duration) async throws
}

/// The system's wall clock.
public struct SystemClock: GatewayClock {
    public init() {}
    public func now() -> Date { Date() }
    public func sleep(for duration: Duration) async throws { try await LoopTimer.sleep(for: duration) }
}

extension GatewayClock {
    /// Runs `operation` against a timer on this clock: its result, or nil when
    /// `timeout` passed first and the operation, cancelled, gave nothing. An
    /// operation that produced a result as the timer fired still returns it, so
    /// nothing it holds (a slot) is lost.
    public func withTimeout<T: Sendable>(_ timeout: Duration, _ operation: @escaping @Sendable () async -> T?) async -> T? {
        await withTaskGroup(of: T?.self) { group -> T? in
            group.addTask { await operation() }
            group.addTask {
                try? await self.sleep(for: timeout)
                return nil
            }
            var result: T?
            while let next = await group.next() {
                group.cancelAll()
                if let next { result = next }
            }
            return result
        }
    }
}
