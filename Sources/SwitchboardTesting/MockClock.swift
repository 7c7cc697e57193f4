import SwitchboardCore
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A clock that moves only when a test moves it; sleepers wake when it passes
/// their deadline.
public final class MockClock: GatewayClock {
    private struct Sleeper {
        var id: UInt64
        var deadline: Date
        var duration: Duration
        var continuation: CheckedContinuation<Bool, Never>
    }

    private struct State {
        var now: Date
        var sleepers: [Sleeper] = []
        var nextID: UInt64 = 0
    }

    private let state: Mutex<State>

    /// Starts at a fixed, round instant so failures read clearly.
    public init(start: Date = Date(timeIntervalSince1970: 1_800_000_000)) { state = Mutex(State(now: start)) }

    public func now() -> Date { state.withLock { $0.now } }

    /// How many tasks sleep on this clock now (a test waits for this before moving it).
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    /// How many tasks sleep for exactly `duration` now: a test that waits for one
    /// sleeper among others (a periodic service always sleeps on the clock too).
    public func sleeperCount(for duration: Duration) -> Int { state.withLock { $0.sleepers.count { $0.duration == duration } } }

    public func sleep(for duration: Duration) async throws {
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        let woke = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let resumeNow: Bool? = state.withLock { state in
                    if Task.isCancelled { return false }
                    let deadline = state.now.addingTimeInterval(duration.secondsValue)
                    if deadline <= state.now { return true }
                    state.sleepers.append(Sleeper(id: id, deadline: deadline, duration: duration, continuation: continuation))
                    return nil
                }
                if let resumeNow { continuation.resume(returning: resumeNow) }
            }
        } onCancel: {
            let sleeper = state.withLock { state -> Sleeper? in
                guard let index = state.sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return state.sleepers.remove(at: index)
            }
            sleeper?.continuation.resume(returning: false)
        }
        if !woke { throw CancellationError() }
    }

    /// Moves the clock forward and wakes every sleeper whose time has come.
    public func advance(by duration: Duration) {
        let due = state.withLock { state -> [Sleeper] in
            state.now += duration.secondsValue
            let now = state.now
            let due = state.sleepers.filter { $0.deadline <= now }
            state.sleepers.removeAll { $0.deadline <= now }
            return due
        }
        for sleeper in due { sleeper.continuation.resume(returning: true) }
    }
}

extension Duration {
    fileprivate var secondsValue: TimeInterval {
        let (seconds, attos) = components
        return Double(seconds) + Double(attos) / 1e18
    }
}
