import NIOCore
import SwitchboardCore
import Testing

/// The gateway's waits run on NIO timers: they end, they stop when their task
/// is cancelled, and no duration from outside traps on its way to nanoseconds.
@Suite struct LoopTimerTests {
    @Test func durationsBecomeNanosecondsAndSaturate() {
        #expect(TimeAmount(saturating: .milliseconds(1500)) == .nanoseconds(1_500_000_000))
        #expect(TimeAmount(saturating: .nanoseconds(7)) == .nanoseconds(7))
        #expect(TimeAmount(saturating: .zero) == .zero)
        #expect(TimeAmount(saturating: .seconds(Int64.max)) == .nanoseconds(.max))
        #expect(TimeAmount(saturating: .seconds(9_223_372_037)) == .nanoseconds(.max))
        #expect(TimeAmount(saturating: .seconds(9_223_372_036)) == .nanoseconds(9_223_372_036_000_000_000))
        #expect(TimeAmount(saturating: .seconds(-5)) == .zero)
        #expect(TimeAmount(saturating: .milliseconds(-1)) == .zero)
    }

    @Test func aShortSleepEnds() async throws {
        try await LoopTimer.sleep(for: .milliseconds(1))
        try await LoopTimer.sleep(for: .zero)
        try await LoopTimer.sleep(for: .seconds(-1))
    }

    @Test(.timeLimit(.minutes(1))) func cancellingTheTaskEndsTheSleep() async {
        let (started, starting) = AsyncStream.makeStream(of: Void.self)
        let sleeper = Task {
            starting.yield()
            try await LoopTimer.sleep(for: .seconds(3600))
        }
        for await _ in started { break }
        sleeper.cancel()
        await #expect(throws: CancellationError.self) { try await sleeper.value }
    }

    @Test(.timeLimit(.minutes(1))) func anAlreadyCancelledTaskDoesNotSleep() async {
        let sleeper = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await LoopTimer.sleep(for: .seconds(3600))
        }
        await #expect(throws: CancellationError.self) { try await sleeper.value }
    }
}
