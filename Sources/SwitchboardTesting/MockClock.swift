import Foundation
import Synchronization
import SwitchboardCore

/// A clock that moves only when a test moves it.
public final class MockClock: GatewayClock {
    private let current: Mutex<Date>

    /// Starts at a fixed, round instant so failures read clearly.
    public init(start: Date = Date(timeIntervalSince1970: 1_800_000_000)) { current = Mutex(start) }

    public func now() -> Date { current.withLock { $0 } }

    /// Moves the clock forward.
    public func advance(by duration: Duration) {
        let (seconds, attos) = duration.components
        current.withLock { $0 += Double(seconds) + Double(attos) / 1e18 }
    }
}
